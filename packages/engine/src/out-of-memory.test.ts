import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutOfMemoryError, type Rng } from '@hgm/tensor';
import { openSafetensors } from '@hgm/tensor/node';
import { useBackend } from '@hgm/tensor/testing';
import { nodeFileSystem, readDatasetFromDisk, writeSyntheticDataset, type DatasetSample } from '@hgm/data/node';
import { train } from './trainer';
import { ToyModel } from './testing/toy-model';
import type { FeatureBatch } from './engine-model';

let root: string;
let samples: DatasetSample[];
const toyConfig = { size: 32, patch: 8, width: 8, seed: 5 };

beforeAll(async () => {
  const r = await useBackend('wasm');
  if (!r.ok) throw new Error(`the wasm backend is needed here: ${r.reason}`);
  root = await mkdtemp(join(tmpdir(), 'hgm-oom-'));
  await writeSyntheticDataset(join(root, 'data'), { seed: 3, size: 32, domains: ['wood'], kinds: ['scratch'], trainGood: 2, testGood: 3, testPerKind: 3 });
  samples = (await readDatasetFromDisk(join(root, 'data'), { format: 'mvtec' })).samples.filter((s) => s.split === 'test');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The toy model, whose backward pass dies as tfjs-backend-wasm dies at its heap's maximum, from the `from`-th loss on. */
class AbortingModel extends ToyModel {
  calls = 0;
  constructor(private readonly from: number) {
    super(toyConfig);
  }
  override loss(features: FeatureBatch, masks: tf.Tensor3D, labels: tf.Tensor1D, rng: Rng) {
    if (++this.calls >= this.from) throw new WebAssembly.RuntimeError('Aborted()');
    return super.loss(features, masks, labels, rng);
  }
}

describe('running out of memory in training', () => {
  it("wasm's Aborted() ends in an OutOfMemoryError naming the backend, its limit, the model and batch size; the last checkpoint stays intact", async () => {
    const outDir = join(root, 'run');
    const steps = Math.ceil(samples.length / 4);
    // two probe passes of the plan, epoch 1 completes and is saved, epoch 2 dies at its second step
    const model = new AbortingModel(2 + steps + 2);
    const e = await train({ model, samples, fs: nodeFileSystem, outDir, featureCacheDir: join(root, 'cache'), epochs: 3, batchSize: 4 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OutOfMemoryError);
    const oom = e as OutOfMemoryError;
    expect(oom.code).toBe('out-of-memory');
    expect(oom.backend).toBe('wasm');
    expect(oom.limitBytes).toBe(4294901760);
    expect(oom.message).toContain('out of memory on wasm: the training step of model toy (32 px');
    expect(oom.message).toContain('batch size 4');
    expect(oom.message).toContain("the wasm backend's limit of 4.00 GiB (tfjs-backend-wasm heap maximum)");
    expect(oom.message).toContain('RuntimeError: Aborted()');
    expect(oom.message).toContain(`the checkpoint ${join(outDir, 'checkpoint.safetensors')} is intact and the same run resumes from it`);
    // the checkpoint of epoch 1 is whole and names epoch 1
    const reader = await openSafetensors(join(outDir, 'checkpoint.safetensors'));
    expect(reader.metadata['epoch']).toBe('1');
    expect(reader.tensorNames()).toContain('param.head.weight');
    await reader.close();
    expect(JSON.parse(await readFile(join(outDir, 'history.json'), 'utf8'))).toBeTruthy();
    model.dispose();
  });

  it('other errors of a step pass through unchanged', async () => {
    class Failing extends ToyModel {
      override loss(): never {
        throw new TypeError('a bug');
      }
    }
    const model = new Failing(toyConfig);
    await expect(
      train({ model, samples, fs: nodeFileSystem, outDir: join(root, 'run-bug'), featureCacheDir: join(root, 'cache'), epochs: 1, batchSize: 4 }),
    ).rejects.toThrow(TypeError);
    model.dispose();
  });
});
