import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readFixture, repoFixturesDir, useBackend } from '@hgm/tensor/testing';
import {
  ParameterStore,
  SafetensorsReader,
  StateDictError,
  float16ToFloat32,
  float32ToFloat16,
  bfloat16ToFloat32,
  float32ToBfloat16,
  type HostTensor,
} from '@hgm/tensor';
import { convertSource } from './convert';
import { findConversion } from './conversions';
import { loadWeights } from './load-weights';
import { encodeSafetensorsAs } from './safetensors-encode';
import { hostMapSource, readAllTensors } from './tensor-source';

async function fixtureWeights(folder: string): Promise<Map<string, HostTensor>> {
  return (await readFixture(join(repoFixturesDir(), folder))).tensors('weights.safetensors');
}

/** A store shaped like a state dict, filled with zeros. */
function zeroStore(shapes: Map<string, HostTensor>): ParameterStore {
  const store = new ParameterStore();
  for (const [k, t] of shapes) store.add(k, tf.zeros(t.shape, t.dtype === 'int32' ? 'int32' : 'float32'), { trainable: false });
  return store;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

async function storeValues(store: ParameterStore): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const p of store.entries()) out.set(p.name, (await p.variable.data()) as Float32Array);
  return out;
}

beforeAll(async () => {
  const r = await useBackend('cpu');
  if (!r.ok) throw new Error(r.reason);
});

describe('loadWeights', () => {
  it('loads a Hugging Face CLIP checkpoint into an openai-named store (detected both sides)', async () => {
    const openai = await fixtureWeights('clip/clip-tiny');
    const hfBytes = encodeSafetensorsAs(await readAllTensors(convertSource(hostMapSource(openai), findConversion('openai', 'hf-clip'))), 'F32');
    const reader = await SafetensorsReader.fromBytes(hfBytes, 'clip-hf.safetensors');
    const store = zeroStore(openai);
    const report = await loadWeights(store, reader);
    expect(report).toMatchObject({ from: 'hf-clip', to: 'openai', prefix: '', missing: [], unexpected: [], mismatched: [] });
    expect(report.loaded.length).toBe(openai.size);
    const values = await storeValues(store);
    for (const [k, t] of openai) expect(sameBits(values.get(k)!, t.data as Float32Array), k).toBe(true);
    store.dispose();
  });

  it('lists every missing, unexpected and mis-shaped key at once and changes nothing', async () => {
    const official = await fixtureWeights('vit/dinov2-tiny');
    const hf = await readAllTensors(convertSource(hostMapSource(official), findConversion('dinov2', 'hf-dinov2')));
    hf.delete('encoder.layer.1.layer_scale2.lambda1');
    hf.set('classifier.weight', { dtype: 'float32', shape: [10, 128], data: new Float32Array(1280) });
    hf.set('layernorm.bias', { dtype: 'float32', shape: [65], data: new Float32Array(65) });
    hf.set('embeddings.cls_token', { dtype: 'int32', shape: [1, 1, 64], data: new Int32Array(64) });
    const store = zeroStore(official);
    const err = await loadWeights(store, hostMapSource(hf, 'dinov2-hf.safetensors')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDictError);
    const problems = (err as StateDictError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        { kind: 'missing', key: 'blocks.1.ls2.gamma', expected: [64] },
        { kind: 'unexpected', key: 'classifier.weight', found: [10, 128] },
        { kind: 'shape-mismatch', key: 'norm.bias', expected: [64], found: [65] },
        { kind: 'dtype-mismatch', key: 'cls_token' },
      ]),
    );
    expect(problems.length).toBe(4);
    const msg = (err as Error).message;
    expect(msg).toContain('dinov2-hf.safetensors (hf-dinov2 -> dinov2)');
    expect(msg).toContain('missing key blocks.1.ls2.gamma (expected shape [64])');
    expect(msg).toContain('tensor norm.bias has shape [65], expected [64]');
    expect([...(await storeValues(store)).values()].every((v) => v.every((x) => x === 0))).toBe(true);

    const lenient = await loadWeights(store, hostMapSource(hf), { strict: false, ignore: ['^classifier\\.'] });
    expect(lenient.missing).toEqual(['blocks.1.ls2.gamma']);
    expect(lenient.unexpected).toEqual([]);
    expect(lenient.loaded.length).toBe(official.size - 3);
    store.dispose();
  });

  it('loads only the selected parameters and does not count the others as unexpected', async () => {
    const openai = await fixtureWeights('clip/clip-tiny');
    const store = zeroStore(openai);
    store.add('prompt_learner.ctx_pos', tf.zeros([1, 4, 48]), { trainable: true });
    const report = await loadWeights(store, hostMapSource(openai), { only: (n) => !n.startsWith('prompt_learner.') });
    expect(report.loaded.length).toBe(openai.size);
    expect(report.missing).toEqual([]);
    store.dispose();
  });

  const halfCases = [
    { dtype: 'F16' as const, round: (x: number) => float16ToFloat32(float32ToFloat16(x)), relError: 2 ** -11, absError: 2 ** -25 },
    { dtype: 'BF16' as const, round: (x: number) => bfloat16ToFloat32(float32ToBfloat16(x)), relError: 2 ** -8, absError: 0 },
  ];
  for (const c of halfCases) {
    it(`loads ${c.dtype} checkpoints (official and Hugging Face keys) within the rounding error`, async () => {
      for (const [folder, convertTo] of [
        ['vit/dinov3-tiny', 'hf-dinov3'],
        ['vit/dinov2-tiny', undefined],
      ] as const) {
        const official = await fixtureWeights(folder);
        const tensors = convertTo ? await readAllTensors(convertSource(hostMapSource(official), findConversion('dinov3', convertTo))) : official;
        const bytes = encodeSafetensorsAs(tensors, c.dtype);
        const reader = await SafetensorsReader.fromBytes(bytes, `${folder}-${c.dtype}.safetensors`);
        expect(reader.info(reader.tensorNames()[0]!).dtype).toBe(c.dtype);
        const store = zeroStore(official);
        await loadWeights(store, reader, { context: { numHeads: 4 } });
        const values = await storeValues(store);
        let worst = 0;
        const faults: string[] = [];
        for (const [k, t] of official) {
          const got = values.get(k)!;
          const mask = k.endsWith('qkv.bias') && convertTo ? official.get(k.replace('bias', 'bias_mask'))!.data : undefined;
          for (let i = 0; i < t.data.length; i++) {
            const want = mask && mask[i] === 0 ? 0 : t.data[i]!;
            // RoPE periods are rebuilt from the head count, in float64 rounded once to float32.
            const expected = k === 'rope_embed.periods' ? Math.fround(want) : c.round(want);
            const tolerance = k === 'rope_embed.periods' ? 1e-6 * want : 0;
            if (Math.abs(got[i]! - expected) > tolerance) faults.push(`${k}[${i}]: ${got[i]} is not the ${c.dtype} rounding ${expected} of ${want}`);
            const err = Math.abs(got[i]! - want);
            if (err > Math.max(Math.abs(want) * c.relError, c.absError) + tolerance)
              faults.push(`${k}[${i}]: error ${err} of ${want} is above the ${c.dtype} bound`);
            if (Math.abs(want) >= 2 ** -14) worst = Math.max(worst, err / Math.abs(want));
          }
        }
        expect(faults.slice(0, 5)).toEqual([]);
        // the rounding really happened, and stayed within half an ulp of the format
        expect(worst).toBeGreaterThan(c.relError / 4);
        expect(worst).toBeLessThanOrEqual(c.relError);
        store.dispose();
      }
    });
  }
});
