import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it as vitestIt } from 'vitest';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { bicubicWeights, cubicKernel, resizeBicubic } from './bicubic-resize';

function row(m: Float64Array, inSize: number, i: number): number[] {
  return [...m.slice(i * inSize, (i + 1) * inSize)];
}

describe('bicubic weights', () => {
  vitestIt('Keys cubic: interpolating at integers, a sets the lobes', () => {
    expect(cubicKernel(0, -0.5)).toBe(1);
    expect(cubicKernel(1, -0.5)).toBeCloseTo(0, 15);
    expect(cubicKernel(2, -0.75)).toBeCloseTo(0, 15);
    expect(cubicKernel(0.5, -0.5)).toBeCloseTo(0.5625, 12);
    expect(cubicKernel(1.5, -0.5)).toBeCloseTo(-0.0625, 12);
    expect(cubicKernel(-1.5, -0.75)).toBeCloseTo(-0.09375, 12);
  });

  vitestIt('is the identity when the size does not change (both kernels)', () => {
    for (const antialias of [true, false]) {
      const m = bicubicWeights(5, 5, { antialias });
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(m[i * 5 + j]).toBeCloseTo(i === j ? 1 : 0, 14);
    }
  });

  vitestIt('every row sums to 1 (up and down, both kernels, size and scale-factor paths)', () => {
    const cases: [number, number, number | undefined][] = [
      [4, 3, undefined],
      [4, 6, undefined],
      [37, 16, undefined],
      [37, 36, 37 / 36.1],
      [3, 11, undefined],
    ];
    for (const [a, b, scale] of cases) {
      for (const antialias of [true, false]) {
        const m = bicubicWeights(a, b, { antialias, ...(scale ? { scale } : {}) });
        for (let i = 0; i < b; i++) expect(row(m, a, i).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
      }
    }
  });

  vitestIt('classic kernel (a = -0.75, clamped border) on [0, 1] -> 4', () => {
    // Output 1 samples at 0.25: taps K(1.25), K(0.25), K(0.75), K(1.75) at inputs -1, 0, 1, 2 -> clamped to
    // 0, 0, 1, 1, so input 1 gets K(0.75) + K(1.75) = 0.26171875 - 0.03515625.
    const m = bicubicWeights(2, 4, { antialias: false });
    const out = [0, 1, 2, 3].map((i) => row(m, 2, i)[1]!);
    expect(out[0]).toBeCloseTo(-0.10546875, 12);
    expect(out[1]).toBeCloseTo(0.2265625, 12);
    expect(out[2]).toBeCloseTo(0.7734375, 12);
    expect(out[3]).toBeCloseTo(1.10546875, 12);
  });

  vitestIt('antialiased kernel widens its support by the scale when downsampling and renormalises at borders', () => {
    // 2 -> 1: centre 1, both inputs at distance 0.5 input px = 0.25 output px -> equal weights.
    expect(row(bicubicWeights(2, 1, { antialias: true }), 2, 0)).toEqual([0.5, 0.5]);
    // 8 -> 2: scale 4, support 8: each output sees all 8 inputs, symmetric about its centre.
    const m = bicubicWeights(8, 2, { antialias: true });
    expect(row(m, 8, 0).every((w) => w !== 0)).toBe(true);
    const r0 = row(m, 8, 0);
    const r1 = row(m, 8, 1);
    for (let j = 0; j < 8; j++) expect(r0[j]).toBeCloseTo(r1[7 - j]!, 14);
    // Upsampling 4 -> 6: taps inside the image only, no negative index clamping.
    const up = row(bicubicWeights(4, 6, { antialias: true }), 4, 0);
    const k0 = cubicKernel(0.5 - (2 / 3) * 0.5, -0.5);
    const k1 = cubicKernel(1.5 - (2 / 3) * 0.5, -0.5);
    expect(up[0]).toBeCloseTo(k0 / (k0 + k1), 12);
    expect(up[1]).toBeCloseTo(k1 / (k0 + k1), 12);
    expect(up[2]).toBe(0);
  });

  vitestIt('rejects bad sizes and scales', () => {
    expect(() => bicubicWeights(0, 3, { antialias: true })).toThrow(/inSize must be a positive integer/);
    expect(() => bicubicWeights(3, 2, { antialias: true, scale: -1 })).toThrow(/scale must be a positive/);
  });
});

describeBackends(
  'resizeBicubic',
  ({ it }) => {
    it('equals the separable product of the 1-D weights, per channel', async () => {
      const [h, w, c, oh, ow] = [4, 5, 3, 3, 7];
      const data = Float32Array.from({ length: h * w * c }, (_, i) => Math.sin(i * 0.7) + (i % 5) * 0.1);
      const x = tf.tensor3d(data, [h, w, c]);
      const y = resizeBicubic(x, oh, ow, { antialias: true });
      const wh = bicubicWeights(h, oh, { antialias: true });
      const ww = bicubicWeights(w, ow, { antialias: true });
      const expected = new Float64Array(oh * ow * c);
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++)
          for (let k = 0; k < c; k++) {
            let s = 0;
            for (let a = 0; a < h; a++) for (let b = 0; b < w; b++) s += wh[i * h + a]! * ww[j * w + b]! * data[(a * w + b) * c + k]!;
            expected[(i * ow + j) * c + k] = s;
          }
      expect(y.shape).toEqual([oh, ow, c]);
      await expectClose(y, expected, { atol: 1e-6, rtol: 1e-6 });
      tf.dispose([x, y]);
    });

    it('keeps a constant image constant and an unchanged axis unchanged', async () => {
      const x = tf.fill([6, 6, 2], 0.25) as tf.Tensor3D;
      const y = resizeBicubic(x, 4, 9, { antialias: true });
      await expectClose(y, new Float32Array(4 * 9 * 2).fill(0.25), { atol: 1e-7 });
      const z = tf.tensor3d(
        Float32Array.from({ length: 24 }, (_, i) => i),
        [4, 3, 2],
      );
      // Scale-factor path with an unchanged height: the reference copies that axis whatever the factor.
      const zr = resizeBicubic(z, 4, 5, { antialias: true, scales: [4 / 4.1, 3 / 5.1] });
      const rows = tf.slice(zr, [0, 0, 0], [4, 1, 2]);
      const ref = resizeBicubic(z, 4, 5, { antialias: true, scales: [1, 3 / 5.1] });
      await expectClose(zr, ref, { atol: 1e-6 });
      tf.dispose([x, y, z, zr, rows, ref]);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
