import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostToTensor, type HostTensor } from '@hgm/tensor';
import { compareClose, expectNoLeak, readFixture, repoFixturesDir, type Fixture } from '@hgm/tensor/testing';
import {
  ClipModel,
  clipConfigFromConstructorArgs,
  Dinov2VisionTransformer,
  Dinov3VisionTransformer,
  parseDinoReferenceRun,
  vvBlocksFromDpamLayer,
  type DinoVisionTransformer,
  type OpenaiClipConstructorArgs,
} from '@hgm/backbone';
import { loadOnnxRuntime } from './ort-node';
import { GraphBuilder } from './graph-builder';
import { OnnxImageEncoder, type OnnxEncoderOptions } from './onnx-image-encoder';

const TOL = { atol: 1e-4, rtol: 1e-4 };
const ort = loadOnnxRuntime();

/**
 * Why onnxruntime-node's WebGPU provider cannot run here (no runtime, no provider in the binary, no adapter
 * found by Dawn), or undefined when a one-node model runs on it.
 */
async function webgpuUnavailable(): Promise<string | undefined> {
  if (!ort.ok) return ort.reason;
  if (!ort.runtime.providers.includes('webgpu')) return `onnxruntime-node ${ort.runtime.version} has no WebGPU provider here`;
  const g = new GraphBuilder('probe');
  g.input('x', ['batch', 2]);
  g.output('y', g.add('x', g.weight('w', [2], Float32Array.of(1, 2))), ['batch', 2]);
  try {
    const session = await ort.runtime.createSession(g.toModel(), { executionProviders: ['webgpu'] });
    try {
      const y = (await session.run({ x: { data: Float32Array.of(1, 1), dims: [1, 2] } }, ['y']))['y']!;
      return y.data[0] === 2 && y.data[1] === 3 ? undefined : `the WebGPU provider gave [${[...y.data].join(', ')}] for [2, 3]`;
    } finally {
      await session.dispose();
    }
  } catch (e) {
    return (e as Error).message;
  }
}
const noWebgpu = await webgpuUnavailable();

function close(actual: tf.Tensor, expected: HostTensor | undefined, name: string): { ok: boolean; maxAbsError: number } {
  if (!expected) throw new Error(`fixture has no ${name}`);
  expect(actual.shape, name).toEqual(expected.shape);
  const r = compareClose(actual.dataSync(), expected.data as Float32Array, TOL);
  return { ok: r.ok, maxAbsError: r.maxAbsError };
}

describe('loadOnnxRuntime', () => {
  it('says which package is missing instead of throwing', () => {
    const r = loadOnnxRuntime('onnxruntime-node-not-installed');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/optional package onnxruntime-node-not-installed is not installed/);
  });
});

