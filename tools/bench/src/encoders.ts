/**
 * `npm run bench -- encoders [--cases dinov3-vitl16@224,...] [--all] [--repeats 2] [--threads N]`
 *
 * The frozen encoders side by side: for each case (model @ image size) tfjs-wasm (SIMD, 1 thread), ONNX
 * Runtime (`@hgm/onnx` graph in onnxruntime-node, 1 thread and `--threads`, default every core) and PyTorch
 * (Debian's python3-torch: `encoders-reference.py`, a ViT of identical shapes, 1 and every thread; skipped
 * with a message when python3 cannot import torch). Each executor runs in its own child process, so the
 * peak RSS column is that executor's alone; the ONNX child builds the weights in tfjs (CPU backend) and hands
 * them over as `hgm --executor onnx` does (staged in a temporary file the runtime maps, the tfjs copy
 * released before the runtime reads it). Weights are seeded random values of the real architectures'
 * shapes (nothing downloaded); 4 evenly spaced tapped blocks as the detectors use.
 *
 * Prints a table: ms/image (median of `--repeats` steady calls after one warm-up), GFLOP/s, the weights'
 * size, peak RSS (and its ratio to the weights' size) and the ratio to PyTorch's best thread count (> 1 = faster than PyTorch). Default case: dinov3-vitl16@224;
 * `--all`: dinov3-vitl16@224, dinov3-vitl16@512, dinov2-vitl14-reg@518, clip-vitl14-336@336, clip-vitl14-336@518.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { initNodeBackend } from '@hgm/tensor/node';
import { loadOnnxRuntime, OnnxImageEncoder } from '@hgm/onnx';
import type { AsyncImageEncoder, Dinov2Config, Dinov3Config, DinoVisionTransformer } from '@hgm/backbone';
import { build, fillRandom, forward, gflops, median, MODELS, taps, type ModelName } from './backbone-forward';

const ALL_CASES = ['dinov3-vitl16@224', 'dinov3-vitl16@512', 'dinov2-vitl14-reg@518', 'clip-vitl14-336@336', 'clip-vitl14-336@518'];

interface Case {
  model: ModelName;
  size: number;
}

interface Measured {
  executor: string;
  threads: number;
  ms: number;
  firstMs: number;
  peakRssBytes: number;
  /** Bytes of the encoder's float32 weights. */
  weightBytes?: number;
  note?: string;
  /** From the children: the architecture's shapes (for the PyTorch model) and the FLOP estimate. */
  shapes?: { width: number; depth: number; heads: number; mlp: number; patch: number; prefix: number; tokens: number; gflop: number };
}

export function parseCase(s: string): Case {
  const m = /^([a-z0-9-]+)@(\d+)$/.exec(s);
  if (!m || !MODELS.includes(m[1] as ModelName))
    throw new Error(`encoders: a case is <model>@<size> with model one of ${MODELS.join(', ')}, found ${JSON.stringify(s)}`);
  return { model: m[1] as ModelName, size: Number(m[2]) };
}

/** Child process: one executor on one case; prints one JSON line. */
async function child(c: Case, executor: 'tfjs-wasm' | 'onnx', threads: number, repeats: number): Promise<void> {
  await initNodeBackend(executor === 'tfjs-wasm' ? 'wasm' : 'cpu', { wasmThreads: 1 });
  const built = build(c.model);
  fillRandom(built, 0);
  const layers = taps(built.arch.depth, 4);
  const weightBytes = built.params.reduce((s, p) => s + p.variable.size * 4, 0);
  let encoder: AsyncImageEncoder = built.encoder;
  let onnx: OnnxImageEncoder | null = null;
  if (executor === 'onnx') {
    // The session takes the weights; the tfjs copy is released once they are written for the runtime (the
    // child runs with --expose-gc, so the freed arrays are collected before the runtime maps its copy).
    const options = { layers, threads, release: 'before-session' as const };
    onnx =
      built.owner.kind === 'clip'
        ? await OnnxImageEncoder.fromClip(built.owner.model, options)
        : await OnnxImageEncoder.fromDino(built.owner.model as DinoVisionTransformer & { config: Dinov2Config | Dinov3Config }, options);
    encoder = onnx;
  }
  const pixels = tf.tidy(() => new Rng(1).tensorNormal([1, 3, c.size, c.size])) as tf.Tensor4D;
  const firstMs = await forward(encoder, pixels, layers);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await forward(encoder, pixels, layers));
  const { tokens, gflop } = gflops(built.arch, c.size, 1);
  const a = built.arch;
  const shapes = { width: a.width, depth: a.depth, heads: built.heads, mlp: a.mlp, patch: a.patch, prefix: a.prefix, tokens, gflop };
  const out: Measured = { executor, threads, ms: median(times), firstMs, peakRssBytes: process.resourceUsage().maxRSS * 1024, weightBytes, shapes };
  console.log(JSON.stringify(out));
  pixels.dispose();
  await encoder.dispose();
}

