import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import { bfloat16ToFloat32, float32ToBfloat16, type HostTensor } from '@hgm/tensor';
import { convertSource } from './convert';
import { findConversion } from './conversions';
import { detectKeyFormat } from './key-formats';
import { prepareSource } from './load-weights';
import { hostMapSource, readAllTensors } from './tensor-source';
import { ropePeriods, transpose2d } from './tensor-transforms';

async function fixtureWeights(folder: string): Promise<Map<string, HostTensor>> {
  return (await readFixture(join(repoFixturesDir(), folder))).tensors('weights.safetensors');
}

async function convert(map: Map<string, HostTensor>, from: Parameters<typeof findConversion>[0], to: Parameters<typeof findConversion>[1], context = {}) {
  return readAllTensors(convertSource(hostMapSource(map, `${from} weights`), findConversion(from, to), context));
}

function rows(t: HostTensor, start: number, end: number): Float32Array {
  const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return (t.data as Float32Array).slice(start * width, end * width);
}

function expectBits(actual: HostTensor['data'], expected: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))).toBe(
    true,
  );
}

function expectSameMap(actual: Map<string, HostTensor>, expected: Map<string, HostTensor>, skip: readonly string[] = []): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [k, e] of expected) {
    if (skip.includes(k)) continue;
    const a = actual.get(k)!;
    expect(a.shape, k).toEqual(e.shape);
    expect(
      Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)),
      `${k} bit-exact`,
    ).toBe(true);
  }
}

describe('CLIP: openai <-> Hugging Face', () => {
  let openai: Map<string, HostTensor>;
  let hf: Map<string, HostTensor>;
  beforeAll(async () => {
    openai = await fixtureWeights('clip/clip-tiny');
    hf = await convert(openai, 'openai', 'hf-clip');
  });

  it('names and shapes follow transformers CLIPModel', () => {
    const shapes = Object.fromEntries([...hf].map(([k, t]) => [k, t.shape]));
    expect(shapes).toMatchObject({
      'vision_model.embeddings.class_embedding': [128],
      'vision_model.embeddings.patch_embedding.weight': [128, 3, 8, 8],
      'vision_model.embeddings.position_embedding.weight': [17, 128],
      'vision_model.pre_layrnorm.weight': [128],
      'vision_model.post_layernorm.bias': [128],
      'vision_model.encoder.layers.2.self_attn.q_proj.weight': [128, 128],
      'vision_model.encoder.layers.2.self_attn.v_proj.bias': [128],
      'vision_model.encoder.layers.0.self_attn.out_proj.weight': [128, 128],
      'vision_model.encoder.layers.0.layer_norm1.weight': [128],
      'vision_model.encoder.layers.0.layer_norm2.bias': [128],
      'vision_model.encoder.layers.1.mlp.fc1.weight': [512, 128],
      'vision_model.encoder.layers.1.mlp.fc2.weight': [128, 512],
      'visual_projection.weight': [32, 128],
      'text_model.embeddings.token_embedding.weight': [49408, 48],
      'text_model.embeddings.position_embedding.weight': [77, 48],
      'text_model.encoder.layers.2.self_attn.k_proj.weight': [48, 48],
      'text_model.final_layer_norm.weight': [48],
      'text_projection.weight': [32, 48],
      logit_scale: [],
    });
    // 6 fused in_proj weight/bias pairs become 3 tensors each: 86 - 12 + 36.
    expect(hf.size).toBe(110);
    expect([...hf.keys()].some((k) => k.includes('in_proj') || k.startsWith('visual.') || k.startsWith('transformer.'))).toBe(false);
    expect(detectKeyFormat([...hf.keys()]).format).toBe('hf-clip');
    expect(detectKeyFormat([...openai.keys()]).format).toBe('openai');
  });

  it('splits in_proj rows in q, k, v order and transposes the projections', () => {
    const inProj = openai.get('visual.transformer.resblocks.1.attn.in_proj_weight')!;
    expectBits(hf.get('vision_model.encoder.layers.1.self_attn.q_proj.weight')!.data, rows(inProj, 0, 128));
    expectBits(hf.get('vision_model.encoder.layers.1.self_attn.k_proj.weight')!.data, rows(inProj, 128, 256));
    expectBits(hf.get('vision_model.encoder.layers.1.self_attn.v_proj.weight')!.data, rows(inProj, 256, 384));
    const textBias = openai.get('transformer.resblocks.0.attn.in_proj_bias')!;
    expectBits(hf.get('text_model.encoder.layers.0.self_attn.v_proj.bias')!.data, rows(textBias, 96, 144));
    const proj = openai.get('visual.proj')!; // [W, E]
    const vp = hf.get('visual_projection.weight')!; // [E, W]
    expect(vp.data[5 * 128 + 7]).toBe(proj.data[7 * 32 + 5]);
    expectBits(hf.get('text_projection.weight')!.data, transpose2d(openai.get('text_projection')!, 't').data);
  });

  it('round-trips official -> HF -> official bit-exactly (HF position_ids buffers are dropped)', async () => {
    const withIds = new Map(hf);
    withIds.set('vision_model.embeddings.position_ids', { dtype: 'int32', shape: [1, 17], data: Int32Array.from({ length: 17 }, (_, i) => i) });
    const back = await convert(withIds, 'hf-clip', 'openai');
    expectSameMap(back, openai);
  });

  it('names the missing projection when q/k/v are incomplete', async () => {
    const broken = new Map(hf);
    broken.delete('vision_model.encoder.layers.1.self_attn.k_proj.weight');
    expect(() => convertSource(hostMapSource(broken, 'x.safetensors'), findConversion('hf-clip', 'openai'))).toThrow(
      /x\.safetensors \(hf-clip -> openai\): visual\.transformer\.resblocks\.1\.attn\.in_proj_weight needs vision_model\.encoder\.layers\.1\.self_attn\.k_proj\.weight/,
    );
  });
});