describe.skipIf(!ort.ok)('OnnxImageEncoder against the golden fixtures (onnxruntime-node)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  async function dino(
    folder: string,
    family: 'dinov2' | 'dinov3',
  ): Promise<{ fx: Fixture; model: DinoVisionTransformer; run: ReturnType<typeof parseDinoReferenceRun> }> {
    const fx = await readFixture(join(repoFixturesDir(), folder));
    const run = parseDinoReferenceRun(await fx.json('config.json'), family);
    const reader = await fx.safetensors('weights.safetensors');
    try {
      const model =
        run.family === 'dinov2'
          ? await Dinov2VisionTransformer.fromStateDict(run.config, reader)
          : await Dinov3VisionTransformer.fromStateDict(run.config, reader);
      return { fx, model, run };
    } finally {
      await reader.close();
    }
  }

  /** Every case of a DINO fixture: CLS, last patch tokens, every tapped block (normed) within 1e-4; returns the worst check. */
  async function dinoChecks(
    fx: Fixture,
    model: DinoVisionTransformer,
    run: ReturnType<typeof parseDinoReferenceRun>,
    options: OnnxEncoderOptions = {},
  ): Promise<{ ok: boolean; worst: number; checks: number }> {
    const taps = model.selectBlocks(run.intermediate!.n);
    const enc = await OnnxImageEncoder.fromDino(model as DinoVisionTransformer & { config: typeof run.config }, { layers: taps, threads: 1, ...options });
    const inputs = await fx.tensors('inputs.safetensors');
    const expected = await fx.tensors('outputs.safetensors');
    let ok = true;
    let worst = 0;
    let checks = 0;
    try {
      for (const c of run.cases) {
        const pixels = hostToTensor(inputs.get(c.input)!) as tf.Tensor4D;
        const out = await enc.encode(pixels, { layers: taps });
        const rows = [close(out.cls, expected.get(`${c.prefix}x_norm_clstoken`), `${c.prefix}x_norm_clstoken`)];
        taps.forEach((l, j) => rows.push(close(out.patchTokens[j]!, expected.get(`${c.prefix}inter.${l}.patch`), `${c.prefix}inter.${l}.patch`)));
        for (const r of rows) {
          ok &&= r.ok;
          worst = Math.max(worst, r.maxAbsError);
          checks++;
        }
        tf.dispose([pixels, out.cls, ...out.patchTokens]);
      }
    } finally {
      await enc.dispose();
    }
    return { ok, worst, checks };
  }

  for (const [folder, family] of [
    ['vit/dinov2-tiny', 'dinov2'],
    ['vit/dinov3-tiny', 'dinov3'],
  ] as const) {
    it(`${folder}: every case and tapped block within 1e-4`, async () => {
      const { fx, model, run } = await dino(folder, family);
      try {
        const r = await dinoChecks(fx, model, run);
        expect(r.checks).toBeGreaterThan(6);
        expect(r.ok, `worst abs error ${r.worst}`).toBe(true);
      } finally {
        model.dispose();
      }
    });

    it(`${folder}: a perturbed weight fails the comparison`, async () => {
      const { fx, model, run } = await dino(folder, family);
      try {
        const v = model.params.get('blocks.0.attn.proj.weight') as tf.Variable;
        v.assign(tf.tidy(() => tf.add(v, 0.01)));
        const r = await dinoChecks(fx, model, run);
        expect(r.ok).toBe(false);
        expect(r.worst).toBeGreaterThan(1e-3);
      } finally {
        model.dispose();
      }
    });
  }

  async function clip(folder: string, configFile = 'config.json'): Promise<{ fx: Fixture; model: ClipModel; vv: number; image: number | undefined }> {
    const fx = await readFixture(join(repoFixturesDir(), folder));
    const cfg = await fx.json<{
      constructor: OpenaiClipConstructorArgs;
      derived?: { vision_heads: number; image_size: number };
      hyperparameters?: { DPAM_layer: number | null };
    }>(configFile);
    const config = clipConfigFromConstructorArgs(cfg.constructor, { name: folder, ...(cfg.derived ? { visionHeads: cfg.derived.vision_heads } : {}) });
    const vv = cfg.hyperparameters ? vvBlocksFromDpamLayer(cfg.hyperparameters.DPAM_layer) : 0;
    const reader = await fx.safetensors('weights.safetensors');
    try {
      const model = await ClipModel.fromStateDict(config, reader, { vvAttentionBlocks: vv, ignore: ['^prompt_learner\\.'] });
      return { fx, model, vv, image: cfg.derived?.image_size };
    } finally {
      await reader.close();
    }
  }

  for (const folder of ['clip/clip-tiny', 'clip/clip-tiny-336']) {
    it(`${folder}: image embeddings and projected patch tokens of every block within 1e-4`, async () => {
      const { fx, model } = await clip(folder);
      const layers = Array.from({ length: model.config.vision.layers }, (_, i) => i);
      const enc = await OnnxImageEncoder.fromClip(model, { layers, threads: 1 });
      const inputs = await fx.tensors('inputs.safetensors');
      const expected = await fx.tensors('outputs.safetensors');
      try {
        const pixels = hostToTensor(inputs.get('pixel_values')!) as tf.Tensor4D;
        const out = await enc.encode(pixels, { layers });
        expect(close(out.cls, expected.get('image_embeds'), 'image_embeds').ok).toBe(true);
        let compared = 0;
        layers.forEach((l, j) => {
          const e = expected.get(`vision_patch_proj.${l}`);
          if (!e) return;
          expect(close(out.patchTokens[j]!, e, `vision_patch_proj.${l}`).ok, `vision_patch_proj.${l}`).toBe(true);
          compared++;
        });
        expect(compared).toBeGreaterThan(0);
        tf.dispose([pixels, out.cls, ...out.patchTokens]);
      } finally {
        await enc.dispose();
        model.dispose();
      }
    });
  }

  for (const variant of [
    { config: 'config.json', inputs: 'inputs.safetensors', outputs: 'outputs.safetensors' },
    { config: 'config_interp.json', inputs: 'inputs_interp.safetensors', outputs: 'outputs_interp.safetensors' },
  ]) {
    it(`clip/anomalyclip-tiny ${variant.config}: V-V patch features (resized positional table) within 1e-4; a perturbed weight fails`, async () => {
      const { fx, model } = await clip('clip/anomalyclip-tiny', variant.config);
      const cfg = await fx.json<{ hyperparameters: { 'features_list (1-based block indices)': number[] } }>(variant.config);
      const layers = cfg.hyperparameters['features_list (1-based block indices)'].map((l) => l - 1);
      const inputs = await fx.tensors(variant.inputs);
      const expected = await fx.tensors(variant.outputs);
      const pixels = hostToTensor(inputs.get('pixel_values')!) as tf.Tensor4D;
      const check = async () => {
        const enc = await OnnxImageEncoder.fromClip(model, { layers, threads: 1 });
        try {
          const out = await enc.run(pixels, ['global_feature', ...layers.map((l) => `patch_features.${l}`)]);
          const rows = [close(out.get('global_feature')!, expected.get('image_features_raw'), 'image_features_raw')];
          layers.forEach((l, j) => rows.push(close(out.get(`patch_features.${l}`)!, expected.get(`patch_features.${j}`), `patch_features.${j}`)));
          tf.dispose([...out.values()]);
          return rows;
        } finally {
          await enc.dispose();
        }
      };
      try {
        expect((await check()).every((r) => r.ok)).toBe(true);
        const v = model.params.get(`visual.transformer.resblocks.${model.config.vision.layers - 1}.attn.in_proj_weight`) as tf.Variable;
        v.assign(tf.tidy(() => tf.add(v, 0.01)));
        expect((await check()).every((r) => r.ok)).toBe(false);
      } finally {
        pixels.dispose();
        model.dispose();
      }
    });
  }

  it('vit/dinov3-tiny with release: the tfjs weights are disposed once the session holds them; the outputs stay within 1e-4', async () => {
    const { fx, model, run } = await dino('vit/dinov3-tiny', 'dinov3');
    try {
      const r = await dinoChecks(fx, model, run, { release: true });
      expect(r.ok, `worst abs error ${r.worst}`).toBe(true);
      expect(model.params.entries().every((p) => p.variable.isDisposed)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('vit/dinov3-tiny staged on disk: within 1e-4, and the staging files are gone once the session exists', async () => {
    const { fx, model, run } = await dino('vit/dinov3-tiny', 'dinov3');
    const stagingDir = mkdtempSync(join(tmpdir(), 'hgm-onnx-staging-test-'));
    try {
      const r = await dinoChecks(fx, model, run, { weightStaging: 'disk', stagingDir });
      expect(r.ok, `worst abs error ${r.worst}`).toBe(true);
      expect(readdirSync(stagingDir)).toEqual([]);
      await expect(
        OnnxImageEncoder.fromDino(model as Parameters<typeof OnnxImageEncoder.fromDino>[0], { weightStaging: 'disk', stagingDir: join(stagingDir, 'missing') }),
      ).rejects.toThrow(/ONNX executor: cannot make a staging folder for the weights in .*missing \(.*\); set stagingDir or use weightStaging 'memory'/);
    } finally {
      model.dispose();
      rmSync(stagingDir, { recursive: true, force: true });
    }
  });

  it("release 'before-session': the tfjs weights go (and collect runs) before the runtime reads the model, even when it then fails", async () => {
    for (const weightStaging of ['memory', 'disk'] as const) {
      const { fx, model, run } = await dino('vit/dinov3-tiny', 'dinov3');
      try {
        let collected = 0;
        const r = await dinoChecks(fx, model, run, { release: 'before-session', weightStaging, collect: () => collected++ });
        expect(r.ok, `worst abs error ${r.worst}`).toBe(true);
        expect(collected).toBe(1);
        expect(model.params.entries().every((p) => p.variable.isDisposed)).toBe(true);
      } finally {
        model.dispose();
      }
    }
    const { model } = await dino('vit/dinov2-tiny', 'dinov2');
    try {
      await expect(
        OnnxImageEncoder.fromDino(model as Parameters<typeof OnnxImageEncoder.fromDino>[0], {
          release: 'before-session',
          executionProviders: ['no-such-provider'],
        }),
      ).rejects.toThrow(/has no no-such-provider execution provider/);
      expect(model.params.entries().every((p) => p.variable.isDisposed)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('a session that cannot be made releases nothing and names the provider', async () => {
    const { model } = await dino('vit/dinov2-tiny', 'dinov2');
    try {
      await expect(
        OnnxImageEncoder.fromDino(model as Parameters<typeof OnnxImageEncoder.fromDino>[0], { release: true, executionProviders: ['no-such-provider'] }),
      ).rejects.toThrow(/onnx session: onnxruntime-node [\d.]+ has no no-such-provider execution provider here \(it has cpu/);
      expect(model.params.entries().some((p) => p.variable.isDisposed)).toBe(false);
    } finally {
      model.dispose();
    }
  });

  it("clip/clip-tiny with release: the vision tower's tfjs weights are disposed, the text tower's kept", async () => {
    const { fx, model } = await clip('clip/clip-tiny');
    const last = model.config.vision.layers - 1;
    const enc = await OnnxImageEncoder.fromClip(model, { layers: [last], threads: 1, release: true });
    const inputs = await fx.tensors('inputs.safetensors');
    const expected = await fx.tensors('outputs.safetensors');
    try {
      const params = model.params.entries();
      const vision = params.filter((p) => p.name.startsWith('visual.'));
      expect(vision.length).toBeGreaterThan(0);
      expect(vision.every((p) => p.variable.isDisposed)).toBe(true);
      expect(params.filter((p) => !p.name.startsWith('visual.')).some((p) => p.variable.isDisposed)).toBe(false);
      const pixels = hostToTensor(inputs.get('pixel_values')!) as tf.Tensor4D;
      const out = await enc.encode(pixels, { layers: [last] });
      expect(close(out.cls, expected.get('image_embeds'), 'image_embeds').ok).toBe(true);
      tf.dispose([pixels, out.cls, ...out.patchTokens]);
    } finally {
      await enc.dispose();
      model.dispose();
    }
  });

  describe.skipIf(noWebgpu !== undefined)(`on the WebGPU provider${noWebgpu !== undefined ? ` (skipped: ${noWebgpu})` : ''}`, () => {
    it('vit/dinov3-tiny (weights staged on disk, released before the session): every case and tapped block within 1e-4', async () => {
      const { fx, model, run } = await dino('vit/dinov3-tiny', 'dinov3');
      try {
        const r = await dinoChecks(fx, model, run, { executionProviders: ['webgpu'], weightStaging: 'disk', release: 'before-session' });
        expect(r.checks).toBeGreaterThan(6);
        expect(r.ok, `worst abs error ${r.worst}`).toBe(true);
      } finally {
        model.dispose();
      }
    });

    it('clip/clip-tiny: image embeddings within 1e-4', async () => {
      const { fx, model } = await clip('clip/clip-tiny');
      const last = model.config.vision.layers - 1;
      const enc = await OnnxImageEncoder.fromClip(model, { layers: [last], executionProviders: ['webgpu'] });
      const inputs = await fx.tensors('inputs.safetensors');
      const expected = await fx.tensors('outputs.safetensors');
      try {
        const pixels = hostToTensor(inputs.get('pixel_values')!) as tf.Tensor4D;
        const out = await enc.encode(pixels, { layers: [last] });
        expect(close(out.cls, expected.get('image_embeds'), 'image_embeds').ok).toBe(true);
        const e = expected.get(`vision_patch_proj.${last}`);
        if (e) expect(close(out.patchTokens[0]!, e, `vision_patch_proj.${last}`).ok).toBe(true);
        tf.dispose([pixels, out.cls, ...out.patchTokens]);
      } finally {
        await enc.dispose();
        model.dispose();
      }
    });
  });

  it('encode frees what it makes, refuses layers the graph lacks, and rejects after dispose', async () => {
    const { model } = await clip('clip/clip-tiny');
    const enc = await OnnxImageEncoder.fromClip(model, { layers: [0], threads: 1 });
    const pixels = tf.randomNormal([1, 3, model.config.vision.imageSize, model.config.vision.imageSize]) as tf.Tensor4D;
    try {
      await expectNoLeak(
        async () => {
          const out = await enc.encode(pixels, { layers: [0] });
          tf.dispose([out.cls, ...out.patchTokens]);
        },
        { name: 'OnnxImageEncoder.encode' },
      );
      await expect(enc.encode(pixels, { layers: [1] })).rejects.toThrow(/layers \[1\] are not outputs of this graph \(built with \[0\]\)/);
      await enc.dispose();
      await expect(enc.encode(pixels, { layers: [0] })).rejects.toThrow(/used after dispose/);
    } finally {
      pixels.dispose();
      model.dispose();
    }
  });
});
