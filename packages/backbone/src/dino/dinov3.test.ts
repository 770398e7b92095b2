import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { beforeAll, describe, expect, it as vitestIt } from 'vitest';
import { StateDictError, hostToTensor, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak, readFixture, repoFixturesDir, useBackend } from '@hgm/tensor/testing';
import { Dinov3VisionTransformer } from './dinov3';
import { DINOV3_VITL16, resolveDinov3Config, type Dinov3Config } from './dinov3-config';
import { dinoReferenceOutputs, parseDinoReferenceRun, type DinoReferenceRun } from './reference-outputs';
import { ropePeriods } from './rope';
import { dinov3StateDictKeys } from './state-dict-keys';

const TOL = { atol: 1e-4, rtol: 1e-4 };
/** cpu and wasm; webgpu: see dinov2.test.ts (same suite passes, too slow on a software adapter for this budget). */
const BACKENDS = { backends: ['cpu', 'wasm'] as ('cpu' | 'wasm')[] };

interface Loaded {
  run: Extract<DinoReferenceRun, { family: 'dinov3' }>;
  json: { rope_periods: number[] };
  weights: Map<string, HostTensor>;
  inputs: Map<string, HostTensor>;
  outputs: Map<string, HostTensor>;
}

let fx: Loaded;
beforeAll(async () => {
  const fixture = await readFixture(join(repoFixturesDir(), 'vit/dinov3-tiny'));
  const json = await fixture.json('config.json');
  const run = parseDinoReferenceRun(json, 'dinov3');
  if (run.family !== 'dinov3') throw new Error('unreachable');
  fx = {
    run,
    json,
    weights: await fixture.tensors('weights.safetensors'),
    inputs: await fixture.tensors('inputs.safetensors'),
    outputs: await fixture.tensors('outputs.safetensors'),
  };
});

describe('dinov3 config and official keys', () => {
  vitestIt('lists the fixture checkpoint exactly: names, order and shapes, buffers included', () => {
    const keys = dinov3StateDictKeys(fx.run.config);
    expect(keys.map((k) => k.name)).toEqual([...fx.weights.keys()]);
    for (const k of keys) expect(k.shape, k.name).toEqual(fx.weights.get(k.name)!.shape);
    expect(keys.filter((k) => k.buffer).map((k) => k.name)).toEqual([
      'rope_embed.periods',
      'blocks.0.attn.qkv.bias_mask',
      'blocks.1.attn.qkv.bias_mask',
      'blocks.2.attn.qkv.bias_mask',
    ]);
  });

  vitestIt('describes dinov3_vitl16 with its real sizes', () => {
    const keys = new Map(dinov3StateDictKeys(DINOV3_VITL16).map((k) => [k.name, k.shape]));
    expect(keys.get('storage_tokens')).toEqual([1, 4, 1024]);
    expect(keys.get('patch_embed.proj.weight')).toEqual([1024, 3, 16, 16]);
    expect(keys.get('rope_embed.periods')).toEqual([16]);
    expect(keys.get('blocks.23.attn.qkv.bias_mask')).toEqual([3072]);
    expect(keys.get('blocks.23.mlp.fc2.weight')).toEqual([1024, 4096]);
    expect(keys.has('pos_embed')).toBe(false);
    expect(keys.size).toBe(24 * 15 + 8);
    expect(DINOV3_VITL16).toMatchObject({
      embedDim: 1024,
      depth: 24,
      numHeads: 16,
      ffnRatio: 4,
      numStorageTokens: 4,
      ropeBase: 100,
      ropeNormalizeCoords: 'separate',
      layerNormEps: 1e-5,
      maskKBias: true,
      layerScale: true,
    });
  });

  vitestIt('reads the reference constructor of the fixture', () => {
    expect(fx.run.config).toMatchObject({
      embedDim: 64,
      depth: 3,
      numHeads: 4,
      numStorageTokens: 4,
      patchSize: 4,
      ropeBase: 100,
      maskKBias: true,
      layerNormEps: 1e-5,
      untieClsAndPatchNorms: false,
    });
  });

  vitestIt('computes the init periods the fixture records (the model itself uses the stored buffer)', () => {
    const headDim = fx.run.config.embedDim / fx.run.config.numHeads;
    expect([...ropePeriods(headDim, { base: fx.run.config.ropeBase! })]).toEqual(fx.json.rope_periods);
    expect([...fx.weights.get('rope_embed.periods')!.data]).toEqual(fx.json.rope_periods);
  });

  vitestIt('rejects invalid configs naming the field', () => {
    expect(() => resolveDinov3Config({ embedDim: 72, numHeads: 4 })).toThrow(/head dimension 18 must be a multiple of 4/);
    expect(() => resolveDinov3Config({ ropeMinPeriod: 1, ropeMaxPeriod: 100 })).toThrow(/either ropeBase or both/);
    expect(() => resolveDinov3Config({ qkvBias: false })).toThrow(/maskKBias needs qkvBias/);
  });
});