describe('DINOv2: official <-> Hugging Face Dinov2WithRegistersModel', () => {
  it('uses the transformers names and round-trips bit-exactly', async () => {
    const official = await fixtureWeights('vit/dinov2-tiny');
    const hf = await convert(official, 'dinov2', 'hf-dinov2');
    const shapes = Object.fromEntries([...hf].map(([k, t]) => [k, t.shape]));
    expect(shapes).toMatchObject({
      'embeddings.cls_token': [1, 1, 64],
      'embeddings.mask_token': [1, 64],
      'embeddings.position_embeddings': [1, 17, 64],
      'embeddings.register_tokens': [1, 2, 64],
      'embeddings.patch_embeddings.projection.weight': [64, 3, 4, 4],
      'encoder.layer.0.norm1.weight': [64],
      'encoder.layer.0.attention.attention.query.weight': [64, 64],
      'encoder.layer.0.attention.attention.key.bias': [64],
      'encoder.layer.2.attention.attention.value.weight': [64, 64],
      'encoder.layer.0.attention.output.dense.weight': [64, 64],
      'encoder.layer.1.layer_scale1.lambda1': [64],
      'encoder.layer.1.layer_scale2.lambda1': [64],
      'encoder.layer.2.mlp.fc1.weight': [256, 64],
      'encoder.layer.2.mlp.fc2.bias': [64],
      'layernorm.weight': [64],
    });
    expect(hf.size).toBe(official.size + 3 * 2 * 2);
    expect(detectKeyFormat([...hf.keys()]).format).toBe('hf-dinov2');
    expect(detectKeyFormat([...official.keys()]).format).toBe('dinov2');
    const qkv = official.get('blocks.2.attn.qkv.weight')!;
    expectBits(hf.get('encoder.layer.2.attention.attention.key.weight')!.data, rows(qkv, 64, 128));
    expectSameMap(await convert(hf, 'hf-dinov2', 'dinov2'), official);
  });

  it('strips the wrapper prefix of a transformers classification checkpoint', async () => {
    const official = await fixtureWeights('vit/dinov2-tiny');
    const hf = await convert(official, 'dinov2', 'hf-dinov2');
    const wrapped = new Map([...hf].map(([k, v]) => [`dinov2_with_registers.${k}`, v]));
    const prepared = prepareSource(hostMapSource(wrapped));
    expect(prepared).toMatchObject({ from: 'hf-dinov2', to: 'dinov2', prefix: 'dinov2_with_registers.' });
    expectSameMap(await readAllTensors(prepared.source), official);
  });
});

