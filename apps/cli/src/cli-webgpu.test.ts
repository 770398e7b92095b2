// The command line on WebGPU: train, eval and detect with --backend webgpu run end to end and agree with
// wasm. Runs where a WebGPU adapter exists (lavapipe in CI); elsewhere the tests are skipped naming the reason.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '@hgm/tensor/testing';
import { writeSyntheticDataset } from '@hgm/data/node';
import { ensureBuilt, runHgm, type RunResult } from './test-support';
import { EXIT } from './exit-codes';

let root = '';
let data = '';
let env: Record<string, string> = {};
let unavailable: string | null = null;

function hgm(args: string[]): Promise<RunResult> {
  return runHgm(args, { env });
}

beforeAll(async () => {
  const gpu = await useBackend('webgpu');
  unavailable = gpu.ok ? null : gpu.reason;
  if (unavailable !== null) return;
  ensureBuilt();
  root = await mkdtemp(join(tmpdir(), 'hgm-cli-webgpu-'));
  data = join(root, 'data');
  env = { HGM_CACHE: join(root, 'cache'), HGM_OFFLINE: '1' };
  await writeSyntheticDataset(data, { seed: 5, size: 32, domains: ['wood', 'cap'], kinds: ['scratch'], trainGood: 2, testGood: 2, testPerKind: 2 });
}, 120_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('hgm with --backend webgpu', () => {
  it('trains, evaluates and detects, with finite metrics and the scores of wasm', async (ctx) => {
    if (unavailable !== null) return ctx.skip(`webgpu unavailable: ${unavailable}`);
    const trained = join(root, 'trained');
    const t = await hgm([
      'train',
      '--data',
      data,
      '--out',
      trained,
      '--epochs',
      '1',
      '--model',
      'tiny',
      '--image-size',
      '32',
      '--batch-size',
      '4',
      '--backend',
      'webgpu',
    ]);
    expect(t.code, t.stderr).toBe(EXIT.ok);
    expect(t.stderr).toContain('backend: webgpu (@tensorflow/tfjs-backend-webgpu)');

    const e = await hgm(['eval', '--data', data, '--checkpoint', trained, '--out', join(root, 'eval'), '--backend', 'webgpu', '--json']);
    expect(e.code, e.stderr).toBe(EXIT.ok);
    const metrics = JSON.parse(await readFile(join(root, 'eval', 'metrics.json'), 'utf8')) as {
      categories: { category: string; metrics: Record<string, { value?: number }> }[];
    };
    for (const c of metrics.categories) {
      for (const k of ['image_auroc', 'pixel_auroc']) {
        const v = c.metrics[k]!.value!;
        expect(Number.isFinite(v), `${c.category} ${k}`).toBe(true);
      }
    }

    const images = join(data, 'cap', 'test');
    const scores = async (backend: string) => {
      const r = await hgm([
        'detect',
        images,
        '--checkpoint',
        join(trained, 'model.safetensors'),
        '--out',
        join(root, `detect-${backend}`),
        '--backend',
        backend,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(EXIT.ok);
      return (JSON.parse(r.stdout) as { detections: { image: string; score: number; max_map?: number }[] }).detections;
    };
    const gpu = await scores('webgpu');
    const wasm = await scores('wasm');
    expect(gpu.map((d) => d.image)).toEqual(wasm.map((d) => d.image));
    expect(gpu.length).toBe(4);
    for (let i = 0; i < gpu.length; i++) {
      expect(Number.isFinite(gpu[i]!.score)).toBe(true);
      expect(Math.abs(gpu[i]!.score - wasm[i]!.score), gpu[i]!.image).toBeLessThan(1e-4);
    }
  }, 600_000);
});

describe('hgm doctor', () => {
  it('reports every backend with its reason, the WebGPU device limits, wasm SIMD, the image decoder, the executor and the choice of auto', async () => {
    ensureBuilt();
    const r = await runHgm(['doctor', '--json']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const report = JSON.parse(r.stdout) as {
      backends: {
        backend: string;
        available: boolean;
        detail: string;
        webgpu?: { adapter: string; software: boolean; shaderF16: boolean; precision: string; limits: Record<string, number> };
        wasm?: { simd: boolean };
      }[];
      packages: { name: string; installed: boolean }[];
      auto: { chosen: string | null; passedOver: string[] };
      imageDecoder: { decoder: string; version?: string; reason?: string };
      executor: { auto: string; runtime?: { version: string; providers: string[] }; reason?: string; cuda?: { installed: boolean; hint?: string } };
    };
    expect(['sharp', 'pure-js']).toContain(report.imageDecoder.decoder);
    expect(report.packages.find((p) => p.name === 'sharp')?.installed).toBe(report.imageDecoder.decoder === 'sharp');
    expect(report.executor.auto === 'onnx').toBe(report.packages.find((p) => p.name === 'onnxruntime-node')?.installed);
    if (report.executor.runtime) expect(report.executor.runtime.providers).toContain('cpu');
    // linux-x64: where the CUDA provider's libraries are not installed, the report says how to get them
    if (report.executor.runtime && process.platform === 'linux' && process.arch === 'x64') {
      expect(report.executor.cuda).toBeDefined();
      if (!report.executor.cuda!.installed) expect(report.executor.cuda!.hint).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node');
    }
    expect(report.backends.map((b) => b.backend)).toEqual(['tensorflow', 'webgpu', 'wasm', 'cpu']);
    for (const b of report.backends) expect(b.detail.length, b.backend).toBeGreaterThan(0);
    const wasm = report.backends.find((b) => b.backend === 'wasm')!;
    expect(wasm.available).toBe(true);
    expect(typeof wasm.wasm?.simd).toBe('boolean');
    const gpu = report.backends.find((b) => b.backend === 'webgpu')!;
    expect(gpu.available).toBe(unavailable === null);
    if (gpu.available) {
      expect(gpu.webgpu!.adapter.length).toBeGreaterThan(0);
      expect(gpu.webgpu!.limits['maxStorageBuffersPerShaderStage']).toBeGreaterThanOrEqual(8);
      expect(gpu.webgpu!.limits['maxStorageBufferBindingSize']).toBeGreaterThan(0);
      expect(typeof gpu.webgpu!.shaderF16).toBe('boolean');
      expect(gpu.webgpu!.precision).toBe('float32');
    }
    expect(report.packages.find((p) => p.name === '@tensorflow/tfjs-backend-wasm')?.installed).toBe(true);
    expect(report.auto.chosen).not.toBeNull();
    const human = await runHgm(['doctor']);
    expect(human.stdout).toMatch(/^ {2}wasm +available/m);
    expect(human.stdout).toContain('--backend auto: ');
    if (gpu.available) expect(human.stdout).toMatch(/shader-f16: (offered|not offered); kernels compute in float32/);
    expect(human.stdout).toMatch(/^image decoder: (sharp \(sharp [\d.]+, libvips [\d.]+\)|pure-js \(.+\))$/m);
    expect(human.stdout).toMatch(/^--executor auto: (onnx|tfjs) \(.+\)$/m);
    if (report.executor.cuda) expect(human.stdout).toMatch(/^ {2}CUDA provider: (libraries installed|its libraries are not installed .+)$/m);
    // without the optional packages: the pure-JS decoder and tfjs, each with the reason
    const bare = await runHgm(['doctor'], { env: { HGM_IMAGE_DECODER: 'pure-js', HGM_ONNXRUNTIME_PACKAGE: 'onnxruntime-node-absent' } });
    expect(bare.code, bare.stderr).toBe(EXIT.ok);
    expect(bare.stdout).toContain('image decoder: pure-js (HGM_IMAGE_DECODER=pure-js)');
    expect(bare.stdout).toContain('--executor auto: tfjs (ONNX Runtime not used: the optional package onnxruntime-node-absent is not installed');
  }, 180_000);
});
