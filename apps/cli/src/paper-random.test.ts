// The paper's model end to end on a machine with no download: `hgm weights random` writes DINOv3 ViT-L/16 and
// CLIP ViT-L/14@336 weights of the real key names and shapes, and `hgm train --model paper` with them runs every
// code path of a real run (loading, conversion, the ONNX encoder, the feature cache, training in micro-batches,
// the checkpoint, Ctrl-C and resume), then `hgm eval` and `hgm detect` on its model. At 64 px to keep CI fast; the
// 512 px run is `npm run bench -- pipeline --model paper`.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '@hgm/tensor/node';
import { writeSyntheticDataset } from '@hgm/data/node';
import { ensureBuilt, runHgm, type RunResult } from './test-support';
import { EXIT } from './exit-codes';

let root: string;
let data: string;
let dino: string;
let clip: string;
const env = { HGM_OFFLINE: '1' };
const LONG = 600_000;

function hgm(args: string[], options: Parameters<typeof runHgm>[1] = {}): Promise<RunResult> {
  return runHgm(args, { timeoutMs: LONG, ...options, env: { ...env, ...options.env } });
}

beforeAll(async () => {
  ensureBuilt();
  root = await mkdtemp(join(tmpdir(), 'hgm-paper-random-'));
  data = join(root, 'data');
  // 16 test images (8 good, 8 scratched) at 64 px: the training set of the zero-shot protocol
  await writeSyntheticDataset(data, { seed: 6, size: 64, domains: ['wood'], kinds: ['scratch'], trainGood: 1, testGood: 8, testPerKind: 8 });
  dino = join(root, 'dinov3-random.safetensors');
  clip = join(root, 'clip-random.safetensors');
}, LONG);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the paper model with random weights of the real shapes', () => {
  it(
    'hgm weights random writes loadable files marked random, with real key names and shapes',
    async () => {
      for (const [name, out, seed] of [
        ['dinov3-vitl16', dino, '1'],
        ['clip-vit-l-14-336', clip, '2'],
      ] as const) {
        const r = await hgm(['weights', 'random', name, '--seed', seed, '--out', out, '--json']);
        expect(r.code, r.stderr).toBe(EXIT.ok);
        const j = JSON.parse(r.stdout) as { random: boolean; tensors: number; sizeBytes: number };
        expect(j.random).toBe(true);
        if (name === 'dinov3-vitl16') {
          // (a whole read and checksum: once is enough)
          const v = await hgm(['weights', 'verify', out]);
          expect(v.code, v.stdout + v.stderr).toBe(EXIT.ok);
          expect(v.stdout).toMatch(/^ok .*\(dinov3, \d+ tensors/);
        }
        const reader = await openSafetensors(out);
        expect(JSON.parse(reader.metadata['hgm.random-weights']!)).toMatchObject({ name, seed: Number(seed) });
        expect(reader.tensorNames().length).toBe(j.tensors);
        await reader.close();
      }
      const dinoReader = await openSafetensors(dino);
      expect(dinoReader.tensorNames()).toContain('blocks.23.mlp.fc2.weight');
      expect(dinoReader.info('blocks.23.mlp.fc2.weight').shape).toEqual([1024, 4096]);
      await dinoReader.close();
      const bad = await hgm(['weights', 'random', 'dinov3-vit7b', '--out', join(root, 'x.safetensors')]);
      expect(bad.code).toBe(EXIT.usage);
      expect(bad.stderr).toContain('known names: clip-vit-l-14-336');
    },
    LONG,
  );

  it(
    'hgm train --model paper trains, stops on Ctrl-C, resumes to the end; eval and detect run on its model, labelled random',
    async () => {
      const out = join(root, 'run');
      const args = [
        'train',
        '--data',
        data,
        '--out',
        out,
        '--model',
        'paper',
        '--clip-weights',
        clip,
        '--backbone-weights',
        dino,
        '--image-size',
        '64',
        '--epochs',
        '2',
        '--batch-size',
        '8',
        '--micro-batch',
        '4',
        '--backend',
        'wasm',
        '--cache-dir',
        join(root, 'cache'),
      ];
      let sent = false;
      const first = await hgm(args, {
        onStderr: (text, child) => {
          if (!sent && /epoch 1\/2 step 1\/2/.test(text)) {
            sent = true;
            child.kill('SIGINT');
          }
        },
      });
      expect(sent, first.stderr).toBe(true);
      expect(first.code, first.stderr).toBe(EXIT.interrupted);
      expect(first.stderr).toMatch(/RANDOM weights of the real shapes/);
      // the frozen encoder runs on ONNX Runtime where it is installed (its tfjs weights released), else on tfjs and is
      // released once the features are cached
      expect(first.stderr).toMatch(/executor: onnx|released the frozen vision encoder/);
      expect(first.stderr).toMatch(
        /plan: [\d.]+ s per step of 8 \([\d.]+ s per image measured, micro-batches of 4\), peak memory ~[\d.]+ GiB of a 4\.00 GiB limit, feature cache [\d.]+ [MG]iB/,
      );
      const resumed = await hgm([...args, '--json']);
      expect(resumed.code, resumed.stderr).toBe(EXIT.ok);
      const j = JSON.parse(resumed.stdout) as {
        epochsCompleted: number;
        steps: number;
        resumedFrom: { epoch: number; step: number };
        plan: { microBatch: number };
      };
      expect(j.epochsCompleted).toBe(2);
      expect(j.steps).toBe(4);
      // the interrupt stops at the next step boundary: after 1 to 3 of the 4 steps
      const done = (j.resumedFrom.epoch - 1) * 2 + j.resumedFrom.step;
      expect(done).toBeGreaterThanOrEqual(1);
      expect(done).toBeLessThanOrEqual(3);
      expect(j.plan.microBatch).toBe(4);
      const model = join(out, 'model.safetensors');
      const saved = await openSafetensors(model);
      expect(saved.metadata['hgm.frozen']).toMatch(/"random":\{"name":"dinov3-vitl16","seed":1\}/);
      await saved.close();
      const e = await hgm([
        'eval',
        '--data',
        data,
        '--checkpoint',
        model,
        '--out',
        join(root, 'eval'),
        '--backend',
        'wasm',
        '--cache-dir',
        join(root, 'cache'),
      ]);
      expect(e.code, e.stderr).toBe(EXIT.ok);
      const d = await hgm(['detect', join(data, 'wood', 'test', 'scratch'), '--checkpoint', model, '--out', join(root, 'detect'), '--backend', 'wasm']);
      expect(d.code, d.stderr).toBe(EXIT.ok);
      // (the progress lines, without --json)
      for (const r of [e, d]) expect(r.stderr).toContain('RANDOM weights of the real shapes');
      expect((await readdir(join(root, 'detect'))).length).toBeGreaterThan(0);
    },
    LONG,
  );
});