describe('DINOv3: official <-> Hugging Face DINOv3ViTModel', () => {
  let official: Map<string, HostTensor>;
  let hf: Map<string, HostTensor>;
  beforeAll(async () => {
    official = await fixtureWeights('vit/dinov3-tiny');
    hf = await convert(official, 'dinov3', 'hf-dinov3');
  });

  it('uses the transformers names: no k bias, no rope periods, mask token [1, 1, D]', () => {
    const shapes = Object.fromEntries([...hf].map(([k, t]) => [k, t.shape]));
    expect(shapes).toMatchObject({
      'embeddings.cls_token': [1, 1, 64],
      'embeddings.mask_token': [1, 1, 64],
      'embeddings.register_tokens': [1, 4, 64],
      'embeddings.patch_embeddings.weight': [64, 3, 4, 4],
      'embeddings.patch_embeddings.bias': [64],
      'layer.0.norm1.weight': [64],
      'layer.0.attention.q_proj.weight': [64, 64],
      'layer.0.attention.k_proj.weight': [64, 64],
      'layer.0.attention.q_proj.bias': [64],
      'layer.0.attention.v_proj.bias': [64],
      'layer.0.attention.o_proj.weight': [64, 64],
      'layer.1.layer_scale1.lambda1': [64],
      'layer.1.mlp.up_proj.weight': [256, 64],
      'layer.1.mlp.down_proj.weight': [64, 256],
      'norm.weight': [64],
    });
    expect([...hf.keys()].filter((k) => /k_proj\.bias|bias_mask|rope|periods|blocks\./.test(k))).toEqual([]);
    expect(detectKeyFormat([...hf.keys()]).format).toBe('hf-dinov3');
    expect(detectKeyFormat([...official.keys()]).format).toBe('dinov3');
    const bias = official.get('blocks.0.attn.qkv.bias')!;
    expectBits(hf.get('layer.0.attention.v_proj.bias')!.data, rows(bias, 128, 192));
  });

  it('round-trips to the official keys: effective q/k/v bias, mask and RoPE periods rebuilt', async () => {
    const config = await (
      await readFixture(join(repoFixturesDir(), 'vit/dinov3-tiny'))
    ).json<{ constructor: { num_heads: number; pos_embed_rope_base: number } }>('config.json');
    const back = await convert(hf, 'hf-dinov3', 'dinov3', { numHeads: config.constructor.num_heads, ropeBase: config.constructor.pos_embed_rope_base });
    const biasKeys = [0, 1, 2].map((i) => `blocks.${i}.attn.qkv.bias`);
    expectSameMap(back, official, [...biasKeys, 'rope_embed.periods']);
    for (const k of biasKeys) {
      const mask = official.get(k.replace('bias', 'bias_mask'))!.data;
      const expected = Float32Array.from(official.get(k)!.data, (v, i) => (mask[i] === 0 ? 0 : v));
      // The stored k part is non-zero in the fixture but masked: only the effective bias survives.
      expect(rows(official.get(k)!, 64, 128).some((v) => v !== 0)).toBe(true);
      expectBits(back.get(k)!.data, expected);
    }
    const periods = back.get('rope_embed.periods')!.data;
    const want = official.get('rope_embed.periods')!.data;
    expect(periods.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(Math.abs(periods[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * want[i]!);
  });

  it('drops local_cls_norm.* (SAT-493M checkpoints) on the way to HF, as the reference conversion', async () => {
    const sat = new Map(official);
    sat.set('local_cls_norm.weight', { dtype: 'float32', shape: [64], data: new Float32Array(64).fill(1) });
    sat.set('local_cls_norm.bias', { dtype: 'float32', shape: [64], data: new Float32Array(64) });
    const converted = await convert(sat, 'dinov3', 'hf-dinov3');
    expect([...converted.keys()].filter((k) => k.includes('local_cls_norm'))).toEqual([]);
    expect([...converted.keys()].sort()).toEqual([...hf.keys()].sort());
  });

  it('RoPE periods: stored ones are kept as stored (bf16-rounded in Meta files), rebuilt ones are float32 (up to 0.39 % apart)', async () => {
    // A Meta-style checkpoint: the periods rounded to bfloat16.
    const fp32 = ropePeriods(1024, 16, 100).data as Float32Array;
    const bf16 = Float32Array.from(fp32, (v) => bfloat16ToFloat32(float32ToBfloat16(v)));
    let maxRelative = 0;
    for (let i = 0; i < fp32.length; i++) maxRelative = Math.max(maxRelative, Math.abs(bf16[i]! - fp32[i]!) / fp32[i]!);
    expect(maxRelative).toBeGreaterThan(1e-3);
    expect(maxRelative).toBeLessThanOrEqual(2 ** -8);
    const meta = new Map(official);
    const stored: HostTensor = {
      dtype: 'float32',
      shape: [4],
      data: Float32Array.from(official.get('rope_embed.periods')!.data as Float32Array, (v) => bfloat16ToFloat32(float32ToBfloat16(v))),
    };
    meta.set('rope_embed.periods', stored);
    const loaded = await readAllTensors(prepareSource(hostMapSource(meta, 'meta.pth'), { to: 'dinov3' }).source);
    expectBits(loaded.get('rope_embed.periods')!.data, stored.data as Float32Array);
    // From HF: rebuilt in float32, not rounded.
    const back = await convert(hf, 'hf-dinov3', 'dinov3', { numHeads: 4, ropeBase: 100 });
    expectBits(back.get('rope_embed.periods')!.data, ropePeriods(64, 4, 100).data as Float32Array);
  });

  it('asks for the head count to rebuild the RoPE periods', () => {
    expect(() => convertSource(hostMapSource(hf, 'hub.safetensors'), findConversion('hf-dinov3', 'dinov3'))).toThrow(/rope_embed\.periods .*numHeads/);
  });

  it('refuses to drop a k bias that the mask does not zero', async () => {
    const tampered = new Map(official);
    tampered.set('blocks.0.attn.qkv.bias_mask', { dtype: 'float32', shape: [192], data: new Float32Array(192).fill(1) });
    const src = convertSource(hostMapSource(tampered, 'w'), findConversion('dinov3', 'hf-dinov3'));
    await expect(src.read('layer.0.attention.q_proj.bias')).rejects.toThrow(/part 1 is left out .* not zero/);
  });
});
