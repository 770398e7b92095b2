import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '@hgm/tensor/testing';
import { openSafetensors } from '@hgm/tensor/node';
import {
  writeSyntheticDataset,
  readDatasetFromDisk,
  nodeFileSystem,
  decodeImagePureJs,
  encodeJpeg,
  encodePng,
  nodeImageDecoder,
  preprocessImage,
  type DatasetSample,
} from '@hgm/data/node';
import { mkdir } from 'node:fs/promises';
import { train } from './trainer';
import { evaluate, type CategoryResult } from './evaluator';
import { detect } from './detector';
import { expandInputs } from './expand-inputs';
import { predictImages } from './predict-images';
import { originalMapPngs } from './original-maps';
import { ToyModel } from './testing/toy-model';
import type { ProgressEvent } from './progress';

const here = dirname(fileURLToPath(import.meta.url));
let root: string;
let data: string;
let samples: DatasetSample[];
const toyConfig = { size: 32, patch: 8, width: 8, seed: 5 };

beforeAll(async () => {
  await useBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'hgm-engine-'));
  data = join(root, 'data');
  await writeSyntheticDataset(data, { seed: 3, size: 32, domains: ['wood', 'cap'], kinds: ['scratch', 'stain'], trainGood: 2, testGood: 3, testPerKind: 2 });
  const index = await readDatasetFromDisk(data, { format: 'mvtec' });
  samples = index.samples.filter((s) => s.split === 'test');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function trainable(model: ToyModel): Promise<number[]> {
  const out: number[] = [];
  for (const p of model.parameters.entries()) if (p.trainable) out.push(...(await p.variable.data()));
  return out;
}

