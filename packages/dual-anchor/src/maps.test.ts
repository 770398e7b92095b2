import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Rng, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak, readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import { anomalyFromProbabilities, gaussianBlur, gaussianBlurMatrix, gaussianKernel1d, reflectIndex, separableLinear, upsampleBilinear } from './maps';

const fixtureOutputs = async (file: string) => (await readFixture(join(repoFixturesDir(), 'clip/anomalyclip-tiny'))).tensors(file);
const tensorOf = (h: HostTensor) => tf.tensor(h.data as Float32Array, h.shape);

describeBackends(
  'maps',
  ({ it }) => {
    it("matches scipy's gaussian_filter(sigma 4, reflect) on AnomalyCLIP's maps at both sizes", async () => {
      for (const file of ['outputs.safetensors', 'outputs_interp.safetensors']) {
        const out = await fixtureOutputs(file);
        const raw = tensorOf(out.get('anomaly_map')!) as tf.Tensor3D;
        const blurred = gaussianBlur(raw, 4, 4);
        await expectClose(blurred, out.get('anomaly_map_smoothed')!, { atol: 1e-5, rtol: 1e-5, name: `${file} anomaly_map_smoothed` });
        tf.dispose([raw, blurred]);
      }
    });

    it('the tap passes equal the dense reflect matrices on non-square maps', async () => {
      const rng = new Rng(3);
      const data = Float32Array.from({ length: 2 * 40 * 57 }, () => rng.uniform() * 6 - 3);
      const x = tf.tensor3d(data, [2, 40, 57]);
      const dense = tf.tidy(() => separableLinear(x, gaussianBlurMatrix(40, 2.5, 4), gaussianBlurMatrix(57, 2.5, 4)));
      const taps = gaussianBlur(x, 2.5, 4);
      await expectClose(
        taps,
        { dtype: 'float32', shape: [2, 40, 57], data: (await dense.data()) as Float32Array },
        { atol: 1e-6, rtol: 1e-5, name: 'taps vs dense' },
      );
      tf.dispose([x, dense, taps]);
    });

    it('upsamples like torch bilinear (align_corners=False) on the similarity maps of the fixture', async () => {
      for (const file of ['outputs.safetensors', 'outputs_interp.safetensors']) {
        const out = await fixtureOutputs(file);
        const sim = out.get('similarity.1')!; // [B, 1 + g*g, 2]
        const [b, n] = sim.shape as [number, number];
        const g = Math.round(Math.sqrt(n - 1));
        const expected = out.get('similarity_map.1')!;
        const up = tf.tidy(() => {
          const grid = tf.reshape(tf.slice(tensorOf(sim), [0, 1, 0], [b, n - 1, 2]), [b, g, g, 2]) as tf.Tensor4D;
          return upsampleBilinear(grid, [expected.shape[1]!, expected.shape[2]!]);
        });
        await expectClose(up, expected, { atol: 1e-6, rtol: 1e-5, name: `${file} similarity_map.1` });
        const layer = anomalyFromProbabilities(up);
        await expectClose(layer, out.get('anomaly_map_layer.1')!, { atol: 1e-6, rtol: 1e-5, name: `${file} anomaly_map_layer.1` });
        tf.dispose([up, layer]);
      }
    });

    it('keeps constants constant and mass per row (blur rows sum to 1), for kernels wider than the signal too', async () => {
      for (const n of [1, 3, 7, 40]) {
        const m = gaussianBlurMatrix(n, 4, 4);
        const sums = tf.sum(m, 1);
        await expectClose(sums, new Float32Array(n).fill(1), { atol: 1e-6, name: `rows of the ${n}-blur` });
        tf.dispose([m, sums]);
      }
      const k = gaussianKernel1d(4, 4);
      expect(k.length).toBe(33);
      expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect([-1, -2, 5, 6, 11, 12].map((i) => reflectIndex(i, 6))).toEqual([0, 1, 5, 5, 0, 0]);
      const x = new Rng(1).tensorNormal([2, 5, 7]) as tf.Tensor3D;
      const id = tf.tidy(() => separableLinear(x, tf.eye(5) as tf.Tensor2D, tf.eye(7) as tf.Tensor2D));
      await expectClose(id, x, { atol: 1e-6, name: 'identity map' });
      tf.dispose([x, id]);
      await expectNoLeak(() => tf.tidy(() => void gaussianBlur(tf.ones([1, 9, 9]) as tf.Tensor3D, 2)), { name: 'gaussianBlur' });
    });

    it('names the shapes when the matrices do not fit', () => {
      const x = tf.zeros([1, 4, 4]) as tf.Tensor3D;
      expect(() => separableLinear(x, tf.zeros([8, 3]) as tf.Tensor2D, tf.zeros([8, 4]) as tf.Tensor2D)).toThrow(/expected \[H, 4\] and \[W, 4\]/);
      x.dispose();
      expect(() => gaussianKernel1d(0)).toThrow(/sigma must be > 0, found 0/);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
