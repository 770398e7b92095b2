// End-to-end tests of the built `hgm` binary: every command, its --help, config files, --json, exit codes,
// and the bad inputs a user meets (corrupt or missing images, unknown layouts, checkpoints of another
// configuration, weights that do not fit, unwritable output, Ctrl-C during training).
import { createRequire } from 'node:module';
import { loadOnnxRuntime } from '@hgm/onnx';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile, readFile, cp, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safetensorsWithHeaderLength, useBackend } from '@hgm/tensor/testing';
import { openSafetensors, writeSafetensorsFile } from '@hgm/tensor/node';
import { ClipModel, Dinov3VisionTransformer } from '@hgm/backbone';
import { resolveConfig, TINY_CONFIG } from '@hgm/dual-anchor';
import { decodeImage, writeSyntheticDataset } from '@hgm/data/node';
import { ensureBuilt, repoRoot, runHgm, type RunResult } from './test-support';
import { EXIT } from './exit-codes';

let root: string;
let data: string;
let env: Record<string, string>;
/** Output of the first training run (tiny, 32 px), shared by eval / detect / bad-input tests. */
let trained: string;

const TRAIN_ARGS = ['--model', 'tiny', '--image-size', '32', '--batch-size', '4', '--backend', 'cpu'];

function hgm(args: string[], options: Parameters<typeof runHgm>[1] = {}): Promise<RunResult> {
  return runHgm(args, { ...options, env: { ...env, ...options.env } });
}

function json(r: RunResult): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

beforeAll(async () => {
  ensureBuilt();
  root = await mkdtemp(join(tmpdir(), 'hgm-cli-'));
  data = join(root, 'data');
  env = { HGM_CACHE: join(root, 'cache'), HGM_OFFLINE: '1' };
  await writeSyntheticDataset(data, { seed: 4, size: 32, domains: ['wood', 'cap'], kinds: ['scratch', 'stain'], trainGood: 2, testGood: 3, testPerKind: 2 });
  trained = join(root, 'trained');
  const r = await hgm(['train', '--data', data, '--out', trained, '--epochs', '2', ...TRAIN_ARGS, '--json']);
  expect(r.code, r.stderr).toBe(EXIT.ok);
}, 180_000);

