import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './graph-builder';

/** y = x @ w + b with w given as values or made on demand. */
function linear(lazy: boolean, counts: { w: number }): GraphBuilder {
  const w = Float32Array.from({ length: 32 * 16 }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: 16 }, (_, i) => i / 16);
  const g = new GraphBuilder('linear');
  g.input('x', ['batch', 32]);
  const wName = g.weight(
    'w',
    [32, 16],
    lazy
      ? () => {
          counts.w++;
          return w.slice();
        }
      : w,
  );
  g.output('y', g.linear('x', wName, g.weight('b', [16], b)), ['batch', 16]);
  return g;
}

function externalWrites(g: GraphBuilder): { model: Uint8Array; data: Uint8Array } {
  const chunks: Uint8Array[] = [];
  const model = g.toModel({ kind: 'external', location: 'linear.onnx.data', write: (c) => chunks.push(c.slice()), alignment: 64 });
  return { model, data: Uint8Array.from(chunks.flatMap((c) => [...c])) };
}

describe('GraphBuilder lazy weights', () => {
  it('write the bytes of given values, inline and external, making each weight once per write', () => {
    const counts = { w: 0 };
    const lazy = linear(true, counts);
    const eager = linear(false, { w: 0 });
    expect(counts.w).toBe(0);
    expect(lazy.weightBytes()).toBe(eager.weightBytes());
    expect(lazy.toModel()).toEqual(eager.toModel());
    expect(counts.w).toBe(1);
    const a = externalWrites(lazy);
    const b = externalWrites(eager);
    expect(a.model).toEqual(b.model);
    expect(a.data).toEqual(b.data);
    expect(a.data.byteLength).toBeGreaterThanOrEqual(32 * 16 * 4);
    expect(counts.w).toBe(2);
  });

  it('refuse values that do not fit the dims, naming the weight', () => {
    const g = new GraphBuilder('bad');
    g.input('x', ['batch', 4]);
    g.output(
      'y',
      g.add(
        'x',
        g.weight('w.bias', [4], () => new Float32Array(3)),
      ),
      ['batch', 4],
    );
    expect(() => g.toModel()).toThrow('GraphBuilder bad: weight w.bias produced 3 values, dims [4] need 4');
    expect(() => new GraphBuilder('eager').weight('w', [2, 2], new Float32Array(3))).toThrow('GraphBuilder eager: weight w has 3 values, dims [2, 2] need 4');
  });
});