describe('training', () => {
  it('computes vision features once: later epochs and runs read the cache and give the same loss', async () => {
    const cacheDir = join(root, 'cache-a');
    const counters = { encoderCalls: 0, encodedImages: 0 };
    const m1 = new ToyModel(toyConfig);
    const events: ProgressEvent[] = [];
    const r1 = await train({
      model: m1,
      samples,
      fs: nodeFileSystem,
      outDir: join(root, 'run-a1'),
      featureCacheDir: cacheDir,
      epochs: 3,
      batchSize: 4,
      counters,
      onProgress: (e) => events.push(e),
    });
    expect(counters.encodedImages).toBe(samples.length);
    expect(m1.encodeCalls).toBe(counters.encoderCalls);
    expect(r1.featureCache.writes).toBe(samples.length);
    expect(r1.history.length).toBe(3 * Math.ceil(samples.length / 4));
    expect(events.filter((e) => e.type === 'epoch').length).toBe(3);
    const step = events.find((e) => e.type === 'step');
    expect(step && step.type === 'step' && Object.keys(step.terms).sort()).toEqual(['image', 'pixel']);
    // A second run over the same images: the encoder never runs, and every step's loss is identical.
    const counters2 = { encoderCalls: 0, encodedImages: 0 };
    const m2 = new ToyModel(toyConfig);
    const r2 = await train({
      model: m2,
      samples,
      fs: nodeFileSystem,
      outDir: join(root, 'run-a2'),
      featureCacheDir: cacheDir,
      epochs: 3,
      batchSize: 4,
      counters: counters2,
    });
    expect(counters2.encoderCalls).toBe(0);
    expect(m2.encodeCalls).toBe(0);
    expect(r2.history.map((h) => h.loss)).toEqual(r1.history.map((h) => h.loss));
    expect(await trainable(m2)).toEqual(await trainable(m1));
    // Training lowers the loss.
    const first = r1.history.slice(0, 3).reduce((a, h) => a + h.loss, 0);
    const last = r1.history.slice(-3).reduce((a, h) => a + h.loss, 0);
    expect(last).toBeLessThan(first);
    m1.dispose();
    m2.dispose();
  });

  it('writes atomic checkpoints with the config and refuses to resume another configuration', async () => {
    const outDir = join(root, 'run-b');
    const m = new ToyModel(toyConfig);
    await train({ model: m, samples, fs: nodeFileSystem, outDir, featureCacheDir: join(root, 'cache-b'), epochs: 1, batchSize: 4 });
    const reader = await openSafetensors(join(outDir, 'checkpoint.safetensors'));
    expect(reader.metadata['format']).toBe('hgm-train-checkpoint');
    expect(reader.metadata['epoch']).toBe('1');
    expect(reader.tensorNames().sort()).toEqual([
      'adam.m.head.bias',
      'adam.m.head.weight',
      'adam.v.head.bias',
      'adam.v.head.weight',
      'param.head.bias',
      'param.head.weight',
    ]);
    await reader.close();
    expect((await readdir(outDir)).sort()).toEqual(['checkpoint.safetensors', 'history.json', 'model.safetensors']);
    const other = new ToyModel({ ...toyConfig, width: 4 });
    await expect(
      train({ model: other, samples, fs: nodeFileSystem, outDir, featureCacheDir: join(root, 'cache-b2'), epochs: 2, batchSize: 4 }),
    ).rejects.toThrow(/checkpoint .*checkpoint\.safetensors: the model configuration is .*"width":8.*, but this run has .*"width":4/);
    m.dispose();
    other.dispose();
  });

  it('stops at a step boundary when aborted, keeps a checkpoint, and the resumed run ends where an uninterrupted one does', async () => {
    const straight = new ToyModel(toyConfig);
    await train({
      model: straight,
      samples,
      fs: nodeFileSystem,
      outDir: join(root, 'run-c1'),
      featureCacheDir: join(root, 'cache-c'),
      epochs: 2,
      batchSize: 4,
    });
    const ctrl = new AbortController();
    const m = new ToyModel(toyConfig);
    let steps = 0;
    const r = await train({
      model: m,
      samples,
      fs: nodeFileSystem,
      outDir: join(root, 'run-c2'),
      featureCacheDir: join(root, 'cache-c'),
      epochs: 2,
      batchSize: 4,
      signal: ctrl.signal,
      onProgress: (e) => {
        if (e.type === 'step' && ++steps === 3) ctrl.abort();
      },
    });
    expect(r.interrupted).toBe(true);
    const resumed = new ToyModel(toyConfig);
    const r2 = await train({
      model: resumed,
      samples,
      fs: nodeFileSystem,
      outDir: join(root, 'run-c2'),
      featureCacheDir: join(root, 'cache-c'),
      epochs: 2,
      batchSize: 4,
    });
    expect(r2.resumedFrom).toEqual({ epoch: 1, step: 3 });
    expect(await trainable(resumed)).toEqual(await trainable(straight));
    for (const x of [straight, m, resumed]) x.dispose();
  });

  it('resumes after the training process is killed and ends with the same parameters', async () => {
    const script = join(here, 'testing', 'train-child.ts');
    const run = (outDir: string, killAfterEpoch?: number) =>
      new Promise<{ code: number | null; signal: string | null; stdout: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--conditions=@hgm/source', '--import', 'tsx', script, data, outDir, join(root, 'cache-d'), '4'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (killAfterEpoch !== undefined && stdout.includes(`epoch ${killAfterEpoch}\n`)) child.kill('SIGKILL');
        });
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code, signal) =>
          code !== 0 && signal === null ? reject(new Error(`child failed (${code}): ${stderr}`)) : resolve({ code, signal, stdout }),
        );
      });
    const full = await run(join(root, 'run-d1'));
    const killed = await run(join(root, 'run-d2'), 2);
    expect(killed.signal).toBe('SIGKILL');
    const ck = await openSafetensors(join(root, 'run-d2', 'checkpoint.safetensors'));
    expect(Number(ck.metadata['epoch'])).toBeGreaterThanOrEqual(2);
    await ck.close();
    const resumed = await run(join(root, 'run-d2'));
    const last = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
    expect(last(resumed.stdout).resumedFrom.epoch).toBeGreaterThanOrEqual(3);
    expect(last(resumed.stdout).params).toEqual(last(full.stdout).params);
  }, 240_000);
});

