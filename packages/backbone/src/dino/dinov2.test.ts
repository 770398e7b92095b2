import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { beforeAll, describe, expect, it as vitestIt } from 'vitest';
import { StateDictError, hostToTensor, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak, readFixture, repoFixturesDir, type Fixture } from '@hgm/tensor/testing';
import { Dinov2VisionTransformer } from './dinov2';
import { DINOV2_VITL14_REG, resolveDinov2Config } from './dinov2-config';
import { dinoReferenceOutputs, parseDinoReferenceRun, type DinoReferenceRun } from './reference-outputs';
import { dinov2StateDictKeys } from './state-dict-keys';
import { bicubicWeights } from '@hgm/nn';

const TOL = { atol: 1e-4, rtol: 1e-4 };
/**
 * cpu and wasm. webgpu (where an adapter exists) passes the same suite but, on a software adapter, spends
 * ~30 s compiling shaders, beyond this package's test budget; run `npm run parity -- fixtures/vit --backend webgpu`.
 */
const BACKENDS = { backends: ['cpu', 'wasm'] as ('cpu' | 'wasm')[] };

interface Loaded {
  fixture: Fixture;
  run: Extract<DinoReferenceRun, { family: 'dinov2' }>;
  weights: Map<string, HostTensor>;
  inputs: Map<string, HostTensor>;
  outputs: Map<string, HostTensor>;
}

async function load(): Promise<Loaded> {
  const fixture = await readFixture(join(repoFixturesDir(), 'vit/dinov2-tiny'));
  const run = parseDinoReferenceRun(await fixture.json('config.json'), 'dinov2');
  if (run.family !== 'dinov2') throw new Error('unreachable');
  return {
    fixture,
    run,
    weights: await fixture.tensors('weights.safetensors'),
    inputs: await fixture.tensors('inputs.safetensors'),
    outputs: await fixture.tensors('outputs.safetensors'),
  };
}

let fx: Loaded;
beforeAll(async () => {
  fx = await load();
});

describe('dinov2 config and official keys', () => {
  vitestIt('lists the fixture checkpoint exactly: names, order and shapes', () => {
    const keys = dinov2StateDictKeys(fx.run.config);
    expect(keys.map((k) => k.name)).toEqual([...fx.weights.keys()]);
    for (const k of keys) expect(k.shape, k.name).toEqual(fx.weights.get(k.name)!.shape);
  });

  vitestIt('describes dinov2_vitl14_reg with its real sizes', () => {
    const keys = new Map(dinov2StateDictKeys(DINOV2_VITL14_REG).map((k) => [k.name, k.shape]));
    expect(keys.get('pos_embed')).toEqual([1, 1 + 37 * 37, 1024]);
    expect(keys.get('register_tokens')).toEqual([1, 4, 1024]);
    expect(keys.get('patch_embed.proj.weight')).toEqual([1024, 3, 14, 14]);
    expect(keys.get('blocks.23.mlp.fc1.weight')).toEqual([4096, 1024]);
    expect(keys.get('blocks.23.ls2.gamma')).toEqual([1024]);
    expect(keys.has('blocks.24.norm1.weight')).toBe(false);
    // 24 blocks x 14 tensors + cls, pos, registers, mask, patch w/b, norm w/b.
    expect(keys.size).toBe(24 * 14 + 8);
    const params = [...keys.values()].reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(304_372_736);
    expect(DINOV2_VITL14_REG.preprocess).toMatchObject({
      size: 224,
      resizeSize: 256,
      interpolation: 'bicubic',
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    });
  });

  vitestIt('reads the reference constructor of the fixture', () => {
    expect(fx.run.config).toMatchObject({
      embedDim: 64,
      depth: 3,
      numHeads: 4,
      numRegisterTokens: 2,
      patchSize: 4,
      imgSize: 16,
      layerScale: true,
      interpolateAntialias: true,
      interpolateOffset: 0,
      layerNormEps: 1e-6,
    });
  });

  vitestIt('rejects invalid configs naming the field', () => {
    expect(() => resolveDinov2Config({ embedDim: 100, numHeads: 16 })).toThrow(/embedDim 100 is not divisible by numHeads 16/);
    expect(() => resolveDinov2Config({ imgSize: 500 })).toThrow(/imgSize 500 is not a multiple of patchSize 14/);
    expect(() => resolveDinov2Config({ ffnLayer: 'swiglu' as 'mlp' })).toThrow(/ffnLayer/);
  });
});

