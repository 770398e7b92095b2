import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './graph-builder';
import { loadOnnxRuntime } from './ort-node';

const ort = loadOnnxRuntime();

/** A model of `depth` [rows, n] x [n, n] products with a seeded weight: y = tanh(x W)^depth. */
function chain(n: number, depth: number): Uint8Array {
  const g = new GraphBuilder('chain');
  const w = new Float32Array(n * n);
  let s = 1;
  for (let i = 0; i < w.length; i++) {
    s = (s * 16807) % 2147483647;
    w[i] = (s / 2147483647 - 0.5) / Math.sqrt(n);
  }
  const weight = g.weight('w', [n, n], w);
  let x = g.input('x', ['rows', n]);
  for (let i = 0; i < depth; i++) x = g.op('Tanh', [g.op('MatMul', [x, weight])]);
  g.output('y', x, ['rows', n]);
  return g.toModel();
}

describe.skipIf(!ort.ok)('onnxruntime-node sessions through the public API, each in a thread of its own', () => {
  const runtime = ort.ok ? ort.runtime : (undefined as never);

  it('leaves the event loop free while a run computes: a 5 ms timer keeps firing', async () => {
    const session = await runtime.createSession(chain(1024, 8), { threads: 1 });
    try {
      const x = { data: new Float32Array(512 * 1024).fill(0.01), dims: [512, 1024] };
      await session.run({ x }, ['y']); // warm-up: the first run allocates
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const t0 = performance.now();
      await session.run({ x }, ['y']);
      const ms = performance.now() - t0;
      clearInterval(timer);
      // ~8.6 GFLOP on one thread; a run that blocked the loop would let at most one tick through
      expect(ms).toBeGreaterThan(20);
      expect(ticks, `${ticks} ticks in ${ms.toFixed(0)} ms`).toBeGreaterThanOrEqual(Math.min(4, Math.floor(ms / 20)));
    } finally {
      await session.dispose();
    }
  });

  it('queues concurrent runs and gives each its own outputs; rejects after dispose and names a bad input', async () => {
    const session = await runtime.createSession(chain(8, 2), { threads: 1 });
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y']);
    const inputs = [0.1, 0.2, 0.3].map((v) => ({ data: new Float32Array(16).fill(v), dims: [2, 8] }));
    const alone: Float32Array[] = [];
    for (const x of inputs) alone.push((await session.run({ x }, ['y']))['y']!.data);
    const together = await Promise.all(inputs.map((x) => session.run({ x }, ['y'])));
    together.forEach((r, i) => {
      expect(r['y']!.dims).toEqual([2, 8]);
      expect([...r['y']!.data]).toEqual([...alone[i]!]);
    });
    await expect(session.run({ x: { data: new Float32Array(3), dims: [1, 3] } }, ['y'])).rejects.toThrow(/x|dimension|shape/i);
    // the session still runs after a failed run
    expect([...(await session.run({ x: inputs[0]! }, ['y']))['y']!.data]).toEqual([...alone[0]!]);
    await session.dispose();
    await expect(session.run({ x: inputs[0]! }, ['y'])).rejects.toThrow(/used after dispose/);
  });

  it('refuses a model that is not ONNX, naming the reason', async () => {
    await expect(runtime.createSession(new Uint8Array([1, 2, 3, 4]), { threads: 1 })).rejects.toThrow(/^onnx session on cpu: /);
  });
});
