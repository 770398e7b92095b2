/**
 * `npm run bench -- backbone-forward [--model dinov3-vitl16|dinov2-vitl14-reg|clip-vitl14-336|tiny] [--size 224]
 *   [--backend wasm|cpu|webgpu|tensorflow] [--threads N] [--repeats 3] [--batch 1] [--taps 4] [--seed 0] [--profile]`
 *
 * Builds a frozen vision backbone with the real architecture's sizes (configs of `@hgm/backbone`) and seeded
 * random weights (nothing is downloaded), runs `encodeImage` with `--taps` evenly spaced tapped blocks (the
 * last block included) on a random image, and prints one table row: tokens, a FLOP estimate, the first
 * call (cold caches), the steady time (median of `--repeats` later calls), GFLOP/s, peak RSS and the load
 * average. `--profile` adds the kernel times of one steady call (tf.profile), grouped by kernel.
 *
 * FLOPs count 2 per multiply-add: blocks `2 T (4 C^2 + 2 C F) + 4 T^2 C` (F the MLP width), plus the patch
 * embedding; a DINOv3 ViT-L/16 at 224 px (T = 201, 4 storage tokens) is ~125.7 GFLOP.
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { initNodeBackend } from '@hgm/tensor/node';
import {
  CLIP_VIT_L_14_336,
  ClipModel,
  DINOV2_VITL14_REG,
  DINOV3_VITL16,
  Dinov2VisionTransformer,
  Dinov3VisionTransformer,
  ropePeriods,
  type AsyncImageEncoder,
  type ImageEncoder,
} from '@hgm/backbone';

export type ModelName = 'dinov3-vitl16' | 'dinov2-vitl14-reg' | 'clip-vitl14-336' | 'tiny';
export const MODELS: readonly ModelName[] = ['dinov3-vitl16', 'dinov2-vitl14-reg', 'clip-vitl14-336', 'tiny'];
type Backend = 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';

interface Options {
  model: ModelName;
  size: number;
  backend: Backend;
  threads: number;
  repeats: number;
  batch: number;
  taps: number;
  seed: number;
  profile: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { model: 'dinov3-vitl16', size: 224, backend: 'wasm', threads: 1, repeats: 3, batch: 1, taps: 4, seed: 0, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`backbone-forward: ${a} needs a value`);
      return v;
    };
    const int = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`backbone-forward: ${a} must be an integer >= ${min}, found ${v}`);
      return n;
    };
    if (a === '--model') {
      const m = value();
      if (!MODELS.includes(m as ModelName)) throw new Error(`backbone-forward: --model must be one of ${MODELS.join(', ')}, found ${m}`);
      o.model = m as ModelName;
    } else if (a === '--backend') {
      const b = value();
      if (!['wasm', 'cpu', 'webgpu', 'tensorflow'].includes(b))
        throw new Error(`backbone-forward: --backend must be wasm, cpu, webgpu or tensorflow, found ${b}`);
      o.backend = b as Backend;
    } else if (a === '--size') o.size = int(1);
    else if (a === '--threads') o.threads = int(1);
    else if (a === '--repeats') o.repeats = int(1);
    else if (a === '--batch') o.batch = int(1);
    else if (a === '--taps') o.taps = int(1);
    else if (a === '--seed') o.seed = int(0);
    else if (a === '--profile') o.profile = true;
    else
      throw new Error(
        `backbone-forward: unknown argument ${a} (expected --model, --size, --backend, --threads, --repeats, --batch, --taps, --seed, --profile)`,
      );
  }
  return o;
}

/** Architecture facts the FLOP estimate needs. */
export interface Arch {
  width: number;
  depth: number;
  mlp: number;
  patch: number;
  prefix: number;
}

export interface Built {
  encoder: ImageEncoder;
  arch: Arch;
  /** Parameters (name, variable) to fill with random values. */
  params: { name: string; variable: tf.Variable }[];
  headDim: number;
  /** The model that owns the weights (what another executor reads them from). */
  owner: { kind: 'clip'; model: ClipModel } | { kind: 'dino'; model: Dinov2VisionTransformer | Dinov3VisionTransformer };
  heads: number;
}

export function build(model: ModelName): Built {
  if (model === 'dinov3-vitl16' || model === 'tiny') {
    const config = model === 'tiny' ? { embedDim: 64, depth: 4, numHeads: 4, imgSize: 224 } : DINOV3_VITL16;
    const m = new Dinov3VisionTransformer(config);
    const c = m.config;
    return {
      encoder: m,
      arch: { width: c.embedDim, depth: c.depth, mlp: c.embedDim * c.ffnRatio, patch: c.patchSize, prefix: 1 + c.numStorageTokens },
      params: m.params.entries(),
      headDim: c.embedDim / c.numHeads,
      owner: { kind: 'dino', model: m },
      heads: c.numHeads,
    };
  }
  if (model === 'dinov2-vitl14-reg') {
    const m = new Dinov2VisionTransformer(DINOV2_VITL14_REG);
    const c = m.config;
    return {
      encoder: m,
      arch: { width: c.embedDim, depth: c.depth, mlp: c.embedDim * c.mlpRatio, patch: c.patchSize, prefix: 1 + c.numRegisterTokens },
      params: m.params.entries(),
      headDim: c.embedDim / c.numHeads,
      owner: { kind: 'dino', model: m },
      heads: c.numHeads,
    };
  }
  const m = ClipModel.create(CLIP_VIT_L_14_336, { towers: 'vision' });
  const v = m.config.vision;
  return {
    encoder: m.vision,
    arch: { width: v.width, depth: v.layers, mlp: 4 * v.width, patch: v.patchSize, prefix: 1 },
    params: m.params.entries(),
    headDim: v.width / v.heads,
    owner: { kind: 'clip', model: m },
    heads: v.heads,
  };
}