describeBackends(
  'dinov2 golden fixture',
  ({ it }) => {
    it('matches every output tensor of the reference at atol = rtol = 1e-4', async () => {
      const model = await Dinov2VisionTransformer.fromStateDict(fx.run.config, fx.weights);
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
      const normed = await Dinov2VisionTransformer.fromStateDict(fx.run.config, fx.weights);
      const raw = await Dinov2VisionTransformer.fromStateDict(fx.run.config, fx.weights, { normalizeTaps: false });
      const pixels = hostToTensor(fx.inputs.get('pixel_values_up')!) as tf.Tensor4D;
      try {
        const a = normed.encodeImage(pixels, { layers: [2, 0] });
        expect(a.grid).toEqual([6, 6]);
        await expectClose(a.cls, fx.outputs.get('up.x_norm_clstoken')!, { ...TOL, name: 'cls' });
        await expectClose(a.patchTokens[0]!, fx.outputs.get('up.inter.2.patch')!, { ...TOL, name: 'tap 2' });
        await expectClose(a.patchTokens[1]!, fx.outputs.get('up.inter.0.patch')!, { ...TOL, name: 'tap 0' });
        const b = raw.encodeImage(pixels, { layers: [1] });
        await expectClose(b.cls, fx.outputs.get('up.x_norm_clstoken')!, { ...TOL, name: 'cls (raw taps)' });
        await expectClose(b.patchTokens[0]!, fx.outputs.get('up.inter_raw.1.patch')!, { ...TOL, name: 'raw tap 1' });
        const d = normed.encodeImage(pixels);
        expect(d.patchTokens).toHaveLength(1);
        await expectClose(d.patchTokens[0]!, fx.outputs.get('up.x_norm_patchtokens')!, { ...TOL, name: 'default tap' });
        tf.dispose([a, b, d] as unknown as tf.TensorContainer);
        expect(normed.info).toMatchObject({ family: 'dinov2', numLayers: 3, width: 64, outputDim: 64, patchSize: 4 });
      } finally {
        pixels.dispose();
        normed.dispose();
        raw.dispose();
      }
    });

    it('get_intermediate_layers: last-n selection and reshape to [B, D, h, w]', async () => {
      const model = await Dinov2VisionTransformer.fromStateDict(fx.run.config, fx.weights);
      const pixels = hostToTensor(fx.inputs.get('pixel_values_down')!) as tf.Tensor4D;
      try {
        const layers = model.getIntermediateLayers(pixels, { n: 2, reshape: true });
        expect(layers.map((l) => l.layer)).toEqual([1, 2]);
        expect(layers[1]!.patchTokens.shape).toEqual([2, 64, 3, 3]);
        const back = tf.reshape(tf.transpose(layers[1]!.patchTokens, [0, 2, 3, 1]), [2, 9, 64]);
        await expectClose(back, fx.outputs.get('down.inter.2.patch')!, { ...TOL, name: 'reshaped' });
        tf.dispose([back, ...layers.flatMap((l) => [l.patchTokens, l.classToken, l.extraTokens])]);
        expect(() => model.getIntermediateLayers(pixels, { n: [0, 0] })).toThrow(/asked twice/);
        expect(() => model.getIntermediateLayers(pixels, { n: [3] })).toThrow(/outside \[0, 2\]/);
      } finally {
        pixels.dispose();
        model.dispose();
      }
    });

    it('non-square images: the pos-embed grid is resized per axis in (height, width) order', async () => {
      const model = await Dinov2VisionTransformer.fromStateDict(fx.run.config, fx.weights);
      try {
        const pos = model.interpolatePosEncoding(16, 24);
        expect(pos.shape).toEqual([1, 1 + 4 * 6, 64]);
        // Height keeps its 4 rows: each output row is the 1-D antialiased 4 -> 6 resize of the stored row.
        const stored = fx.weights.get('pos_embed')!.data;
        const w = bicubicWeights(4, 6, { antialias: true });
        const expected = new Float64Array((1 + 24) * 64);
        expected.set(stored.slice(0, 64));
        for (let r = 0; r < 4; r++)
          for (let c = 0; c < 6; c++)
            for (let k = 0; k < 64; k++) {
              let s = 0;
              for (let j = 0; j < 4; j++) s += w[c * 4 + j]! * stored[(1 + r * 4 + j) * 64 + k]!;
              expected[(1 + r * 6 + c) * 64 + k] = s;
            }
        await expectClose(pos, expected, { atol: 1e-6, rtol: 1e-6 });
        const pixels = tf.randomNormal([1, 3, 16, 24], 0, 1, 'float32', 3) as tf.Tensor4D;
        const enc = model.encodeImage(pixels, { layers: [1] });
        expect(enc.grid).toEqual([4, 6]);
        expect(enc.patchTokens[0]!.shape).toEqual([1, 24, 64]);
        tf.dispose([pos, pixels, enc] as unknown as tf.TensorContainer);
      } finally {
        model.dispose();
      }
    });

    it('the antialiased resize matters: the classic bicubic misses down.pos_embed_interp', async () => {
      const model = await Dinov2VisionTransformer.fromStateDict({ ...fx.run.config, interpolateAntialias: false }, fx.weights);
      try {
        const pos = model.interpolatePosEncoding(12, 12);
        await expect(expectClose(pos, fx.outputs.get('down.pos_embed_interp')!, TOL)).rejects.toThrow(/not close/);
        pos.dispose();
      } finally {
        model.dispose();
      }
    });

    it('does not leak tensors', async () => {
      const model = await Dinov2VisionTransformer.fromStateDict(fx.run.config, fx.weights);
      const pixels = hostToTensor(fx.inputs.get('pixel_values_down')!) as tf.Tensor4D;
      try {
        const repeats = 2;
        await expectNoLeak(() => tf.dispose(model.encodeImage(pixels, { layers: [0, 2] }) as unknown as tf.TensorContainer), { name: 'encodeImage', repeats });
        await expectNoLeak(() => tf.dispose(model.forwardFeatures(pixels) as unknown as tf.TensorContainer), { name: 'forwardFeatures', repeats });
        await expectNoLeak(() => tf.dispose(model.getIntermediateLayers(pixels, { n: [0, 1, 2], norm: false }) as unknown as tf.TensorContainer), {
          name: 'getIntermediateLayers',
          repeats,
        });
      } finally {
        pixels.dispose();
        model.dispose();
      }
    });

    it('rejects inputs that are not [B, C, H, W] multiples of the patch size', async () => {
      const model = new Dinov2VisionTransformer(fx.run.config);
      try {
        const odd = tf.zeros([1, 3, 14, 16]) as tf.Tensor4D;
        const gray = tf.zeros([1, 1, 16, 16]) as tf.Tensor4D;
        expect(() => model.encodeImage(odd)).toThrow(/14 x 16 must be a positive multiple of the patch size 4/);
        expect(() => model.encodeImage(gray)).toThrow(/3 channels/);
        tf.dispose([odd, gray]);
      } finally {
        model.dispose();
      }
    });
  },
  BACKENDS,
);