describeBackends(
  'dinov3 golden fixture',
  ({ it }) => {
    it('matches every output tensor of the reference at atol = rtol = 1e-4', async () => {
      const model = await Dinov3VisionTransformer.fromStateDict(fx.run.config, fx.weights);
      const produced = new Map<string, tf.Tensor>();
      try {
        for (const c of fx.run.cases) {
          const pixels = hostToTensor(fx.inputs.get(c.input)!) as tf.Tensor4D;
          for (const [k, v] of dinoReferenceOutputs(model, pixels, { prefix: c.prefix, intermediate: fx.run.intermediate! })) produced.set(k, v);
          pixels.dispose();
        }
        expect(fx.outputs.size).toBeGreaterThan(0);
        for (const [name, expected] of fx.outputs) {
          const actual = produced.get(name);
          expect(actual, `no counterpart for ${name}`).toBeDefined();
          await expectClose(actual!, expected, { ...TOL, name });
        }
      } finally {
        tf.dispose([...produced.values()]);
        model.dispose();
      }
    });

    it('encodeImage: final-norm CLS and normed taps in the order asked; raw taps with normalizeTaps false', async () => {
      const normed = await Dinov3VisionTransformer.fromStateDict(fx.run.config, fx.weights);
      const raw = await Dinov3VisionTransformer.fromStateDict(fx.run.config, fx.weights, { normalizeTaps: false });
      const pixels = hostToTensor(fx.inputs.get('pixel_values_down')!) as tf.Tensor4D;
      try {
        const a = normed.encodeImage(pixels, { layers: [1, 0] });
        expect(a.grid).toEqual([3, 3]);
        await expectClose(a.cls, fx.outputs.get('down.x_norm_clstoken')!, { ...TOL, name: 'cls' });
        await expectClose(a.patchTokens[0]!, fx.outputs.get('down.inter.1.patch')!, { ...TOL, name: 'tap 1' });
        await expectClose(a.patchTokens[1]!, fx.outputs.get('down.inter.0.patch')!, { ...TOL, name: 'tap 0' });
        const b = raw.encodeImage(pixels, { layers: [2] });
        await expectClose(b.patchTokens[0]!, fx.outputs.get('down.inter_raw.2.patch')!, { ...TOL, name: 'raw tap 2' });
        tf.dispose([a, b] as unknown as tf.TensorContainer);
        expect(normed.info).toMatchObject({ family: 'dinov3', numLayers: 3, width: 64, outputDim: 64, patchSize: 4 });
      } finally {
        pixels.dispose();
        normed.dispose();
        raw.dispose();
      }
    });

    it('the k-bias mask matters: an unmasked qkv bias misses the patch tokens', async () => {
      const unmasked: Dinov3Config = { ...fx.run.config, maskKBias: false };
      const model = await Dinov3VisionTransformer.fromStateDict(unmasked, fx.weights, { load: { ignore: ['\\.bias_mask$'] } });
      const pixels = hostToTensor(fx.inputs.get('pixel_values')!) as tf.Tensor4D;
      try {
        const f = model.forwardFeatures(pixels);
        await expect(expectClose(f.patchTokens, fx.outputs.get('x_norm_patchtokens')!, { atol: 1e-5, rtol: 1e-5 })).rejects.toThrow(/not close/);
        tf.dispose(f as unknown as tf.TensorContainer);
      } finally {
        pixels.dispose();
        model.dispose();
      }
    });

    it('does not leak tensors', async () => {
      const model = await Dinov3VisionTransformer.fromStateDict(fx.run.config, fx.weights);
      const pixels = hostToTensor(fx.inputs.get('pixel_values_down')!) as tf.Tensor4D;
      try {
        const repeats = 2;
        await expectNoLeak(() => tf.dispose(model.encodeImage(pixels, { layers: [2, 0] }) as unknown as tf.TensorContainer), { name: 'encodeImage', repeats });
        await expectNoLeak(() => tf.dispose(model.forwardFeatures(pixels) as unknown as tf.TensorContainer), { name: 'forwardFeatures', repeats });
        await expectNoLeak(() => tf.dispose(model.getIntermediateLayers(pixels, { n: 3, norm: true }) as unknown as tf.TensorContainer), {
          name: 'getIntermediateLayers',
          repeats,
        });
      } finally {
        pixels.dispose();
        model.dispose();
      }
    });
  },
  BACKENDS,
);

describe('dinov3 strict load', () => {
  vitestIt('lists every missing, unexpected and mis-shaped key, buffers included', async () => {
    await useBackend('cpu');
    const broken = new Map(fx.weights);
    broken.delete('rope_embed.periods');
    broken.delete('blocks.2.attn.qkv.bias_mask');
    broken.set('pos_embed', { dtype: 'float32', shape: [1, 17, 64], data: new Float32Array(17 * 64) });
    broken.set('storage_tokens', { dtype: 'float32', shape: [1, 2, 64], data: new Float32Array(128) });
    const err = await Dinov3VisionTransformer.fromStateDict(fx.run.config, broken, { load: { source: 'hub.safetensors' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDictError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^hub\.safetensors: state dict does not match the model \(4 problems\)/);
    expect(msg).toContain('missing key rope_embed.periods (expected shape [4])');
    expect(msg).toContain('missing key blocks.2.attn.qkv.bias_mask (expected shape [192])');
    expect(msg).toContain('unexpected key pos_embed (shape [1, 17, 64])');
    expect(msg).toContain('tensor storage_tokens has shape [1, 2, 64], expected [1, 4, 64]');
  });
});