/**
 * Seeded random weights of sensible scale (no denormals, no overflow through the blocks): matrices
 * uniform with std 1/sqrt(fan_in), norm weights and LayerScale near 1 and 0.1, other vectors small; the RoPE
 * periods and the k-bias mask as the reference computes them.
 */
export function fillRandom(built: Built, seed: number): void {
  const rng = new Rng(seed);
  for (const { name, variable } of built.params) {
    const shape = variable.shape;
    const size = variable.size;
    let data: Float32Array;
    if (name.endsWith('rope_embed.periods')) {
      data = ropePeriods(built.headDim, { base: 100 });
    } else if (name.endsWith('bias_mask')) {
      data = new Float32Array(size).fill(1);
      data.fill(0, size / 3, (2 * size) / 3);
    } else if (shape.length >= 2 && !/embed|token|class_embedding/.test(name)) {
      const fanIn = size / shape[0]!;
      const a = Math.sqrt(3 / fanIn);
      data = rng.uniformArray(size, -a, a);
    } else if (/gamma$/.test(name)) {
      data = rng.uniformArray(size, 0.05, 0.15);
    } else if (/(norm|ln_)[^.]*\.weight$/.test(name) || /^(norm|ln_)/.test(name)) {
      data = rng.uniformArray(size, 0.9, 1.1);
    } else {
      data = rng.uniformArray(size, -0.05, 0.05);
    }
    const t = tf.tensor(data, shape);
    variable.assign(t);
    t.dispose();
  }
}

export function taps(depth: number, n: number): number[] {
  const k = Math.min(n, depth);
  return Array.from({ length: k }, (_, i) => Math.round(((i + 1) * depth) / k) - 1);
}

export function gflops(arch: Arch, size: number, batch: number): { tokens: number; gflop: number } {
  const grid = Math.floor(size / arch.patch);
  const n = grid * grid;
  const t = n + arch.prefix;
  const c = arch.width;
  const block = 2 * t * (4 * c * c + 2 * c * arch.mlp) + 4 * t * t * c;
  const embed = 2 * n * c * 3 * arch.patch * arch.patch;
  return { tokens: t, gflop: (batch * (arch.depth * block + embed)) / 1e9 };
}

export async function forward(encoder: AsyncImageEncoder, pixels: tf.Tensor4D, layers: number[]): Promise<number> {
  const t0 = performance.now();
  const out = await encoder.encode(pixels, { layers });
  // Read every output back: the time includes the whole forward, whatever the backend defers.
  await Promise.all([out.cls.data(), ...out.patchTokens.map((p) => p.data())]);
  const ms = performance.now() - t0;
  tf.dispose([out.cls, ...out.patchTokens]);
  return ms;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function run(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const report = await initNodeBackend(o.backend, { wasmThreads: o.threads });
  let flags = '';
  if (report.chosen === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount?: () => number };
    flags = `simd ${String(simd)}, multithread support ${String(mt)}, threads used ${wasm.getThreadsCount?.() ?? '?'}`;
  }
  const built = build(o.model);
  const tBuild = performance.now();
  fillRandom(built, o.seed);
  const fillS = (performance.now() - tBuild) / 1000;
  const { tokens, gflop } = gflops(built.arch, o.size, o.batch);
  const layers = taps(built.arch.depth, o.taps);
  const pixels = tf.tidy(() => new Rng(o.seed + 1).tensorNormal([o.batch, 3, o.size, o.size])) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const first = await forward(built.encoder, pixels, layers);
  const times: number[] = [];
  for (let i = 0; i < o.repeats; i++) times.push(await forward(built.encoder, pixels, layers));
  const leaked = tf.memory().numTensors - before;
  const steady = median(times);
  const rssGb = (process.resourceUsage().maxRSS * 1024) / 2 ** 30;
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  console.log(`backbone-forward: ${o.model}, taps [${layers.join(', ')}], weights filled in ${fillS.toFixed(1)} s${flags ? `; wasm: ${flags}` : ''}`);
  const header = ['model', 'size', 'batch', 'backend', 'threads', 'tokens', 'GFLOP', 'first s', 'steady s', 'GFLOP/s', 'peak RSS GiB', 'load 1/5/15 min'];
  const row = [
    o.model,
    String(o.size),
    String(o.batch),
    report.chosen,
    report.chosen === 'wasm' ? String(o.threads) : '-',
    String(tokens),
    gflop.toFixed(1),
    (first / 1000).toFixed(2),
    (steady / 1000).toFixed(2),
    (gflop / (steady / 1000)).toFixed(1),
    rssGb.toFixed(2),
    load,
  ];
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n| ${row.join(' | ')} |`);
  console.log(`steady calls (s): ${times.map((t) => (t / 1000).toFixed(2)).join(', ')}; tensors left after the calls: ${leaked}`);
  if (o.profile) {
    const info = await tf.profile(async () => {
      const out = built.encoder.encodeImage(pixels, { layers });
      await Promise.all([out.cls.data(), ...out.patchTokens.map((p) => p.data())]);
      tf.dispose([out.cls, ...out.patchTokens]);
    });
    const by = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const e = by.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.calls++;
      by.set(k.name, e);
    }
    const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
    console.log(`kernel profile of one call (${info.kernels.length} kernels, ${(total / 1000).toFixed(2)} s in kernels):`);
    console.log('| kernel | calls | s | share |\n|---|---|---|---|');
    for (const [name, e] of [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
      console.log(`| ${name} | ${e.calls} | ${(e.ms / 1000).toFixed(2)} | ${((100 * e.ms) / total).toFixed(1)}% |`);
    }
  }
  pixels.dispose();
  built.encoder.dispose();
}