describe('evaluation and detection', () => {
  it('evaluates per category with every metric and writes tables and maps', async () => {
    const m = new ToyModel(toyConfig);
    await train({ model: m, samples, fs: nodeFileSystem, outDir: join(root, 'run-e'), featureCacheDir: join(root, 'cache-e'), epochs: 2, batchSize: 4 });
    const outDir = join(root, 'eval-e');
    const r = await evaluate({ model: m, samples, fs: nodeFileSystem, featureCacheDir: join(root, 'cache-e'), outDir, saveMaps: true, keepExamples: 2 });
    expect(r.categories.map((c) => c.category)).toEqual(['cap', 'wood']);
    expect(r.categories[0]!.images).toBe(3 + 2 * 2);
    expect(r.categories[0]!.anomalous).toBe(4);
    for (const c of r.categories) for (const k of r.metrics) expect('value' in c.metrics[k]!).toBe(true);
    const auroc = r.categories.map((c) => (c.metrics['image_auroc'] as { value: number }).value);
    expect((r.mean['image_auroc'] as { value: number }).value).toBeCloseTo((auroc[0]! + auroc[1]!) / 2, 12);
    const md = await readFile(join(outDir, 'metrics.md'), 'utf8');
    expect(md).toContain('| category | images | anomalous | image_auroc | image_f1_max | image_ap | pixel_auroc | pixel_ap | aupro_mvtec@0.3 |');
    expect(md).toContain('| **mean** | 14 | 8 |');
    const json = JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8'));
    expect(json.categories.length).toBe(2);
    expect((await readFile(join(outDir, 'metrics.csv'), 'utf8')).split('\n')[0]).toBe(
      'category,images,anomalous,image_auroc,image_f1_max,image_ap,pixel_auroc,pixel_ap,aupro_mvtec@0.3',
    );
    expect(r.files.filter((f) => f.endsWith('_overlay.png')).length).toBe(samples.length);
    expect(r.examples.length).toBe(4);
    expect(Array.from(r.examples[0]!.heatmap.slice(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    m.dispose();
  });

  it('marks the degenerate image metrics of a category whose test images are of one class', async () => {
    const m = new ToyModel(toyConfig);
    const oneClass = samples.filter((s) => s.category === 'wood' || s.label === 1);
    const r = await evaluate({
      model: m,
      samples: oneClass,
      fs: nodeFileSystem,
      featureCacheDir: join(root, 'cache-one-class'),
      outDir: join(root, 'eval-one-class'),
      metrics: ['image_auroc', 'image_f1_max', 'image_ap'],
    });
    const [cap, wood] = r.categories as [CategoryResult, CategoryResult];
    expect(cap.imageNote).toBe('no normal image: image AUROC n/a; image F1-max and AP count the 4 anomalous images only (1 whatever the scores)');
    expect(wood.imageNote).toBeUndefined();
    expect(cap.metrics['image_auroc']).toEqual({ error: expect.stringMatching(/one class|single/i) });
    expect(cap.metrics['image_ap']).toEqual({ value: 1 });
    const md = await readFile(join(root, 'eval-one-class', 'metrics.md'), 'utf8');
    expect(md).toContain('| cap | 4 | 4 | n/a | 100.0* | 100.0* |');
    expect(md).toContain('Image labels (* degenerate values, in the means too):\n- cap: no normal image');
    expect(md).not.toMatch(/\| wood [^\n]*\*/);
    expect(JSON.parse(await readFile(join(root, 'eval-one-class', 'metrics.json'), 'utf8')).categories[0].imageNote).toBe(cap.imageNote);
    m.dispose();
  });

  it('decodes each image once: maps and overlays reuse the decoding of the features', async () => {
    const m = new ToyModel(toyConfig);
    const counting = () => {
      const names: string[] = [];
      return {
        names,
        decode: (bytes: Uint8Array, name: string) => {
          names.push(name);
          return decodeImagePureJs(bytes, name);
        },
      };
    };
    const masks = samples.flatMap((s) => s.maskPaths);
    const once = (names: string[], expected: readonly string[]) => expect([...names].sort()).toEqual([...expected].sort());
    // evaluation with maps and examples: every image and mask decoded once, on either scale
    for (const mapSize of ['original', 'model'] as const) {
      const c = counting();
      const r = await evaluate({
        model: m,
        samples,
        fs: nodeFileSystem,
        featureCacheDir: join(root, `cache-once-run-${mapSize}`),
        outDir: join(root, `eval-once-run-${mapSize}`),
        saveMaps: true,
        keepExamples: 2,
        mapSize,
        mapScale: 'run',
        decode: c.decode,
      });
      once(c.names, [...samples.map((s) => s.imagePath), ...masks]);
      expect(r.mapScale.mode).toBe('run');
      expect(r.files.filter((f) => f.endsWith('_overlay.png')).length).toBe(samples.length);
      expect(r.examples.length).toBe(4);
    }
    for (const mapSize of ['original', 'model'] as const) {
      const c = counting();
      const r = await evaluate({
        model: m,
        samples,
        fs: nodeFileSystem,
        featureCacheDir: join(root, `cache-once-${mapSize}`),
        outDir: join(root, `eval-once-${mapSize}`),
        saveMaps: true,
        keepExamples: 2,
        mapSize,
        decode: c.decode,
      });
      once(c.names, [...samples.map((s) => s.imagePath), ...masks]);
      expect(r.files.filter((f) => f.endsWith('_overlay.png')).length).toBe(samples.length);
      // a second run reads the features from the cache and still decodes each image once, for its maps
      const again = counting();
      const r2 = await evaluate({
        model: m,
        samples,
        fs: nodeFileSystem,
        featureCacheDir: join(root, `cache-once-${mapSize}`),
        outDir: join(root, `eval-once2-${mapSize}`),
        saveMaps: true,
        keepExamples: 2,
        mapSize,
        decode: again.decode,
      });
      once(again.names, [...samples.map((s) => s.imagePath), ...masks]);
      expect(r2.scores).toEqual(r.scores);
      for (const f of r.files.filter((x) => x.endsWith('.png')))
        expect(Buffer.compare(await readFile(f), await readFile(f.replace(`eval-once-${mapSize}`, `eval-once2-${mapSize}`)))).toBe(0);
    }
    // detection, on the fixed scale and on the run's scale (maps drawn after the whole run), both map sizes
    const images = (await expandInputs([join(data, 'wood', 'test')])).slice(0, 5);
    for (const mapSize of ['original', 'model'] as const) {
      for (const mapScale of ['fixed', 'run'] as const) {
        const c = counting();
        const r = await detect({
          model: m,
          images,
          fs: nodeFileSystem,
          outDir: join(root, `detect-once-${mapSize}-${mapScale}`),
          mapSize,
          mapScale,
          batchSize: 2,
          decode: c.decode,
        });
        once(c.names, images);
        for (const [j, d] of r.detections.entries()) {
          const overlay = decodeImagePureJs(await readFile(d.overlay!), d.overlay!);
          const source = decodeImagePureJs(await readFile(images[j]!), images[j]!);
          expect([overlay.width, overlay.height]).toEqual(mapSize === 'model' ? [32, 32] : [source.width, source.height]);
        }
      }
    }
    // on the run's scale, the overlays drawn from the kept decoding are those drawn from a fresh decoding
    const run = await detect({ model: m, images, fs: nodeFileSystem, outDir: join(root, 'detect-once-check'), mapScale: 'run', batchSize: 2 });
    for (const [j, d] of run.detections.entries()) {
      const image = decodeImagePureJs(await readFile(images[j]!), images[j]!);
      const { maps } = await predictImages(m, [preprocessImage(image, m.preprocess)]);
      const want = decodeImagePureJs(originalMapPngs(image, maps, m.preprocess, { norm: run.scale }).overlay, 'want.png');
      const got = decodeImagePureJs(await readFile(d.overlay!), d.overlay!);
      expect([got.width, got.height]).toEqual([want.width, want.height]);
      let worst = 0;
      for (let i = 0; i < got.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want.data[i]!));
      expect(worst).toBeLessThanOrEqual(1);
    }
    m.dispose();
  });

  it('detects on folders and globs, decides with a threshold, and names a corrupt image', async () => {
    const m = new ToyModel(toyConfig);
    const images = await expandInputs([join(data, 'wood', 'test'), join(data, 'cap', 'test', '*', '000.png')]);
    expect(images.length).toBe(7 + 3);
    const outDir = join(root, 'detect');
    const r = await detect({ model: m, images, fs: nodeFileSystem, outDir, threshold: 0.5 });
    expect(r.detections.length).toBe(10);
    for (const d of r.detections) {
      expect(d.score).toBeGreaterThanOrEqual(0);
      expect(d.score).toBeLessThanOrEqual(1);
      expect(d.anomalous).toBe(d.score >= 0.5);
      expect((await stat(d.heatmap!)).size).toBeGreaterThan(0);
    }
    // Stems collide across folders (000.png), so names carry the folder path.
    expect(new Set(r.detections.map((d) => d.heatmap)).size).toBe(10);
    const csv = (await readFile(r.scoresCsv, 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('image,score,anomalous,max_map,heatmap,overlay');
    expect(csv.length).toBe(11);
    const bad = join(root, 'bad.png');
    await writeFile(bad, 'not a png');
    await expect(detect({ model: m, images: [bad], fs: nodeFileSystem, outDir: join(root, 'detect-bad') })).rejects.toThrow(/bad\.png/);
    const skipped = await detect({ model: m, images: [bad, images[0]!], fs: nodeFileSystem, outDir: join(root, 'detect-skip'), skipCorrupt: true });
    expect(skipped.skipped.map((s) => s.image)).toEqual([bad]);
    expect(skipped.detections.length).toBe(1);
    await expect(expandInputs([join(root, 'nothing-*.png')])).rejects.toThrow(/nothing-\*\.png: the pattern matches no image/);
    await expect(expandInputs([join(root, 'missing-folder')])).rejects.toThrow(/missing-folder: no such file or folder/);
    m.dispose();
  });

  it("writes maps at each image's own size, one file per input when stems collide across extensions, and pixel metrics n/a without masks", async () => {
    const m = new ToyModel(toyConfig);
    const folder = join(root, 'brain');
    await mkdir(join(folder, 'good'), { recursive: true });
    await mkdir(join(folder, 'tumor'), { recursive: true });
    const rgb = (w: number, h: number, seed: number) => Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 31 + seed * 17) % 251);
    await writeFile(join(folder, 'good', 'n1.png'), encodePng({ width: 40, height: 24, channels: 3, bitDepth: 8, data: rgb(40, 24, 1) }));
    await writeFile(join(folder, 'good', 'n2.png'), encodePng({ width: 24, height: 24, channels: 3, bitDepth: 8, data: rgb(24, 24, 2) }));
    await writeFile(join(folder, 'tumor', 'Y92.png'), encodePng({ width: 48, height: 30, channels: 3, bitDepth: 8, data: rgb(48, 30, 3) }));
    await writeFile(join(folder, 'tumor', 'Y92.jpg'), encodeJpeg({ width: 30, height: 44, channels: 3, data: rgb(30, 44, 4) }));
    const decode = nodeImageDecoder();
    const images = [join(folder, 'tumor', 'Y92.png'), join(folder, 'tumor', 'Y92.jpg')];
    const r = await detect({ model: m, images, fs: nodeFileSystem, outDir: join(root, 'detect-brain'), threshold: 0.5, decode });
    expect(r.detections.map((d) => d.heatmap!.split('/').pop())).toEqual(['Y92_png_heatmap.png', 'Y92_jpg_heatmap.png']);
    const sizes = await Promise.all(r.detections.map(async (d) => decodeImagePureJs(await readFile(d.overlay!), d.overlay!)));
    expect(sizes.map((s) => [s.width, s.height])).toEqual([
      [48, 30],
      [30, 44],
    ]);
    expect(decodeImagePureJs(await readFile(r.colorBar!), r.colorBar!).height).toBeGreaterThan(200);
    const modelSize = await detect({ model: m, images, fs: nodeFileSystem, outDir: join(root, 'detect-brain-model'), mapSize: 'model', decode });
    const small = decodeImagePureJs(await readFile(modelSize.detections[0]!.overlay!), 'o.png');
    expect([small.width, small.height]).toEqual([32, 32]);

    const brain = (await readDatasetFromDisk(folder)).samples;
    expect(brain.filter((s) => s.label === 1).length).toBe(2);
    const outDir = join(root, 'eval-brain');
    const e = await evaluate({ model: m, samples: brain, fs: nodeFileSystem, featureCacheDir: join(root, 'cache-brain'), outDir, saveMaps: true, decode });
    for (const k of ['pixel_auroc', 'pixel_ap', 'aupro_mvtec@0.3']) {
      expect(e.categories[0]!.metrics[k]).toEqual({ error: expect.stringMatching(/^no masks: none of the 2 anomalous images has a ground-truth mask/) });
      expect(e.mean[k]).toEqual({ error: expect.stringMatching(/^no masks/) });
    }
    expect('value' in e.categories[0]!.metrics['image_auroc']!).toBe(true);
    const md = await readFile(join(outDir, 'metrics.md'), 'utf8');
    expect(md).toMatch(/no masks: pixel metrics n\/a \(2 anomalous images without a ground-truth mask\)/);
    const overlays = e.files.filter((f) => f.endsWith('_overlay.png')).map((f) => f.split('/').slice(-2).join('/'));
    expect(overlays.sort()).toEqual(['good/n1_overlay.png', 'good/n2_overlay.png', 'tumor/Y92_jpg_overlay.png', 'tumor/Y92_png_overlay.png']);
    m.dispose();
  });

  it("colours maps over the run's own range with --map-scale run and writes that range into the legend and the tables", async () => {
    const m = new ToyModel(toyConfig);
    const images = (await expandInputs([join(data, 'wood', 'test')])).slice(0, 5);
    const fixed = await detect({ model: m, images, fs: nodeFileSystem, outDir: join(root, 'detect-fixed'), mapSize: 'model' });
    const run = await detect({ model: m, images, fs: nodeFileSystem, outDir: join(root, 'detect-run'), mapSize: 'model', mapScale: 'run', batchSize: 2 });
    expect(fixed.scale).toEqual({ mode: 'fixed', min: 0, max: 1 });
    expect(run.detections.map((d) => d.score)).toEqual(fixed.detections.map((d) => d.score));
    expect(run.scale.mode).toBe('run');
    expect(run.scale.max).toBeCloseTo(Math.max(...run.detections.map((d) => d.maxMap)), 6);
    expect(run.scale.max - run.scale.min).toBeLessThan(1);
    const written = JSON.parse(await readFile(run.scoresJson, 'utf8'));
    expect(written.mapScale).toEqual(run.scale);
    // on the run's scale the smallest map value gets the bottom colour and the largest the top colour
    const colours = new Set<string>();
    for (const d of run.detections) {
      const png = decodeImagePureJs(await readFile(d.heatmap!), d.heatmap!);
      for (let i = 0; i < png.width * png.height; i++) colours.add(Array.from(png.data.slice(3 * i, 3 * i + 3)).join(','));
    }
    expect(colours.has('48,18,59')).toBe(true);
    expect(colours.has('122,4,3')).toBe(true);
    // the legend is the run's: its labels differ from the fixed one
    expect(Buffer.compare(await readFile(run.colorBar!), await readFile(fixed.colorBar!))).not.toBe(0);
    expect(await readdir(join(root, 'detect-run', 'maps'))).toHaveLength(2 * 5 + 1);

    const outDir = join(root, 'eval-run');
    const e = await evaluate({
      model: m,
      samples,
      fs: nodeFileSystem,
      featureCacheDir: join(root, 'cache-run'),
      outDir,
      saveMaps: true,
      mapScale: 'run',
      keepExamples: 1,
    });
    expect(e.mapScale.mode).toBe('run');
    expect(e.mapScale.min).toBeGreaterThanOrEqual(0);
    expect(e.mapScale.max).toBeLessThanOrEqual(1);
    expect(e.mapScale.max).toBeGreaterThan(e.mapScale.min);
    expect(JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8')).mapScale).toEqual(e.mapScale);
    const plain = await evaluate({ model: m, samples, fs: nodeFileSystem, featureCacheDir: join(root, 'cache-run') });
    expect(plain.mapScale).toEqual({ mode: 'fixed', min: 0, max: 1 });
    expect(plain.categories).toEqual(e.categories);
    m.dispose();
  });

  it('does not leak tensors over repeated training steps and predictions', async () => {
    const m = new ToyModel(toyConfig);
    await train({
      model: m,
      samples: samples.slice(0, 4),
      fs: nodeFileSystem,
      outDir: join(root, 'run-f0'),
      featureCacheDir: join(root, 'cache-f'),
      epochs: 1,
      batchSize: 2,
    });
    const before = tf.memory().numTensors;
    await train({
      model: m,
      samples: samples.slice(0, 4),
      fs: nodeFileSystem,
      outDir: join(root, 'run-f1'),
      featureCacheDir: join(root, 'cache-f'),
      epochs: 2,
      batchSize: 2,
    });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
