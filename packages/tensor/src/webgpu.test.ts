import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from './testing';
import { webgpuDeviceInfo, WEBGPU_REQUESTED_LIMITS, setStorageBindingLimit, storageBindingLimit } from './webgpu';
import { DeviceLimitError } from './errors';

// These run where a WebGPU adapter exists (lavapipe in CI) and are reported as skipped, with the reason, elsewhere.
describe('webgpu device and kernel corrections', () => {
  let unavailable: string | null = null;
  beforeAll(async () => {
    const r = await useBackend('webgpu');
    unavailable = r.ok ? null : r.reason;
  });
  const gpuIt = (title: string, fn: () => Promise<void>, timeout?: number) =>
    it(
      title,
      async (ctx) => {
        if (unavailable !== null) return ctx.skip(`webgpu unavailable: ${unavailable}`);
        await tf.setBackend('webgpu');
        await fn();
      },
      timeout,
    );

  gpuIt('the device has the limits the adapter offers, not WebGPU defaults', async () => {
    const info = webgpuDeviceInfo();
    expect(info).toBeDefined();
    const adapter = await (
      globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<{ limits: Record<string, number>; features: { has(f: string): boolean } }> } } }
    ).navigator.gpu.requestAdapter();
    for (const name of WEBGPU_REQUESTED_LIMITS) expect(info!.limits[name]).toBe(adapter.limits[name]);
    const device = (tf.backend() as unknown as { device: { limits: Record<string, number> } }).device;
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(adapter.limits.maxStorageBuffersPerShaderStage);
    expect(info!.shaderF16).toBe(adapter.features.has('shader-f16'));
  });

  // The stock kernel fails WGSL validation for int32 (tfjs #8638) and leaves garbage. Sizes are above tfjs's
  // CPU hand-off threshold (1000 elements), so the GPU kernel runs.
  gpuIt('transposes int32 tensors of rank 2 to 4 and bool masks exactly', async () => {
    const before = tf.memory().numTensors;
    const cases: [number[], number[]][] = [
      [
        [40, 30],
        [1, 0],
      ],
      [
        [8, 16, 12],
        [2, 0, 1],
      ],
      [
        [4, 6, 8, 10],
        [3, 1, 0, 2],
      ],
    ];
    for (const [shape, perm] of cases) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(
        Int32Array.from({ length: size }, (_, i) => 3 * i - 1000),
        shape,
        'int32',
      );
      const y = tf.transpose(x, perm);
      expect(y.dtype).toBe('int32');
      expect(Array.from(await y.data())).toEqual(await expectedTranspose(x, perm));
      tf.dispose([x, y]);
    }
    const mask = tf.tensor2d(
      Int32Array.from({ length: 1200 }, (_, i) => (i % 7 === 0 ? 1 : 0)),
      [40, 30],
      'bool',
    );
    const maskT = tf.transpose(mask);
    expect(maskT.dtype).toBe('bool');
    expect(Array.from(await maskT.data())).toEqual(await expectedTranspose(mask, [1, 0]));
    tf.dispose([mask, maskT]);
    expect(tf.memory().numTensors).toBe(before);
  });

  // The stock Cast relabels the int32 buffer as float32; the stock Transpose then declares it i32 and fails.
  gpuIt('a float32 cast of int32 data (one-hot masks) transposes and computes as float32', async () => {
    const before = tf.memory().numTensors;
    const idx = tf.tensor2d(
      Int32Array.from({ length: 128 }, (_, i) => (i * 5) % 8),
      [8, 16],
      'int32',
    );
    const hot = tf.oneHot(idx, 8, 1, 0, 'int32');
    const f = tf.cast(hot, 'float32');
    const t = tf.transpose(f, [0, 2, 1]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual(await expectedTranspose(hot, [0, 2, 1]));
    const scaled = tf.mul(f, 0.5);
    expect(Array.from(await scaled.data())).toEqual(Array.from(await hot.data()).map((v) => v * 0.5));
    tf.dispose([idx, hot, f, t, scaled]);
    expect(tf.memory().numTensors).toBe(before);
  });

  // The stock reductions transpose non-innermost axes inside the kernel with the broken shader.
  gpuIt('reduces int32 and bool tensors over outer axes', async () => {
    const before = tf.memory().numTensors;
    const shape = [12, 10, 11];
    const vals = Int32Array.from({ length: 1320 }, (_, i) => ((i * 37) % 101) - 50);
    const x = tf.tensor3d(vals, shape as [number, number, number], 'int32');
    const xf = tf.tensor3d(Float32Array.from(vals), shape as [number, number, number]);
    const mask = tf.greater(x, 0);
    const checks: [tf.Tensor, tf.Tensor][] = [
      [tf.sum(x, 0), tf.sum(xf, 0)],
      [tf.sum(x, [0, 2], true), tf.sum(xf, [0, 2], true)],
      [tf.max(x, 1), tf.max(xf, 1)],
      [tf.min(x, [0, 1]), tf.min(xf, [0, 1])],
      [tf.argMax(x, 0), tf.argMax(xf, 0)],
      [tf.argMin(x, 1), tf.argMin(xf, 1)],
      [tf.cumsum(x, 0), tf.cumsum(xf, 0)],
      [tf.any(mask, 0), tf.tidy(() => tf.greater(tf.max(xf, 0), 0))],
      [tf.all(mask, 1), tf.tidy(() => tf.greater(tf.min(xf, 1), 0))],
    ];
    for (const [got, want] of checks) {
      expect(got.shape).toEqual(want.shape);
      expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
    }
    tf.dispose([x, xf, mask, ...checks.flat()]);
    expect(tf.memory().numTensors).toBe(before);
  });

  // With more inputs than storage buffers per stage minus the output, the stock kernel fails validation.
  gpuIt('adds more tensors than a shader stage has storage buffers', async () => {
    const limit = webgpuDeviceInfo()!.limits.maxStorageBuffersPerShaderStage;
    const n = 2 * limit + 3;
    const xs = Array.from({ length: n }, (_, i) => tf.fill([3, 5], i + 1));
    const before = tf.memory().numTensors;
    const s = tf.addN(xs);
    expect(Array.from(await s.data())).toEqual(new Array(15).fill((n * (n + 1)) / 2));
    expect(tf.memory().numTensors - before).toBe(1);
    tf.dispose([s, ...xs]);
  });

  // The stock kernel binds the whole table; above maxStorageBufferBindingSize the bind group is invalid and
  // the result is zeros. The table here is just over the device's limit (lavapipe: 128 MiB).
  gpuIt(
    'gathers rows of a table larger than one storage binding, and a kernel that would bind it throws DeviceLimitError',
    async () => {
      const limit = webgpuDeviceInfo()!.limits.maxStorageBufferBindingSize;
      expect(storageBindingLimit()).toBe(limit);
      const width = 1024;
      const rows = Math.floor(limit / (4 * width)) + 8;
      const values = new Float32Array(rows * width);
      for (let r = 0; r < rows; r++) values.fill(r + 0.5, r * width, r * width + 4).fill(-r, r * width + width - 4, (r + 1) * width);
      const table = tf.tensor2d(values, [rows, width]);
      const before = tf.memory().numTensors;
      const ids = [0, rows - 1, rows - 8, 5, rows - 9, 12345];
      const picked = tf.gather(table, tf.tensor2d(ids, [2, 3], 'int32'));
      expect(picked.shape).toEqual([2, 3, width]);
      const got = await picked.data();
      ids.forEach((id, j) => {
        expect(got[j * width]).toBe(id + 0.5);
        expect(got[j * width + width - 1]).toBe(-id);
        expect(got[j * width + 100]).toBe(0);
      });
      expect(tf.memory().numTensors - before).toBe(2);
      expect(() => tf.sum(table)).toThrow(DeviceLimitError);
      expect(() => tf.sum(table)).toThrow(/ReduceProgram input 0 \[\d+, 1024\] takes \d+ bytes.*maxStorageBufferBindingSize/);
      tf.dispose([table, picked]);
    },
    120_000,
  );

  gpuIt('gathers from row blocks at a lowered binding limit: ids in every block, repeated, in any order', async () => {
    const [rows, width] = [37, 8];
    const values = Float32Array.from({ length: rows * width }, (_, i) => Math.floor(i / width) * 100 + (i % width));
    const table = tf.tensor2d(values, [rows, width]);
    const ids = [36, 0, 5, 4, 5, 35, 10, 9, 20, 0, 36, 11];
    try {
      // 5 rows per block: 8 blocks, the last holding 2 rows
      setStorageBindingLimit(5 * 4 * width);
      const before = tf.memory().numTensors;
      const idT = tf.tensor1d(ids, 'int32');
      const picked = tf.gather(table, idT);
      expect(Array.from(await picked.data())).toEqual(ids.flatMap((id) => Array.from(values.subarray(id * width, (id + 1) * width))));
      expect(tf.memory().numTensors - before).toBe(2);
      tf.dispose([idT, picked]);
    } finally {
      setStorageBindingLimit(null);
    }
    expect(() => setStorageBindingLimit(0)).toThrow(/integer >= 4/);
    table.dispose();
  });

  gpuIt('the corrected kernels keep gradients: d/dx sum(addN(x, x, ..., x)) = n', async () => {
    const x = tf.tensor1d([1, 2, 3]);
    const n = 20;
    const g = tf.grad((a: tf.Tensor) => tf.addN(new Array(n).fill(a)).sum())(x);
    expect(Array.from(await g.data())).toEqual([n, n, n]);
    tf.dispose([x, g]);
  });
});

/** The transpose computed on the host from the tensor's values. */
async function expectedTranspose(x: tf.Tensor, perm: number[]): Promise<number[]> {
  const v = Array.from(await x.data());
  const shape = x.shape;
  const outShape = perm.map((p) => shape[p]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out: number[] = [];
  const idx = new Array(outShape.length).fill(0);
  const total = v.length;
  for (let k = 0; k < total; k++) {
    let src = 0;
    for (let d = 0; d < outShape.length; d++) src += idx[d] * strides[perm[d]!]!;
    out.push(v[src]!);
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