describe('dinov2 strict load', () => {
  vitestIt('lists every missing, unexpected and mis-shaped key and leaves the model untouched', async () => {
    await import('@hgm/tensor/testing').then((m) => m.useBackend('cpu'));
    const broken = new Map(fx.weights);
    broken.delete('blocks.1.ls1.gamma');
    broken.delete('norm.bias');
    broken.set('head.weight', { dtype: 'float32', shape: [2], data: new Float32Array(2) });
    broken.set('pos_embed', { dtype: 'float32', shape: [1, 10, 64], data: new Float32Array(640) });
    const model = new Dinov2VisionTransformer(fx.run.config);
    try {
      const err = await model.loadStateDict(broken, { source: 'broken.safetensors' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateDictError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/^broken\.safetensors: state dict does not match the model \(4 problems\)/);
      expect(msg).toContain('missing key blocks.1.ls1.gamma (expected shape [64])');
      expect(msg).toContain('missing key norm.bias (expected shape [64])');
      expect(msg).toContain('unexpected key head.weight (shape [2])');
      expect(msg).toContain('tensor pos_embed has shape [1, 10, 64], expected [1, 17, 64]');
      expect(await model.params.get('norm.weight').data()).toEqual(new Float32Array(64));
      expect(model.params.trainableVariables()).toHaveLength(0);
    } finally {
      model.dispose();
    }
  });
});
