// Sharded evaluation: shards scored apart (other batch boundaries, another feature cache), their states
// written to bytes and read back, then merged, give exactly the tables, scores and maps of one evaluate().
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { useBackend } from '@hgm/tensor/testing';
import { writeSyntheticDataset, readDatasetFromDisk, nodeFileSystem, type DatasetSample } from '@hgm/data/node';
import { evaluate, evaluateShard, evaluationMapNames, mergeEvaluationShards, samplesByCategory, writeColorBar, writeEvaluationTables } from './evaluator';
import { decodeShardState, encodeShardState } from './shard-state';
import { ToyModel } from './testing/toy-model';

let root: string;
let samples: DatasetSample[];

beforeAll(async () => {
  await useBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'hgm-shards-'));
  const data = join(root, 'data');
  await writeSyntheticDataset(data, { seed: 11, size: 32, domains: ['wood', 'cap'], kinds: ['scratch', 'stain'], trainGood: 1, testGood: 3, testPerKind: 2 });
  samples = (await readDatasetFromDisk(data, { format: 'mvtec' })).samples.filter((s) => s.split === 'test');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(relative(dir, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name)));
  }
  return out;
}

describe('sharded evaluation', () => {
  it('merges shard states into exactly the single-process tables, scores and maps', async () => {
    const model = new ToyModel({ size: 32, patch: 8, width: 8, seed: 9 });
    const metrics = ['image_auroc', 'image_f1_max', 'image_ap', 'pixel_auroc', 'pixel_ap', 'pixel_f1_max', 'aupro_mvtec@0.3'];
    const local = join(root, 'local');
    const whole = await evaluate({
      model,
      samples,
      fs: nodeFileSystem,
      featureCacheDir: join(root, 'cache-local'),
      outDir: local,
      metrics,
      batchSize: 4,
      saveMaps: true,
    });
    const sharded = join(root, 'sharded');
    const names = evaluationMapNames(samples);
    await writeColorBar(sharded);
    const states: Uint8Array[] = [];
    for (const [, list] of samplesByCategory(samples)) {
      for (let i = 0; i < list.length; i += 3) {
        const shard = list.slice(i, i + 3);
        const state = await evaluateShard({
          model,
          samples: shard,
          mapNames: shard.map((s) => names.get(s.imagePath)!),
          fs: nodeFileSystem,
          featureCacheDir: join(root, 'cache-shards'),
          outDir: sharded,
          batchSize: 2,
          saveMaps: true,
        });
        states.push(encodeShardState(state));
      }
    }
    expect(states.length).toBe(6);
    const merged = mergeEvaluationShards(
      metrics,
      states.map((b, i) => decodeShardState(b, `shard ${i}`)),
    );
    await writeEvaluationTables(merged, sharded);
    expect(merged.categories).toEqual(whole.categories);
    expect(merged.mean).toEqual(whole.mean);
    expect(merged.scores).toEqual(whole.scores);
    for (const c of merged.categories) for (const m of metrics) expect('value' in c.metrics[m]!, `${c.category} ${m}`).toBe(true);
    const a = await files(local);
    const b = await files(sharded);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(b.get(k)!.equals(v), k).toBe(true);
    model.dispose();
  });

  it('names the input when shard state bytes are damaged', () => {
    const state = {
      category: 'wood',
      scores: [{ imagePath: 'a.png', label: 1, score: 0.25 }],
      pixels: {
        images: 1,
        negativeKeys: Uint32Array.of(5),
        positiveKeys: Uint32Array.of(7, 9),
        positiveRegions: Uint32Array.of(0, 0),
        regionSizes: Uint32Array.of(2),
        regionMinKey: Uint32Array.of(7),
        regionMaxKey: Uint32Array.of(9),
        minKey: 5,
        maxKey: 9,
        negativeMinKey: 5,
        negativeMaxKey: 5,
      },
      anomalousWithMask: 1,
      anomalousWithoutMask: 0,
    };
    const bytes = encodeShardState(state);
    expect(decodeShardState(bytes, 'x')).toEqual(state);
    // a view into a larger buffer, as Node's readFile and Buffer.from give
    const pooled = new Uint8Array(bytes.length + 7);
    pooled.set(bytes, 5);
    expect(decodeShardState(pooled.subarray(5, 5 + bytes.length), 'x')).toEqual(state);
    expect(decodeShardState(Buffer.from(bytes), 'x')).toEqual(state);
    expect(() => decodeShardState(bytes.subarray(0, bytes.length - 4), 'shards/3.state')).toThrow(/^shards\/3\.state: \d+ bytes, expected \d+ from its header/);
    expect(() => decodeShardState(new TextEncoder().encode('{"not":"a shard"}'), 'f.state')).toThrow(
      /f\.state: not an evaluation shard state \(expected the bytes to start with HGMSHRD1\)/,
    );
  });
});
