import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostToTensor, Rng } from '@hgm/tensor';
import { compareClose, expectNoLeak, readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import { ClipModel, clipConfigFromConstructorArgs, type OpenaiClipConstructorArgs } from '@hgm/backbone';
import { loadOnnxRuntime } from './ort-node';
import { OnnxTextTower } from './onnx-text-tower';

const ort = loadOnnxRuntime();
const TOL = { atol: 1e-4, rtol: 1e-4 };

async function clipTiny(name = 'clip-tiny'): Promise<{ model: ClipModel; ids: tf.Tensor2D; expected: Float32Array; shape: number[] }> {
  const fx = await readFixture(join(repoFixturesDir(), 'clip/clip-tiny'));
  const cfg = await fx.json<{ constructor: OpenaiClipConstructorArgs; derived?: { vision_heads: number } }>('config.json');
  const config = clipConfigFromConstructorArgs(cfg.constructor, { name, ...(cfg.derived ? { visionHeads: cfg.derived.vision_heads } : {}) });
  const reader = await fx.safetensors('weights.safetensors');
  let model: ClipModel;
  try {
    model = await ClipModel.fromStateDict(config, reader);
  } finally {
    await reader.close();
  }
  const inputs = await fx.tensors('inputs.safetensors');
  const outputs = await fx.tensors('outputs.safetensors');
  const want = outputs.get('text_embeds')!;
  return { model, ids: hostToTensor(inputs.get('input_ids')!) as tf.Tensor2D, expected: want.data as Float32Array, shape: want.shape };
}

describe.skipIf(!ort.ok)('OnnxTextTower (onnxruntime-node)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('clip/clip-tiny: the reference text embeddings within 1e-4 from token embeddings (EOT = argmax of the ids)', async () => {
    const { model, ids, expected, shape } = await clipTiny();
    const tower = OnnxTextTower.fromClip(model, { threads: 1 });
    try {
      const emb = model.text.embedTokens(ids);
      const eot = Array.from((await tf.argMax(ids, -1).data()) as Int32Array);
      const got = await tower.encode({ tokenEmbeddings: emb, eotIndices: eot });
      expect(got.shape).toEqual(shape);
      const c = compareClose(got.dataSync(), expected, TOL);
      expect(c.ok, `worst abs error ${c.maxAbsError}`).toBe(true);
      tf.dispose([emb, got]);
    } finally {
      await tower.dispose();
      ids.dispose();
      model.dispose();
    }
  });

  it('equals the tfjs tower with and without compound prompts (one session per shape) and frees what it makes; refuses bad input', async () => {
    const { model, ids } = await clipTiny();
    const t = model.config.text;
    const tower = OnnxTextTower.fromClip(model, { threads: 1 });
    const rng = new Rng(5);
    const emb = tf.tidy(() => tf.add(model.text.embedTokens(ids), rng.tensorNormal([ids.shape[0], t.contextLength, t.width], 0, 0.02))) as tf.Tensor3D;
    const eot = Array.from({ length: ids.shape[0] }, (_, i) => 5 + i);
    try {
      for (const lengths of [[], [2, 2], [3]]) {
        const compound = lengths.map((n) => rng.tensorNormal([n, t.width], 0, 0.1) as tf.Tensor2D);
        const want = model.text.forward({ tokenEmbeddings: emb, eotIndices: tf.tensor1d(eot, 'int32'), compoundPrompts: compound }).textEmbeds;
        const got = await tower.encode({ tokenEmbeddings: emb, eotIndices: eot, compoundPrompts: compound });
        const c = compareClose(got.dataSync(), want.dataSync(), TOL);
        expect(c.ok, `compound [${lengths.join(', ')}]: worst abs error ${c.maxAbsError}`).toBe(true);
        tf.dispose([want, got, ...compound]);
      }
      await expectNoLeak(async () => (await tower.encode({ tokenEmbeddings: emb, eotIndices: eot })).dispose(), { name: 'OnnxTextTower.encode' });
      await expect(tower.encode({ tokenEmbeddings: emb, eotIndices: [1] })).rejects.toThrow(/1 EOT indices for 3 prompts/);
      await expect(tower.encode({ tokenEmbeddings: emb, eotIndices: eot.map(() => t.contextLength) })).rejects.toThrow(/EOT index \d+ is out of range/);
      await tower.dispose();
      await expect(tower.encode({ tokenEmbeddings: emb, eotIndices: eot })).rejects.toThrow(/used after dispose/);
    } finally {
      await tower.dispose();
      tf.dispose([emb, ids]);
      model.dispose();
    }
  });

  it('stages its weights on disk under fixed file names (a model name may hold a slash)', async () => {
    const { model, ids, expected } = await clipTiny('ViT-L/14@336px (tiny)');
    const stagingDir = mkdtempSync(join(tmpdir(), 'hgm-text-staging-'));
    const tower = OnnxTextTower.fromClip(model, { threads: 1, weightStaging: 'disk', stagingDir });
    try {
      const emb = model.text.embedTokens(ids);
      const eot = Array.from((await tf.argMax(ids, -1).data()) as Int32Array);
      const got = await tower.encode({ tokenEmbeddings: emb, eotIndices: eot });
      expect(compareClose(got.dataSync(), expected, TOL).ok).toBe(true);
      expect(readdirSync(stagingDir)).toEqual([]);
      tf.dispose([emb, got]);
    } finally {
      await tower.dispose();
      ids.dispose();
      model.dispose();
      rmSync(stagingDir, { recursive: true, force: true });
    }
  });

  it('names a provider the runtime lacks', async () => {
    const { model, ids } = await clipTiny();
    try {
      expect(() => OnnxTextTower.fromClip(model, { executionProviders: ['no-such-provider'] })).toThrow(/has no no-such-provider execution provider here/);
    } finally {
      ids.dispose();
      model.dispose();
    }
  });
});
