import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareClose, readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import {
  ClipModel,
  clipConfigFromConstructorArgs,
  Dinov2VisionTransformer,
  Dinov3VisionTransformer,
  parseDinoReferenceRun,
  type OpenaiClipConstructorArgs,
} from '@hgm/backbone';
import { loadOnnxRuntime } from './ort-node';
import { exportVisionGraph, writeOnnxModel } from './export-model';

interface PublicOrt {
  InferenceSession: {
    create(
      path: string,
      options?: object,
    ): Promise<{ run(feeds: object): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>; release(): Promise<void> }>;
  };
  Tensor: new (type: string, data: Float32Array, dims: readonly number[]) => object;
}

const ok = loadOnnxRuntime().ok;

describe.skipIf(!ok)('exported ONNX models load in onnxruntime-node (public API) and reproduce the fixtures', () => {
  let dir: string;
  let ort: PublicOrt;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = await mkdtemp(join(tmpdir(), 'hgm-onnx-export-'));
    ort = createRequire(import.meta.url)('onnxruntime-node') as PublicOrt;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function runFile(path: string, pixels: { data: Float32Array; shape: number[] }) {
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    try {
      return await session.run({ pixel_values: new ort.Tensor('float32', pixels.data, pixels.shape) });
    } finally {
      await session.release();
    }
  }

  for (const [folder, family, external] of [
    ['vit/dinov3-tiny', 'dinov3', 'always'],
    ['vit/dinov2-tiny', 'dinov2', 'never'],
  ] as const) {
    it(`${folder} at 24 px (${external === 'always' ? 'external data' : 'inline weights'})`, async () => {
      const fx = await readFixture(join(repoFixturesDir(), folder));
      const run = parseDinoReferenceRun(await fx.json('config.json'), family);
      const reader = await fx.safetensors('weights.safetensors');
      const model =
        run.family === 'dinov2'
          ? await Dinov2VisionTransformer.fromStateDict(run.config, reader)
          : await Dinov3VisionTransformer.fromStateDict(run.config, reader);
      await reader.close();
      const up = run.cases.find((c) => c.prefix === 'up.')!;
      const inputs = await fx.tensors('inputs.safetensors');
      const expected = await fx.tensors('outputs.safetensors');
      const pixels = inputs.get(up.input)!;
      const path = join(dir, `${family}.onnx`);
      const written = writeOnnxModel(await exportVisionGraph(model, { imageSize: pixels.shape[2]!, layers: [0, 1, 2] }), path, { externalData: external });
      model.dispose();
      expect(existsSync(`${path}.data`)).toBe(external === 'always');
      expect(written.weightBytes).toBeGreaterThan(0);
      const out = await runFile(path, { data: pixels.data as Float32Array, shape: pixels.shape });
      const [b, t, d] = out['prenorm']!.dims as number[];
      expect(compareClose(out['prenorm']!.data, expected.get('up.x_prenorm')!.data as Float32Array, { atol: 1e-4, rtol: 1e-4 }).ok).toBe(true);
      const norm = out['norm']!.data;
      const cls = new Float32Array(b! * d!);
      for (let i = 0; i < b!; i++) cls.set(norm.subarray(i * t! * d!, i * t! * d! + d!), i * d!);
      expect(compareClose(cls, expected.get('up.x_norm_clstoken')!.data as Float32Array, { atol: 1e-4, rtol: 1e-4 }).ok).toBe(true);
    });
  }

  it('clip/clip-tiny (inline weights): image embeddings', async () => {
    const fx = await readFixture(join(repoFixturesDir(), 'clip/clip-tiny'));
    const cfg = await fx.json<{ constructor: OpenaiClipConstructorArgs }>('config.json');
    const reader = await fx.safetensors('weights.safetensors');
    const model = await ClipModel.fromStateDict(clipConfigFromConstructorArgs(cfg.constructor, { name: 'clip-tiny' }), reader, { towers: 'vision' });
    await reader.close();
    const pixels = (await fx.tensors('inputs.safetensors')).get('pixel_values')!;
    const expected = await fx.tensors('outputs.safetensors');
    const path = join(dir, 'clip.onnx');
    writeOnnxModel(await exportVisionGraph(model, { imageSize: pixels.shape[2]! }), path);
    model.dispose();
    const out = await runFile(path, { data: pixels.data as Float32Array, shape: pixels.shape });
    expect(compareClose(out['image_embeds']!.data, expected.get('image_embeds')!.data as Float32Array, { atol: 1e-4, rtol: 1e-4 }).ok).toBe(true);
  });

  for (const [folder, family] of [
    ['vit/dinov3-tiny', 'dinov3'],
    ['vit/dinov2-tiny', 'dinov2'],
  ] as const) {
    it(`${folder} at height 16 x width 24: the graph agrees with the tfjs model on a non-square input`, async () => {
      const fx = await readFixture(join(repoFixturesDir(), folder));
      const run = parseDinoReferenceRun(await fx.json('config.json'), family);
      const reader = await fx.safetensors('weights.safetensors');
      const model =
        run.family === 'dinov2'
          ? await Dinov2VisionTransformer.fromStateDict(run.config, reader)
          : await Dinov3VisionTransformer.fromStateDict(run.config, reader);
      await reader.close();
      const pixels = tf.randomNormal([1, 3, 16, 24], 0, 1, 'float32', 5) as tf.Tensor4D;
      const reference = model.forwardFeatures(pixels);
      const path = join(dir, `${family}-wide.onnx`);
      writeOnnxModel(await exportVisionGraph(model, { imageSize: [16, 24] }), path);
      model.dispose();
      const out = await runFile(path, { data: pixels.dataSync() as Float32Array, shape: [1, 3, 16, 24] });
      expect(reference.grid).toEqual([4, 6]);
      expect(out['prenorm']!.dims).toEqual(reference.prenorm.shape);
      expect(compareClose(out['prenorm']!.data, reference.prenorm.dataSync() as Float32Array, { atol: 1e-4, rtol: 1e-4 }).ok).toBe(true);
      tf.dispose([pixels, reference] as unknown as tf.TensorContainer);
    });
  }

  it('rejects an image size that is not a multiple of the patch size', async () => {
    const fx = await readFixture(join(repoFixturesDir(), 'vit/dinov3-tiny'));
    const run = parseDinoReferenceRun(await fx.json('config.json'), 'dinov3');
    const model = new Dinov3VisionTransformer(run.config as ConstructorParameters<typeof Dinov3VisionTransformer>[0]);
    await expect(exportVisionGraph(model, { imageSize: 18 })).rejects.toThrow(
      'export: image size: expected a multiple of the patch size 4, found 18 (the nearest multiples are 16 and 20)',
    );
    model.dispose();
  });
});