/** A valid gray PNG of zeros, deflated row by row as a stream (the raster is never held). */
async function hugeGrayPng(width: number, height: number): Promise<Buffer> {
  const { createDeflate, crc32 } = await import('node:zlib');
  const chunk = (type: string, body: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, 'ascii');
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  const row = Buffer.alloc(width + 1);
  for (let y = 0; y < height; y++) if (!deflate.write(row)) await new Promise((resolve) => deflate.once('drain', resolve));
  deflate.end();
  await done;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.concat(parts)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('help and usage', () => {
  it.each([
    [[], 'Usage: hgm'],
    [['train'], '--batch-size <n>'],
    [['eval'], '--checkpoint <file>'],
    [['detect'], '--threshold <score>'],
    [['detect'], '--map-scale <scale>'],
    [['eval'], '--map-scale <scale>'],
    [['demo'], '--require-auroc <x>'],
    [['data', 'inspect'], '--skip-corrupt'],
    [['weights', 'list'], '--cache-dir <dir>'],
    [['weights', 'pull'], 'hgm weights pull clip-vit-l-14-336'],
    [['weights', 'verify'], '<target>'],
  ])('%j --help prints the usage and exits 0', async (cmd, expected) => {
    const r = await hgm([...cmd, '--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain(`Usage: hgm${cmd.length ? ` ${cmd.join(' ')}` : ''}`);
    expect(r.stdout).toContain(expected);
  });

  it('rejects unknown options and missing arguments with exit 64', async () => {
    const unknown = await hgm(['train', '--epoch', '3']);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain("unknown option '--epoch'");
    const missing = await hgm(['eval', '--data', data]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toMatch(/missing --checkpoint, --out/);
    const bad = await hgm(['train', '--data', data, '--out', join(root, 'x'), '--epochs', 'two']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('option --epochs must be an integer, found "two"');
  });
});

describe('train, eval, detect on the tiny configuration', () => {
  it('train wrote the model, the resumable checkpoint and the history; --json prints only JSON', async () => {
    expect((await readdir(trained)).sort()).toEqual(['checkpoint.safetensors', 'history.json', 'model.safetensors']);
    const reader = await openSafetensors(join(trained, 'model.safetensors'));
    expect(reader.metadata['kind']).toBe('dual-anchor');
    expect(JSON.parse(reader.metadata['config']!).imageSize).toBe(32);
    expect(JSON.parse(reader.metadata['hgm.frozen']!)).toEqual({ kind: 'random', seed: 0 });
    await reader.close();
    const history = JSON.parse(await readFile(join(trained, 'history.json'), 'utf8')) as unknown[];
    expect(history.length).toBe(2 * Math.ceil(14 / 4));
  });

  it('merges a YAML config file under the flags and reports the chosen backend', async () => {
    const cfg = join(root, 'train.yaml');
    await writeFile(cfg, `data: ${data}\ncategories: [wood]\nepochs: 5\nbatchSize: 4\nmodel: tiny\nimageSize: 32\nbackend: cpu\n`);
    const out = join(root, 'from-config');
    const r = await hgm(['train', '--config', cfg, '--out', out, '--epochs', '1', '--verbose']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stderr).toContain('backend: cpu (@tensorflow/tfjs-backend-cpu)');
    expect(r.stderr).toMatch(/training set: 7 images \(4 anomalous\) of wood/);
    expect(r.stderr).toContain('model: dual-anchor tiny (--model tiny; random frozen weights (seed 0): a smoke test, not a detector)');
    expect(r.stdout).toContain('trained 1 epochs (2 steps');
    const badField = join(root, 'bad.yaml');
    await writeFile(badField, 'data: x\nepocs: 3\n');
    const e1 = await hgm(['train', '--config', badField, '--out', out]);
    expect(e1.code).toBe(EXIT.usage);
    expect(e1.stderr).toContain(`config file ${badField}: unknown field "epocs"; known fields: data, format`);
    const badType = join(root, 'bad.json');
    await writeFile(badType, JSON.stringify({ data, batchSize: 0 }));
    const e2 = await hgm(['train', '--config', badType, '--out', out]);
    expect(e2.code).toBe(EXIT.usage);
    expect(e2.stderr).toContain(`config file ${badType}: field "batchSize" must be at least 1, found 0`);
  });

  it('--image-size WIDTHxHEIGHT: trains at [height, width], a second run reads the feature cache, eval writes maps at the image size or the model size', async () => {
    const base = [
      '--data',
      data,
      '--categories',
      'wood',
      '--model',
      'tiny',
      '--image-size',
      '40x24',
      '--batch-size',
      '4',
      '--epochs',
      '1',
      '--backend',
      'cpu',
      '--json',
    ];
    const out = join(root, 'wide');
    const first = await hgm(['train', ...base, '--out', out]);
    expect(first.code, first.stderr).toBe(EXIT.ok);
    expect(json(first)['featureCache']).toMatchObject({ writes: 7 });
    const reader = await openSafetensors(join(out, 'model.safetensors'));
    expect(JSON.parse(reader.metadata['config']!).imageSize).toEqual([24, 40]);
    await reader.close();
    const again = await hgm(['train', ...base, '--out', join(root, 'wide-2')]);
    expect(again.code, again.stderr).toBe(EXIT.ok);
    expect(json(again)['featureCache']).toMatchObject({ hits: 7, writes: 0 });
    const size = async (path: string) => {
      const png = await decodeImage(await readFile(path), path);
      return [png.width, png.height];
    };
    const e = await hgm(['eval', '--data', data, '--categories', 'wood', '--checkpoint', out, '--out', join(root, 'wide-eval'), '--backend', 'cpu', '--json']);
    expect(e.code, e.stderr).toBe(EXIT.ok);
    expect(await size(join(root, 'wide-eval', 'maps', 'wood', 'scratch', '000_overlay.png'))).toEqual([32, 32]);
    const m = await hgm([
      'eval',
      '--data',
      data,
      '--categories',
      'wood',
      '--checkpoint',
      out,
      '--out',
      join(root, 'wide-eval-model'),
      '--map-size',
      'model',
      '--image-size',
      '40x24',
      '--backend',
      'cpu',
    ]);
    expect(m.code, m.stderr).toBe(EXIT.ok);
    expect(await size(join(root, 'wide-eval-model', 'maps', 'wood', 'scratch', '000_heatmap.png'))).toEqual([40, 24]);
    const swapped = await hgm([
      'eval',
      '--data',
      data,
      '--categories',
      'wood',
      '--checkpoint',
      out,
      '--out',
      join(root, 'wide-eval-swapped'),
      '--image-size',
      '24x40',
      '--backend',
      'cpu',
    ]);
    expect(swapped.code).toBe(EXIT.dataError);
    expect(swapped.stderr).toMatch(/imageSize: model \[40,24\], checkpoint \[24,40\]/);
    const odd = await hgm(['train', ...base, '--image-size', '40x20', '--out', join(root, 'wide-odd')]);
    expect(odd.code).toBe(EXIT.usage);
    expect(odd.stderr).toContain('imageSize[0] (height): expected a multiple of the patch size 8, found 20 (the nearest multiples are 16 and 24)');
  });

  it('eval writes metrics.{md,csv,json}, scores and maps, and --json carries the same numbers', async () => {
    const out = join(root, 'eval');
    const r = await hgm(['eval', '--data', data, '--checkpoint', trained, '--out', out, '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const result = json(r);
    const onDisk = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as {
      categories: { category: string; images: number; metrics: Record<string, { value?: number }> }[];
    };
    expect(onDisk.categories.map((c) => [c.category, c.images])).toEqual([
      ['cap', 7],
      ['wood', 7],
    ]);
    expect(result['categories']).toEqual(onDisk.categories);
    const auroc = onDisk.categories[0]!.metrics['image_auroc']!.value!;
    expect(auroc).toBeGreaterThanOrEqual(0);
    expect(auroc).toBeLessThanOrEqual(1);
    expect(await readFile(join(out, 'metrics.md'), 'utf8')).toMatch(/\| category \| images \| anomalous \| image_auroc/);
    expect((await readFile(join(out, 'metrics.csv'), 'utf8')).split('\n')[0]).toBe(
      'category,images,anomalous,image_auroc,image_f1_max,image_ap,pixel_auroc,pixel_ap,aupro_mvtec@0.3',
    );
    expect((await readFile(join(out, 'scores.csv'), 'utf8')).trim().split('\n').length).toBe(15);
    expect((await readdir(join(out, 'maps', 'wood', 'scratch'))).sort()).toEqual(['000_heatmap.png', '000_overlay.png', '001_heatmap.png', '001_overlay.png']);
  });

  it('detect scores files, folders and globs, writes maps and decisions, and exits 1 with --fail-on-anomaly', async () => {
    const out = join(root, 'detect');
    const r = await hgm([
      'detect',
      join(data, 'wood', 'test', 'good'),
      `${data}/cap/test/scratch/*.png`,
      '--checkpoint',
      join(trained, 'model.safetensors'),
      '--out',
      out,
      '--threshold',
      '0',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const result = json(r) as { detections: { image: string; score: number; anomalous: boolean; heatmap: string }[]; anomalous: number };
    expect(result.detections.length).toBe(5);
    expect(result.detections.every((d) => d.anomalous && d.score >= 0 && d.score <= 1)).toBe(true);
    expect(result.anomalous).toBe(5);
    const scores = JSON.parse(await readFile(join(out, 'scores.json'), 'utf8')) as { detections: unknown[] };
    expect(scores.detections).toEqual(result.detections);
    expect((await readFile(join(out, 'scores.csv'), 'utf8')).split('\n')[0]).toBe('image,score,anomalous,max_map,heatmap,overlay');
    expect((await readdir(join(out, 'maps'))).length).toBe(10 + 1); // heat map and overlay per image, and the colour bar
    const again = await hgm(['detect', join(data, 'wood', 'test', 'good', '000.png'), '--checkpoint', trained, '--out', out, '--backend', 'cpu']);
    expect(again.code).toBe(EXIT.usage);
    expect(again.stderr).toMatch(/output folder .*detect is not empty \(maps, scores\.csv, scores\.json\)/);
    expect(again.stderr).toContain('--overwrite');
    const strict = await hgm([
      'detect',
      join(data, 'wood', 'test', 'good', '000.png'),
      '--checkpoint',
      trained,
      '--out',
      out,
      '--threshold',
      '0',
      '--fail-on-anomaly',
      '--overwrite',
      '--backend',
      'cpu',
      '--verbose',
    ]);
    expect(strict.code).toBe(EXIT.failed);
    expect(strict.stderr).toMatch(/--overwrite: removed the earlier maps, scores\.json, scores\.csv in /);
    expect(strict.stderr).toMatch(/image decoder: (sharp \(sharp \d+\.\d+\.\d+, libvips|pure-js \()/);
    expect((await readdir(join(out, 'maps'))).length).toBe(2 + 1);
    expect(strict.stdout).toMatch(/ANOMALOUS .*000\.png/);
    expect(strict.stdout).toContain('1 of 1 anomalous at threshold 0');
  });

  it('detect --no-maps writes the score tables only, with the scores of a run with maps', async () => {
    const inputs = [join(data, 'wood', 'test', 'good'), `${data}/cap/test/scratch/*.png`];
    const base = ['detect', ...inputs, '--checkpoint', trained, '--threshold', '0.5', '--backend', 'cpu', '--executor', 'tfjs'];
    const withMaps = await hgm([...base, '--out', join(root, 'detect-maps'), '--json']);
    expect(withMaps.code, withMaps.stderr).toBe(EXIT.ok);
    const out = join(root, 'detect-no-maps');
    const r = await hgm([...base, '--out', out, '--no-maps']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toContain(`written: ${join(out, 'scores.json')}, ${join(out, 'scores.csv')} (no maps: --no-maps)`);
    expect((await readdir(out)).sort()).toEqual(['scores.csv', 'scores.json']);
    const table = JSON.parse(await readFile(join(out, 'scores.json'), 'utf8')) as {
      mapScale?: unknown;
      detections: { score: number; heatmap: unknown; overlay: unknown }[];
    };
    expect(table.mapScale).toBeUndefined();
    expect(table.detections.every((d) => d.heatmap === null && d.overlay === null)).toBe(true);
    const mapped = (json(withMaps) as { detections: { score: number }[] }).detections;
    expect(table.detections.map((d) => d.score)).toEqual(mapped.map((d) => d.score));
    const csvRows = (await readFile(join(out, 'scores.csv'), 'utf8')).trim().split('\n');
    expect(csvRows[0]).toBe('image,score,anomalous,max_map,heatmap,overlay');
    expect(csvRows.slice(1).every((row) => row.endsWith(',,'))).toBe(true);
  });

  it('detect --executor: onnx gives the tfjs scores; without the runtime auto falls back to tfjs and says why, onnx fails', async () => {
    const image = join(data, 'wood', 'test', 'good', '000.png');
    const base = ['detect', image, `${data}/cap/test/scratch/*.png`, '--checkpoint', trained, '--backend', 'cpu', '--json'];
    const tfjs = await hgm([...base, '--out', join(root, 'detect-tfjs'), '--executor', 'tfjs']);
    expect(tfjs.code, tfjs.stderr).toBe(EXIT.ok);
    expect(json(tfjs)['executor']).toBe('tfjs');
    const scores = (r: RunResult) => (json(r) as { detections: { score: number }[] }).detections.map((d) => d.score);
    if (loadOnnxRuntime().ok) {
      const onnx = await hgm([...base, '--out', join(root, 'detect-onnx'), '--executor', 'onnx', '--threads', '1']);
      expect(onnx.code, onnx.stderr).toBe(EXIT.ok);
      expect(json(onnx)['executor']).toBe('onnx');
      // the tiny model's prompts come from HGM's group tokens (DSP), so the text tower runs per image: on ONNX too
      expect(json(onnx)['textExecutor']).toBe('onnx');
      const a = scores(onnx);
      const b = scores(tfjs);
      expect(a.length).toBe(b.length);
      a.forEach((x, i) => expect(Math.abs(x - b[i]!)).toBeLessThan(1e-4));
      // under --backend webgpu the ONNX encoder (and text tower) feed tfjs-webgpu's heads; the WebGPU provider
      // runs where Dawn finds an adapter (lavapipe will do)
      const gpu = [...base.filter((x) => x !== 'cpu' && x !== '--backend'), '--backend', 'webgpu'];
      for (const executor of ['onnx', 'onnx-webgpu']) {
        const r = await hgm([...gpu, '--out', join(root, `detect-webgpu-${executor}`), '--executor', executor, '--threads', '1']);
        if (r.code === EXIT.unavailable && /webgpu|WebGPU|adapter/.test(r.stderr)) continue; // no adapter here
        expect(r.code, r.stderr).toBe(EXIT.ok);
        expect(json(r)).toMatchObject({ backend: 'webgpu', executor, textExecutor: executor });
        scores(r).forEach((x, i) => expect(Math.abs(x - b[i]!), `${executor} image ${i}`).toBeLessThan(1e-3));
      }
    }
    const missing = { HGM_ONNXRUNTIME_PACKAGE: 'onnxruntime-node-absent' };
    const auto = await hgm([...base, '--out', join(root, 'detect-auto')], { env: missing });
    expect(auto.code, auto.stderr).toBe(EXIT.ok);
    expect(json(auto)['executor']).toBe('tfjs');
    expect(json(auto)['executorReason']).toContain('ONNX Runtime not used: the optional package onnxruntime-node-absent is not installed');
    expect(scores(auto)).toEqual(scores(tfjs));
    const forced = await hgm([...base, '--out', join(root, 'detect-forced'), '--executor', 'onnx'], { env: missing });
    expect(forced.code).toBe(EXIT.unavailable);
    expect(forced.stderr).toContain('--executor onnx: the optional package onnxruntime-node-absent is not installed');
  });

  it('train and eval --executor: onnx gives the tfjs losses and scores within 1e-4 and --json names the executor; without the runtime auto falls back to tfjs and says why', async () => {
    const losses = async (out: string) => (JSON.parse(await readFile(join(out, 'history.json'), 'utf8')) as { loss: number }[]).map((h) => h.loss);
    const evalScores = async (out: string) =>
      (await readFile(join(out, 'scores.csv'), 'utf8'))
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => Number(line.split(',').at(-1)));
    const near = (a: number[], b: number[]) => {
      expect(a.length).toBe(b.length);
      expect(a.length).toBeGreaterThan(0);
      a.forEach((x, i) => expect(Math.abs(x - b[i]!), `value ${i}: ${x} vs ${b[i]}`).toBeLessThan(1e-4));
    };
    // Each executor gets its own feature cache, so each computes its features.
    const cache = (name: string) => ({ HGM_CACHE: join(root, `cache-${name}`) });
    const trainArgs = (out: string, executor: string) => [
      'train',
      '--data',
      data,
      '--out',
      join(root, out),
      '--epochs',
      '1',
      ...TRAIN_ARGS,
      '--executor',
      executor,
      '--threads',
      '1',
      '--json',
    ];
    const evalArgs = (out: string, executor: string) => [
      'eval',
      '--data',
      data,
      '--checkpoint',
      trained,
      '--out',
      join(root, out),
      '--no-maps',
      '--backend',
      'cpu',
      '--executor',
      executor,
      '--threads',
      '1',
      '--json',
    ];

    const trainTfjs = await hgm(trainArgs('train-tfjs', 'tfjs'), { env: cache('tfjs') });
    expect(trainTfjs.code, trainTfjs.stderr).toBe(EXIT.ok);
    expect(json(trainTfjs)['executor']).toBe('tfjs');
    const evalTfjs = await hgm(evalArgs('eval-tfjs', 'tfjs'), { env: cache('tfjs') });
    expect(evalTfjs.code, evalTfjs.stderr).toBe(EXIT.ok);
    expect(json(evalTfjs)['executor']).toBe('tfjs');
    if (loadOnnxRuntime().ok) {
      const trainOnnx = await hgm(trainArgs('train-onnx', 'onnx'), { env: cache('onnx') });
      expect(trainOnnx.code, trainOnnx.stderr).toBe(EXIT.ok);
      expect(json(trainOnnx)['executor']).toBe('onnx');
      expect(json(trainOnnx)['featureCache']).toMatchObject({ writes: 14 });
      near(await losses(join(root, 'train-onnx')), await losses(join(root, 'train-tfjs')));
      const evalOnnx = await hgm(evalArgs('eval-onnx', 'onnx'), { env: cache('onnx-eval') });
      expect(evalOnnx.code, evalOnnx.stderr).toBe(EXIT.ok);
      expect(json(evalOnnx)['executor']).toBe('onnx');
      near(await evalScores(join(root, 'eval-onnx')), await evalScores(join(root, 'eval-tfjs')));
      // The WebGPU provider runs where Dawn finds an adapter (a software one will do); elsewhere it fails clearly.
      const evalWebgpu = await hgm(evalArgs('eval-webgpu', 'onnx-webgpu'), { env: cache('webgpu') });
      if (evalWebgpu.code === EXIT.ok) {
        expect(json(evalWebgpu)['executor']).toBe('onnx-webgpu');
        near(await evalScores(join(root, 'eval-webgpu')), await evalScores(join(root, 'eval-tfjs')));
      } else {
        expect(evalWebgpu.code, evalWebgpu.stderr).toBe(EXIT.unavailable);
        expect(evalWebgpu.stderr).toMatch(
          /--executor onnx-webgpu: (ONNX Runtime could not load the encoder: onnx session on webgpu: |onnxruntime-node \S+ on this platform has no WebGPU execution provider)/,
        );
      }
    }
    const missing = { ...cache('tfjs'), HGM_ONNXRUNTIME_PACKAGE: 'does-not-exist' };
    const trainAuto = await hgm(trainArgs('train-auto', 'auto'), { env: missing });
    expect(trainAuto.code, trainAuto.stderr).toBe(EXIT.ok);
    expect(json(trainAuto)['executor']).toBe('tfjs');
    expect(json(trainAuto)['executorReason']).toContain('ONNX Runtime not used: the optional package does-not-exist is not installed');
    expect(await losses(join(root, 'train-auto'))).toEqual(await losses(join(root, 'train-tfjs')));
    const evalAuto = await hgm(evalArgs('eval-auto', 'auto'), { env: missing });
    expect(evalAuto.code, evalAuto.stderr).toBe(EXIT.ok);
    expect(json(evalAuto)['executor']).toBe('tfjs');
    expect(json(evalAuto)['executorReason']).toContain('ONNX Runtime not used: the optional package does-not-exist is not installed');
    expect(await evalScores(join(root, 'eval-auto'))).toEqual(await evalScores(join(root, 'eval-tfjs')));
    const forced = await hgm(evalArgs('eval-forced', 'onnx'), { env: missing });
    expect(forced.code).toBe(EXIT.unavailable);
    expect(forced.stderr).toContain('--executor onnx: the optional package does-not-exist is not installed');
  }, 360_000);
});

describe('export onnx', () => {
  it('writes a model (inline and external data) that onnxruntime-node loads and that reproduces the fixture outputs', async () => {
    if (!loadOnnxRuntime().ok) return;
    const fixture = join(repoRoot, 'fixtures', 'vit', 'dinov3-tiny');
    const ort = createRequire(import.meta.url)('onnxruntime-node') as {
      InferenceSession: { create(path: string): Promise<{ run(feeds: object): Promise<Record<string, { data: Float32Array }>>; release(): Promise<void> }> };
      Tensor: new (type: string, data: Float32Array, dims: readonly number[]) => object;
    };
    const inputs = await openSafetensors(join(fixture, 'inputs.safetensors'));
    const outputs = await openSafetensors(join(fixture, 'outputs.safetensors'));
    const pixels = await inputs.readHost('pixel_values_up');
    const expected = await outputs.readHost('up.x_prenorm');
    await inputs.close();
    await outputs.close();
    for (const external of ['never', 'always']) {
      const out = join(root, `export-${external}`, 'dinov3.onnx');
      const r = await hgm([
        'export',
        'onnx',
        '--backbone',
        'dinov3',
        '--config',
        join(fixture, 'config.json'),
        '--weights',
        join(fixture, 'weights.safetensors'),
        '--image-size',
        '24',
        '--external-data',
        external,
        '--out',
        out,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(EXIT.ok);
      expect(Boolean(json(r)['dataPath'])).toBe(external === 'always');
      const session = await ort.InferenceSession.create(out);
      const got = await session.run({ pixel_values: new ort.Tensor('float32', pixels.data as Float32Array, pixels.shape) });
      await session.release();
      const e = expected.data as Float32Array;
      const worst = got['prenorm']!.data.reduce((m, v, i) => Math.max(m, Math.abs(v - e[i]!) - 1e-4 * Math.abs(e[i]!)), 0);
      expect(got['prenorm']!.data.length).toBe(e.length);
      expect(worst).toBeLessThan(1e-4);
    }
    const bad = await hgm([
      'export',
      'onnx',
      '--backbone',
      'dinov3',
      '--config',
      join(fixture, 'config.json'),
      '--weights',
      join(fixture, 'weights.safetensors'),
      '--image-size',
      '18',
      '--out',
      join(root, 'bad.onnx'),
    ]);
    expect(bad.code).not.toBe(EXIT.ok);
    expect(bad.stderr).toContain('image size: expected a multiple of the patch size 4, found 18 (the nearest multiples are 16 and 20)');
  });
});

describe('data and weights', () => {
  it('data inspect prints per-category counts, JSON on request, and exits 1 on a broken set', async () => {
    const r = await hgm(['data', 'inspect', data]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/wood/);
    const j = json(await hgm(['data', 'inspect', data, '--json']));
    expect(j['ok']).toBe(true);
    expect(j['totals']).toMatchObject({ images: 18, anomalous: 8 });
  });

  it('--normal-dir / --abnormal-dir read a no/ + yes/ folder (BrainMRI and HeadCT as distributed) in data inspect, eval and train', async () => {
    const brain = join(root, 'brain_mri');
    await mkdir(join(brain, 'no'), { recursive: true });
    await mkdir(join(brain, 'yes'), { recursive: true });
    for (const [i, f] of (await readdir(join(data, 'wood', 'test', 'good'))).slice(0, 3).entries())
      await cp(join(data, 'wood', 'test', 'good', f), join(brain, 'no', `${i} no.png`));
    for (const [i, f] of (await readdir(join(data, 'wood', 'test', 'scratch'))).slice(0, 2).entries())
      await cp(join(data, 'wood', 'test', 'scratch', f), join(brain, 'yes', `Y${i}.png`));
    const plain = await hgm(['data', 'inspect', brain]);
    expect(plain.code).toBe(EXIT.failed);
    expect(plain.stdout + plain.stderr).toMatch(/no known layout/);
    const names = ['--normal-dir', 'no', '--abnormal-dir', 'yes'];
    const inspect = json(await hgm(['data', 'inspect', brain, ...names, '--json']));
    expect(inspect['ok']).toBe(true);
    expect(inspect['totals']).toMatchObject({ images: 5, anomalous: 2 });
    const e = await hgm([
      'eval',
      '--data',
      brain,
      ...names,
      '--checkpoint',
      trained,
      '--out',
      join(root, 'eval-brain'),
      '--metrics',
      'image_auroc',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(e.code, e.stderr).toBe(EXIT.ok);
    expect(json(e)).toMatchObject({ categories: [{ category: 'brain_mri', images: 5, anomalous: 2 }] });
    const t = await hgm(['train', '--data', brain, ...names, '--out', join(root, 'train-brain'), '--epochs', '1', ...TRAIN_ARGS]);
    expect(t.code, t.stderr).toBe(EXIT.ok);
    expect(t.stderr).toContain('training set: 5 images (2 anomalous) of brain_mri');
    const wrongFormat = await hgm(['eval', '--data', brain, ...names, '--format', 'mvtec', '--checkpoint', trained, '--out', join(root, 'eval-brain-2')]);
    expect(wrongFormat.code).toBe(EXIT.usage);
  });

  it('weights list and verify (a file by path), and pull offline exits 69 naming what to fetch', async () => {
    const list = json(await hgm(['weights', 'list', '--json']));
    expect(list['cacheDir']).toBe(join(root, 'cache'));
    const names = (list['weights'] as { name: string; files: { cached: boolean }[] }[]).map((w) => w.name);
    expect(names).toContain('clip-vit-l-14-336');
    expect(names).toContain('dinov3-vitl16');
    const { clipPath } = await tinyWeightFiles();
    const ok = await hgm(['weights', 'verify', clipPath, '--json']);
    expect(ok.code, ok.stderr).toBe(EXIT.ok);
    expect(json(ok)).toMatchObject({ ok: true, files: [{ keyFormat: 'openai' }] });
    const bad = join(root, 'not-weights.safetensors');
    await writeFile(bad, 'this is not a safetensors file');
    const v = await hgm(['weights', 'verify', bad]);
    expect(v.code).toBe(EXIT.failed);
    expect(v.stdout).toContain(`FAILED   ${bad}`);
    const pull = await hgm(['weights', 'pull', 'clip-vit-b-16']);
    expect(pull.code).toBe(EXIT.unavailable);
    expect(pull.stderr).toMatch(
      /weights clip-vit-b-16: .*model\.safetensors is not in the cache and offline mode is on; download https:\/\/huggingface\.co\/openai\/clip-vit-base-patch16\/resolve\/main\/model\.safetensors/,
    );
  });
});

describe('PyTorch checkpoints as frozen weights', () => {
  const torchFixture = (file: string): string => join(repoRoot, 'fixtures', 'torch', file);
  /** hgm detect on the wood test images with the given frozen weights files: image, score and map maximum of each. */
  const detectWith = async (clip: string, backbone: string, out: string) => {
    const r = await hgm([
      'detect',
      join(data, 'wood', 'test', 'good'),
      '--checkpoint',
      trained,
      '--out',
      join(root, out),
      '--clip-weights',
      clip,
      '--backbone-weights',
      backbone,
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    return (json(r) as { detections: { image: string; score: number; maxMap?: number }[] }).detections.map((d) => ({
      image: d.image,
      score: d.score,
      maxMap: d.maxMap,
    }));
  };

  it('detect with --clip-weights model.pt (TorchScript) and --backbone-weights model.pth gives the outputs of their safetensors twins; verify accepts them', async () => {
    const run = async (clip: string, backbone: string, out: string) => detectWith(torchFixture(clip), torchFixture(backbone), out);
    const twins = await run('tiny-clip.safetensors', 'tiny-dinov3.safetensors', 'detect-safetensors');
    const torch = await run('tiny-clip.pt', 'tiny-dinov3.pth', 'detect-torch');
    expect(twins.length).toBe(3);
    expect(torch).toEqual(twins);
    const random = json(
      await hgm(['detect', join(data, 'wood', 'test', 'good'), '--checkpoint', trained, '--out', join(root, 'detect-random'), '--backend', 'cpu', '--json']),
    ) as { detections: { score: number }[] };
    expect(random.detections.map((d) => d.score)).not.toEqual(twins.map((d) => d.score));
    for (const [file, keyFormat] of [
      ['tiny-clip.pt', 'openai'],
      ['tiny-dinov3.pth', 'dinov3'],
    ] as const) {
      const v = await hgm(['weights', 'verify', torchFixture(file), '--json']);
      expect(v.code, v.stderr).toBe(EXIT.ok);
      expect(json(v)).toMatchObject({ ok: true, files: [{ keyFormat }] });
    }
  });

  it('safetensors files whose header length starts like a pickle (0x80) or a zip ("PK") load as safetensors in detect and weights verify', async () => {
    // tiny-clip's JSON header is 7,480 bytes, tiny-dinov3's 5,736: padded to 0x2080 (first byte 0x80) and 0x4b50 ("PK")
    const padded = async (file: string, length: number) => {
      const path = join(root, `padded-${length.toString(16)}-${file}`);
      await writeFile(path, safetensorsWithHeaderLength(new Uint8Array(await readFile(torchFixture(file))), length));
      return path;
    };
    const clip80 = await padded('tiny-clip.safetensors', 0x2080);
    const dinoPK = await padded('tiny-dinov3.safetensors', 0x4b50);
    const clip0000 = await padded('tiny-clip.safetensors', 0x10000);
    for (const path of [clip80, dinoPK, clip0000]) {
      const v = await hgm(['weights', 'verify', path, '--json']);
      expect(v.code, v.stderr).toBe(EXIT.ok);
      expect(json(v)).toMatchObject({ ok: true });
    }
    const detect = async (clip: string, backbone: string, out: string) => (await detectWith(clip, backbone, out)).map((d) => d.score);
    const plain = await detect(torchFixture('tiny-clip.safetensors'), torchFixture('tiny-dinov3.safetensors'), 'detect-unpadded');
    expect(await detect(clip80, dinoPK, 'detect-padded')).toEqual(plain);
    const notWeights = join(root, 'not-weights.pth');
    await writeFile(notWeights, Uint8Array.of(0x80, 0x09, 0, 0, 0, 0, 0, 0, 0, 0));
    const bad = await hgm([
      'detect',
      join(data, 'wood', 'test', 'good'),
      '--checkpoint',
      trained,
      '--out',
      join(root, 'detect-bad'),
      '--clip-weights',
      notWeights,
      '--backbone-weights',
      dinoPK,
      '--backend',
      'cpu',
    ]);
    expect(bad.code, bad.stderr).toBe(EXIT.dataError);
    expect(bad.stderr).toContain(`${notWeights}: not a weights file: it starts with bytes 80 09 00 00`);
  });

  it('a pickle reaching for os.system: exit 65 naming the global, and the payload never runs', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'hgm-hostile-'));
    try {
      const r = await hgm(
        [
          'detect',
          join(data, 'wood', 'test', 'good'),
          '--checkpoint',
          trained,
          '--out',
          join(root, 'hostile-out'),
          '--clip-weights',
          torchFixture('tiny-clip.safetensors'),
          '--backbone-weights',
          torchFixture('hostile-os-system.pth'),
          '--backend',
          'cpu',
        ],
        { cwd },
      );
      expect(r.code, r.stderr).toBe(EXIT.dataError);
      expect(r.stderr).toContain(`PyTorch checkpoint ${torchFixture('hostile-os-system.pth')}: pickle global posix.system is not allowed`);
      // The payload would have created hgm-pickle-payload-ran in the working folder.
      expect(await readdir(cwd)).toEqual([]);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});

let weightFiles: Promise<{ clipPath: string; wrongBackbonePath: string }> | undefined;

/** A CLIP file of the tiny configuration, and a DINOv3 file with one block fewer than the tiny backbone. */
function tinyWeightFiles(): Promise<{ clipPath: string; wrongBackbonePath: string }> {
  weightFiles ??= (async () => {
    await useBackend('cpu');
    const c = resolveConfig(TINY_CONFIG);
    if (c.backbone.kind !== 'dinov3') throw new Error('the tiny configuration has a DINOv3 backbone');
    const clip = ClipModel.create(c.clip, { towers: 'both' });
    const clipPath = join(root, 'tiny-clip.safetensors');
    await writeSafetensorsFile(clipPath, await clip.params.stateDict());
    clip.dispose();
    const dino = new Dinov3VisionTransformer({ ...c.backbone.config, depth: 3 });
    const wrongBackbonePath = join(root, 'tiny-dinov3-depth3.safetensors');
    await writeSafetensorsFile(wrongBackbonePath, await dino.params.stateDict());
    dino.dispose();
    return { clipPath, wrongBackbonePath };
  })();
  return weightFiles;
}

describe('bad input: a clear error naming the file, nothing already written lost', () => {
  it('a corrupt image: exit 65 naming it, and the existing model in --out is untouched', async () => {
    const broken = join(root, 'data-corrupt');
    await cp(data, broken, { recursive: true });
    const bad = join(broken, 'wood', 'test', 'stain', '001.png');
    await writeFile(bad, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const out = join(root, 'corrupt-out');
    await cp(trained, out, { recursive: true });
    const before = await readFile(join(out, 'model.safetensors'));
    const r = await hgm(['train', '--data', broken, '--out', out, '--epochs', '1', '--no-resume', ...TRAIN_ARGS]);
    expect(r.code).toBe(EXIT.dataError);
    expect(r.stderr).toContain(`hgm train: ${bad}:`);
    expect(Buffer.compare(await readFile(join(out, 'model.safetensors')), before)).toBe(0);
    const skipped = await hgm([
      'detect',
      join(broken, 'wood', 'test', 'stain'),
      '--checkpoint',
      trained,
      '--out',
      join(root, 'corrupt-detect'),
      '--skip-corrupt',
      '--backend',
      'cpu',
    ]);
    expect(skipped.code, skipped.stderr).toBe(EXIT.ok);
    expect(skipped.stderr).toContain(`warning: skipped ${bad}`);
  });

  it('a missing mask or image: exit 65 / 66 naming it', async () => {
    const broken = join(root, 'data-missing');
    await cp(data, broken, { recursive: true });
    const mask = join(broken, 'cap', 'ground_truth', 'scratch', '001_mask.png');
    await unlink(mask);
    const r = await hgm(['train', '--data', broken, '--out', join(root, 'missing-out'), ...TRAIN_ARGS]);
    expect(r.code).toBe(EXIT.dataError);
    expect(r.stderr).toMatch(/dataset .*data-missing: 1 error/);
    expect(r.stderr).toContain(join(broken, 'cap', 'test', 'scratch', '001.png'));
    // a valid 20000 x 20000 gray PNG (388 KB): refused from its header, before decoding
    const huge = join(root, 'huge', 'scan.png');
    await mkdir(join(root, 'huge'), { recursive: true });
    await writeFile(huge, await hugeGrayPng(20000, 20000));
    const h = await hgm(['detect', huge, '--checkpoint', trained, '--out', join(root, 'huge-out'), '--backend', 'cpu']);
    expect(h.code).toBe(EXIT.dataError);
    expect(h.stderr).toContain(`${huge}: image is 20000x20000 = 400,000,000 pixels, over the limit of 178,956,970 pixels (twice --max-pixels 89,478,485)`);
    const gone = join(root, 'nowhere.png');
    const d = await hgm(['detect', gone, '--checkpoint', trained, '--out', join(root, 'missing-detect')]);
    expect(d.code).toBe(EXIT.noInput);
    expect(d.stderr).toContain(`${gone}: no such file or folder`);
    const ck = await hgm(['eval', '--data', data, '--checkpoint', join(root, 'no-model.safetensors'), '--out', join(root, 'e')]);
    expect(ck.code).toBe(EXIT.noInput);
    expect(ck.stderr).toContain('no-model.safetensors: no such file or folder');
  });

  it('a dataset in an unknown layout: exit 65 with what was found', async () => {
    const odd = join(root, 'odd');
    await mkdir(join(odd, 'pictures', 'misc'), { recursive: true });
    await cp(join(data, 'wood', 'test', 'good', '000.png'), join(odd, 'pictures', 'misc', 'a.png'));
    const r = await hgm(['train', '--data', odd, '--out', join(root, 'odd-out'), ...TRAIN_ARGS]);
    expect(r.code).toBe(EXIT.dataError);
    expect(r.stderr).toContain(`${odd}: cannot detect the dataset layout: no known layout (found folders: pictures)`);
    const inspect = await hgm(['data', 'inspect', odd]);
    expect(inspect.code).toBe(EXIT.failed);
  });

  it('a checkpoint of another configuration: eval and resume refuse it naming the difference', async () => {
    const e = await hgm(['eval', '--data', data, '--checkpoint', trained, '--out', join(root, 'e64'), '--image-size', '64', '--backend', 'cpu']);
    expect(e.code).toBe(EXIT.dataError);
    expect(e.stderr).toMatch(/saved for another configuration: .*imageSize: model 64, checkpoint 32/);
    const out = join(root, 'resume-other');
    await cp(trained, out, { recursive: true });
    const t = await hgm([
      'train',
      '--data',
      data,
      '--out',
      out,
      '--epochs',
      '3',
      '--model',
      'tiny',
      '--image-size',
      '40',
      '--batch-size',
      '4',
      '--backend',
      'cpu',
    ]);
    expect(t.code).toBe(EXIT.dataError);
    expect(t.stderr).toMatch(/checkpoint\.safetensors: written for another model configuration: .*imageSize: checkpoint 32, this run 40/);
    expect(t.stderr).toContain('hint: use another --out, or --no-resume');
  });

  it('weights that do not match the backbone: exit 65 listing the mismatched tensors', async () => {
    const { clipPath, wrongBackbonePath } = await tinyWeightFiles();
    const r = await hgm([
      'train',
      '--data',
      data,
      '--out',
      join(root, 'weights-out'),
      ...TRAIN_ARGS,
      '--clip-weights',
      clipPath,
      '--backbone-weights',
      wrongBackbonePath,
    ]);
    expect(r.code).toBe(EXIT.dataError);
    expect(r.stderr).toContain(`weights ${clipPath}: ${clipPath} (local)`);
    expect(r.stderr).toMatch(/state dict does not match the model .*\n\s+missing key blocks\.3\./);
  });

  it('an unwritable output folder: exit 73 before any work', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    const r = await hgm(['train', '--data', data, '--out', join(file, 'sub'), ...TRAIN_ARGS]);
    expect(r.code).toBe(EXIT.cantCreate);
    expect(r.stderr).toContain(`hgm train: output folder ${join(file, 'sub')}: cannot create it (ENOTDIR)`);
    const d = await hgm(['detect', data, '--checkpoint', trained, '--out', join(file, 'sub')]);
    expect(d.code).toBe(EXIT.cantCreate);
  });

  it('eval --metrics with a misspelled name: exit 64 before any image is read or any file written', async () => {
    const out = join(root, 'eval-metrics-typo');
    const r = await hgm(['eval', '--data', data, '--checkpoint', trained, '--out', out, '--metrics', 'image_auroc,pixel_aurocc', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(EXIT.usage);
    expect(r.stderr).toContain('option --metrics: unknown metric name "pixel_aurocc"');
    expect(r.stderr).not.toContain('backend:');
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it('failures raised as typed errors by the libraries get the exit code of their class', async () => {
    // 64: the model library refuses the configuration (ConfigError), after the CLI accepted the flag.
    const size = await hgm([
      'train',
      '--data',
      data,
      '--out',
      join(root, 'size-out'),
      '--model',
      'tiny',
      '--image-size',
      '36',
      '--batch-size',
      '4',
      '--backend',
      'cpu',
    ]);
    expect(size.code, size.stderr).toBe(EXIT.usage);
    expect(size.stderr).toContain('imageSize: expected a multiple of the patch size 8, found 36');
    // 66: an input folder without images (InputNotFoundError).
    const empty = join(root, 'no-images');
    await mkdir(empty, { recursive: true });
    const d = await hgm(['detect', empty, '--checkpoint', trained, '--out', join(root, 'empty-detect'), '--backend', 'cpu']);
    expect(d.code, d.stderr).toBe(EXIT.noInput);
    expect(d.stderr).toContain(`${empty}: the folder holds no image`);
    // 1: a training run that diverges is a reported failure (DivergedError), not a crash.
    const lr = await hgm(['train', '--data', data, '--out', join(root, 'diverged'), '--epochs', '3', '--lr', '1e30', ...TRAIN_ARGS]);
    expect(lr.code, lr.stderr).toBe(EXIT.failed);
    expect(lr.stderr).toMatch(/training diverged at epoch \d, step \d+: loss is NaN/);
    expect(lr.stderr).toContain('hint: lower --lr');
  }, 180_000);

  it('train --dry-run caches the features, prints the measured plan and writes no checkpoint; --micro-batch is checked', async () => {
    const out = join(root, 'dry-run');
    // the plan is a progress line (stderr); --json prints the result alone
    const shown = await hgm(['train', '--data', data, '--out', out, '--epochs', '3', ...TRAIN_ARGS, '--dry-run']);
    expect(shown.code, shown.stderr).toBe(EXIT.ok);
    expect(shown.stderr).toMatch(
      /plan: [\d.]+ s per step of 4 \([\d.]+ s per image measured, micro-batches of 4\), peak memory ~[\d.]+ GiB, feature cache [\d.]+ MiB/,
    );
    expect(shown.stdout).toContain('dry run: nothing trained, no checkpoint written');
    const r = await hgm(['train', '--data', data, '--out', out, '--epochs', '3', ...TRAIN_ARGS, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const j = json(r) as {
      dryRun: boolean;
      plan: { batchSize: number; microBatch: number; secondsPerStep: number; stepsPerEpoch: number; featureCacheBytes: number };
    };
    expect(j.dryRun).toBe(true);
    expect(j.plan).toMatchObject({ batchSize: 4, microBatch: 4, stepsPerEpoch: 4 });
    expect(j.plan.secondsPerStep).toBeGreaterThan(0);
    expect(j.plan.featureCacheBytes).toBeGreaterThan(0);
    expect(await readdir(out)).toEqual([]);
    const bad = await hgm(['train', '--data', data, '--out', out, ...TRAIN_ARGS, '--micro-batch', 'half']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--micro-batch must be a positive integer or auto, found half');
  });

  it('Ctrl-C during training saves a checkpoint, exits 130, and the same command resumes to the end', async () => {
    const out = join(root, 'interrupted');
    const args = ['train', '--data', data, '--out', out, '--epochs', '3', '--model', 'tiny', '--image-size', '32', '--batch-size', '2', '--backend', 'cpu'];
    let sent = false;
    const r = await hgm(args, {
      onStderr: (text, child) => {
        if (!sent && /epoch 1\/3 step 1\/7/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(EXIT.interrupted);
    expect(r.stderr).toContain('interrupt: stopping after the current step');
    expect(r.stderr).toContain('to resume, run the same command again');
    const reader = await openSafetensors(join(out, 'checkpoint.safetensors'));
    const stepInEpoch = Number(reader.metadata['stepInEpoch']);
    const epoch = Number(reader.metadata['epoch']);
    await reader.close();
    expect(epoch * 7 + stepInEpoch).toBeGreaterThan(0);
    expect(epoch * 7 + stepInEpoch).toBeLessThan(21);
    const resumed = await hgm([...args, '--json']);
    expect(resumed.code, resumed.stderr).toBe(EXIT.ok);
    expect(resumed.stderr).toBe('');
    const j = json(resumed);
    expect(j).toMatchObject({ epochsCompleted: 3, interrupted: false, steps: 21, resumedFrom: { epoch: epoch + 1, step: stepInEpoch } });
    expect((await stat(join(out, 'model.safetensors'))).size).toBeGreaterThan(0);
  });
});

describe('demo', () => {
  it('runs end to end in its fast mode and writes the report, the tables and the checkpoint', async () => {
    const out = join(root, 'demo');
    const r = await hgm([
      'demo',
      '--out',
      out,
      '--epochs',
      '1',
      '--size',
      '32',
      '--train-good',
      '2',
      '--train-per-kind',
      '1',
      '--eval-good',
      '2',
      '--eval-per-kind',
      '1',
      '--require-auroc',
      '0',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stderr).toBe('');
    const j = json(r) as {
      backend: string;
      report: string;
      trainImages: number;
      evalImages: number;
      trainingDomainImageAuroc: number;
      categories: { category: string }[];
    };
    expect(j.backend).toBe('wasm');
    expect(j.report).toBe(join(out, 'report.html'));
    expect(j.trainImages).toBe(4 * 8);
    expect(j.evalImages).toBe(5 * 8);
    expect(j.categories.map((c) => c.category)).toEqual(['cap', 'carpet', 'metal', 'weave', 'wood']);
    const html = await readFile(j.report, 'utf8');
    expect(html).toContain('<h2>Results (zero-shot protocol)</h2>');
    expect(html).toContain('aria-label="loss curve"');
    expect((html.match(/src="data:image\/png;base64,/g) ?? []).length).toBeGreaterThanOrEqual(5 * 4);
    expect(html).toMatch(/<pre><code>[^<\n]*hgm(?:\.js)? weights pull clip-vit-l-14-336\n/);
    expect(html).toContain('colour scale of the anomaly maps: fixed scale 0 .. 1');
    for (const f of [
      join('maps', 'colorbar.png'),
      'metrics.md',
      'metrics.csv',
      'metrics.json',
      'scores.csv',
      join('checkpoint', 'model.safetensors'),
      join('maps', 'cap', 'scratch', '000_overlay.png'),
    ]) {
      expect((await stat(join(out, f))).size).toBeGreaterThan(0);
    }
  });
});