/** Runs one executor on one case in a child process of its own (so its time and RSS are its alone). */
export function runChild(c: Case, executor: string, threads: number, repeats: number): Measured {
  const here = fileURLToPath(import.meta.url);
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, '--expose-gc', here, '--child', `${c.model}@${c.size}`, executor, String(threads), String(repeats)],
    { encoding: 'utf8', maxBuffer: 1 << 22 },
  );
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (r.status !== 0 || !line)
    return {
      executor,
      threads,
      ms: NaN,
      firstMs: NaN,
      peakRssBytes: NaN,
      note: `failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`,
    };
  return JSON.parse(line) as Measured;
}

function pytorch(c: Case, shapes: NonNullable<Measured['shapes']>, threads: number[], repeats: number): { rows: Measured[]; note?: string } {
  const candidates = [process.env['HGM_PYTHON'], 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  const failures: string[] = [];
  const python = candidates.find((py) => {
    const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status === 0) return true;
    failures.push(`${py}: ${probe.error ? probe.error.message : probe.stderr.trim().split('\n').pop()}`);
    return false;
  });
  if (!python)
    return { rows: [], note: `PyTorch column skipped: no python3 that imports torch (${failures.join('; ')}). On Debian: apt-get install -y python3-torch` };
  const spec = { ...shapes, size: c.size, threads, repeats };
  const script = join(dirname(fileURLToPath(import.meta.url)), 'encoders-reference.py');
  const r = spawnSync(python, [script, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) return { rows: [], note: `PyTorch column failed: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}` };
  const rows = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { threads: number; ms: number; first_ms: number; peak_rss_bytes: number; torch: string })
    .map((x) => ({ executor: `pytorch ${x.torch}`, threads: x.threads, ms: x.ms, firstMs: x.first_ms, peakRssBytes: x.peak_rss_bytes }));
  return { rows };
}

export async function run(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    await child(parseCase(argv[1]!), argv[2] as 'tfjs-wasm' | 'onnx', Number(argv[3]), Number(argv[4]));
    return;
  }
  let cases = ['dinov3-vitl16@224'];
  let repeats = 2;
  let allThreads = cpus().length;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--all') cases = ALL_CASES;
    else if (a === '--cases') cases = (argv[++i] ?? '').split(',');
    else if (a === '--repeats') repeats = Number(argv[++i]);
    else if (a === '--threads') allThreads = Number(argv[++i]);
    else throw new Error(`encoders: unknown argument ${a} (expected --cases, --all, --repeats, --threads)`);
  }
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`encoders: --repeats must be an integer >= 1, found ${repeats}`);
  if (!Number.isInteger(allThreads) || allThreads < 1) throw new Error(`encoders: --threads must be an integer >= 1, found ${allThreads}`);
  const ort = loadOnnxRuntime();
  const threadCounts = [...new Set([1, allThreads])];
  console.log(
    `encoders: ${cases.join(', ')}; ${cpus().length} cores; ONNX Runtime: ${ort.ok ? `onnxruntime-node ${ort.runtime.version}` : `skipped (${ort.reason})`}`,
  );
  const header = [
    'case',
    'tokens',
    'GFLOP',
    'executor',
    'threads',
    'first ms',
    'ms/image',
    'GFLOP/s',
    'weights GiB',
    'peak RSS GiB',
    'peak / weights',
    'vs PyTorch best',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  const notes: string[] = [];
  for (const spec of cases) {
    const c = parseCase(spec);
    const rows: Measured[] = [runChild(c, 'tfjs-wasm', 1, repeats)];
    if (ort.ok) for (const t of threadCounts) rows.push(runChild(c, 'onnx', t, repeats));
    const shapes = rows.find((r) => r.shapes)?.shapes;
    if (!shapes) throw new Error(`encoders ${spec}: every executor failed:\n${rows.map((r) => `  ${r.executor}: ${r.note}`).join('\n')}`);
    const { tokens, gflop } = shapes;
    const weightBytes = rows.find((r) => r.weightBytes)?.weightBytes ?? NaN;
    const py = pytorch(c, shapes, threadCounts, repeats);
    if (py.note) notes.push(`${spec}: ${py.note}`);
    rows.push(...py.rows);
    const best = py.rows.length > 0 ? Math.min(...py.rows.map((r) => r.ms)) : NaN;
    for (const r of rows) {
      if (r.note) notes.push(`${spec} ${r.executor}: ${r.note}`);
      const ratio = Number.isFinite(best) && Number.isFinite(r.ms) ? `${(best / r.ms).toFixed(2)}x` : '-';
      lines.push(
        `| ${spec} | ${tokens} | ${gflop.toFixed(1)} | ${r.executor} | ${r.threads} | ${r.firstMs.toFixed(0)} | ${r.ms.toFixed(0)} | ${(gflop / (r.ms / 1000)).toFixed(1)} | ${(weightBytes / 2 ** 30).toFixed(2)} | ${(r.peakRssBytes / 2 ** 30).toFixed(2)} | ${(r.peakRssBytes / weightBytes).toFixed(2)}x | ${ratio} |`,
      );
    }
  }
  console.log(lines.join('\n'));
  for (const n of notes) console.log(n);
}

const invokedDirectly = process.argv[1] === fileURLToPath(import.meta.url);
if (invokedDirectly && process.argv[2] === '--child') {
  run(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
