// hgm import anomalyclip on a checkpoint saved as AnomalyCLIP's train.py saves them (torch.save({"prompt_learner":
// state_dict})), made from the anomalyclip-tiny fixture's prompt learner by tools/fixtures-gen/anomalyclip_prompt_learner_pth.py:
// the imported model reproduces the fixture's maps and score (outputs of the official test.py pipeline).
import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostToTensor, type WritableTensor } from '@hgm/tensor';
import { openSafetensors, writeSafetensorsFile } from '@hgm/tensor/node';
import { compareClose, readFixture, repoFixturesDir, useBackend } from '@hgm/tensor/testing';
import { disposeDualAnchorOutput } from '@hgm/dual-anchor';
import { writeSyntheticDataset } from '@hgm/data/node';
import { ensureBuilt, runHgm } from './test-support';
import { EXIT } from './exit-codes';
import { modelFromCheckpoint } from './models';

let root: string;
let clipWeights: string;
const env = { HGM_OFFLINE: '1' };
const fixtureDir = join(repoFixturesDir(), 'clip', 'anomalyclip-tiny');
const pth = join(repoFixturesDir(), 'torch', 'anomalyclip-tiny-prompt-learner.pth');
// the fixture's config.json: features_list 1,2,3, DPAM_layer 3, Prompt_length 4, depth 3, length 2, sigma 4, 32 px
const SETTINGS = [
  '--clip-config',
  join(fixtureDir, 'config.json'),
  '--image-size',
  '32',
  '--features',
  '1,2,3',
  '--depth',
  '3',
  '--n-ctx',
  '4',
  '--t-n-ctx',
  '2',
  '--dpam-layer',
  '3',
  '--sigma',
  '4',
];

beforeAll(async () => {
  ensureBuilt();
  await useBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'hgm-import-'));
  // the fixture's CLIP weights alone (its weights file also holds the prompt learner)
  const reader = await openSafetensors(join(fixtureDir, 'weights.safetensors'));
  const clip: Record<string, WritableTensor> = {};
  for (const [name, t] of await reader.readAllHost()) {
    if (name.startsWith('prompt_learner.')) continue;
    if (!(t.data instanceof Float32Array)) throw new Error(`${name}: expected float32`);
    clip[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  }
  await reader.close();
  clipWeights = join(root, 'clip-tiny.safetensors');
  await writeSafetensorsFile(clipWeights, clip);
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('hgm import anomalyclip', () => {
  it("writes a model that reproduces the fixture's maps and image score, and that hgm detect runs", async () => {
    const out = join(root, 'model.safetensors');
    const r = await runHgm(['import', 'anomalyclip', pth, '--out', out, '--clip-weights', clipWeights, ...SETTINGS, '--backend', 'cpu', '--json'], { env });
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const result = JSON.parse(r.stdout) as { out: string; settings: Record<string, unknown>; loaded: number };
    expect(result.out).toBe(out);
    expect(result.settings).toEqual({ imageSize: 32, features: [1, 2, 3], depth: 3, nCtx: 4, tNCtx: 2, dpamLayer: 3, sigma: 4 });
    expect(result.loaded).toBeGreaterThan(0);
    // the settings travel in the model
    const saved = await openSafetensors(out);
    const config = JSON.parse(saved.metadata['config']!) as { name: string; layers: number[]; imageSize: number; staticPrompts: Record<string, number> };
    await saved.close();
    expect(config.name).toBe('AnomalyCLIP');
    expect(config.layers).toEqual([0, 1, 2]);
    expect(config.staticPrompts).toMatchObject({ contextTokens: 4, deepPromptDepth: 3, deepPromptLength: 2 });

    // the model as detect, eval and serve load it, on the fixture's input
    const fx = await readFixture(fixtureDir);
    const inputs = await fx.tensors('inputs.safetensors');
    const expected = await fx.tensors('outputs.safetensors');
    const { model } = await modelFromCheckpoint(out, { clipWeights });
    try {
      const pixels = hostToTensor(inputs.get('pixel_values')!) as tf.Tensor4D;
      const o = await model.model.forward(pixels);
      for (const [name, got] of [
        ['anomaly_map_smoothed', o.anomalyMap],
        ['anomaly_map', o.rawAnomalyMap],
        ['text_probs', o.imageScore],
      ] as const) {
        const want = expected.get(name)!;
        expect(got.shape, name).toEqual(want.shape);
        const c = compareClose(got.dataSync(), want.data as Float32Array, { atol: 1e-4, rtol: 1e-4 });
        expect(c.ok, `${name}: worst abs error ${c.maxAbsError}`).toBe(true);
      }
      disposeDualAnchorOutput(o);
      pixels.dispose();
    } finally {
      model.dispose();
    }

    const images = join(root, 'images');
    await writeSyntheticDataset(images, { seed: 2, size: 32, domains: ['wood'], kinds: ['scratch'], trainGood: 0, testGood: 1, testPerKind: 1 });
    const d = await runHgm(
      ['detect', join(images, 'wood', 'test'), '--checkpoint', out, '--clip-weights', clipWeights, '--out', join(root, 'detect'), '--backend', 'cpu', '--json'],
      {
        env,
      },
    );
    expect(d.code, d.stderr).toBe(EXIT.ok);
    expect((JSON.parse(d.stdout) as { detections: unknown[] }).detections).toHaveLength(2);
  });

  it('refuses a file that holds no prompt learner before loading any CLIP weights (exit 65), and needs --out (exit 64)', async () => {
    const r = await runHgm(
      ['import', 'anomalyclip', join(repoFixturesDir(), 'torch', 'tiny-dinov3.pth'), '--out', join(root, 'x.safetensors'), '--backend', 'cpu'],
      { env },
    );
    expect(r.code, r.stderr).toBe(EXIT.dataError);
    expect(r.stderr).toContain('no prompt_learner entry');
    expect(r.stderr).not.toContain('weights clip-vit-l-14-336');
    const noOut = await runHgm(['import', 'anomalyclip', pth], { env });
    expect(noOut.code).toBe(EXIT.usage);
    expect(await readdir(root)).not.toContain('x.safetensors');
  });
});
