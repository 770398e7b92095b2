/**
 * `npm run bench -- load-checkpoint [--size-gb 1.2] [--format openai|hf-clip] [--dir <tmp folder>] [--keep]`
 *
 * Writes a random safetensors checkpoint with ViT-L-like tensor names and shapes (a CLIP ViT-L/14@336
 * vision tower, as many blocks as the size asks for), streamed to disk in chunks; then loads it tensor by
 * tensor into a tfjs ParameterStore on the cpu backend with the real loader (`loadWeights`, which converts
 * Hugging Face keys on the fly for `--format hf-clip`), and prints the load time and the peak resident
 * memory against the file size. The target is a peak RSS under 1.5x the file size: the loader must never
 * hold a second full copy of the weights. The temporary file is deleted at the end (unless --keep).
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore } from '@hgm/tensor';
import { initNodeBackend, openSafetensors } from '@hgm/tensor/node';
import { CLIP_VIT_L_14_336, clipParameterShapes, loadWeights, type HeaderEntry } from '@hgm/backbone';
import { writeSafetensorsStreamed } from '@hgm/backbone/node';

interface Args {
  sizeGb: number;
  format: 'openai' | 'hf-clip';
  dir: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizeGb: 1.2, format: 'openai', dir: tmpdir(), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`load-checkpoint: ${a} needs a value`);
      return v;
    };
    if (a === '--size-gb') args.sizeGb = Number(value());
    else if (a === '--format') args.format = value() as Args['format'];
    else if (a === '--dir') args.dir = value();
    else if (a === '--keep') args.keep = true;
    else throw new Error(`load-checkpoint: unknown argument ${a} (expected --size-gb N, --format openai|hf-clip, --dir D, --keep)`);
  }
  if (!(args.sizeGb > 0 && args.sizeGb <= 16)) throw new Error(`load-checkpoint: --size-gb must be in (0, 16], found ${args.sizeGb}`);
  if (args.format !== 'openai' && args.format !== 'hf-clip') throw new Error(`load-checkpoint: --format must be openai or hf-clip, found ${args.format}`);
  return args;
}

/** ViT-L/14@336 vision tower facts. */
const WIDTH = CLIP_VIT_L_14_336.vision.width;
const PATCH = CLIP_VIT_L_14_336.vision.patchSize;
const TOKENS = (CLIP_VIT_L_14_336.vision.imageSize / PATCH) ** 2 + 1;
const EMBED = CLIP_VIT_L_14_336.embedDim;

/** The openai names and shapes a CLIP ViT-L/14@336 vision model with `blocks` blocks registers. */
function storeEntries(blocks: number): HeaderEntry[] {
  const config = { ...CLIP_VIT_L_14_336, vision: { ...CLIP_VIT_L_14_336.vision, layers: blocks } };
  return clipParameterShapes(config, 'vision').map(([name, shape]) => ({ name, dtype: 'F32', shape }));
}

/** Tensor list of a CLIP ViT-L-like vision tower with `blocks` blocks, in the stored key format. */
function vitLEntries(blocks: number, format: Args['format']): HeaderEntry[] {
  if (format === 'openai') return storeEntries(blocks);
  const W = WIDTH;
  const e = (name: string, shape: number[]): HeaderEntry => ({ name, dtype: 'F32', shape });
  const out = [
    e('vision_model.embeddings.class_embedding', [W]),
    e('vision_model.embeddings.patch_embedding.weight', [W, 3, PATCH, PATCH]),
    e('vision_model.embeddings.position_embedding.weight', [TOKENS, W]),
    e('vision_model.pre_layrnorm.weight', [W]),
    e('vision_model.pre_layrnorm.bias', [W]),
  ];
  for (let i = 0; i < blocks; i++) {
    const p = `vision_model.encoder.layers.${i}`;
    for (const q of ['k', 'v', 'q']) out.push(e(`${p}.self_attn.${q}_proj.weight`, [W, W]), e(`${p}.self_attn.${q}_proj.bias`, [W]));
    out.push(
      e(`${p}.self_attn.out_proj.weight`, [W, W]),
      e(`${p}.self_attn.out_proj.bias`, [W]),
      e(`${p}.layer_norm1.weight`, [W]),
      e(`${p}.layer_norm1.bias`, [W]),
    );
    out.push(e(`${p}.mlp.fc1.weight`, [4 * W, W]), e(`${p}.mlp.fc1.bias`, [4 * W]), e(`${p}.mlp.fc2.weight`, [W, 4 * W]), e(`${p}.mlp.fc2.bias`, [W]));
    out.push(e(`${p}.layer_norm2.weight`, [W]), e(`${p}.layer_norm2.bias`, [W]));
  }
  out.push(e('vision_model.post_layernorm.weight', [W]), e('vision_model.post_layernorm.bias', [W]), e('visual_projection.weight', [EMBED, W]));
  return out;
}

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Random small float32 values (|x| in [2^-7, 2^-6)), generated in chunks of at most `chunkFloats`. */
function* randomFloatChunks(count: number, chunkFloats: number): Generator<Uint8Array> {
  for (let done = 0; done < count; done += chunkFloats) {
    const n = Math.min(chunkFloats, count - done);
    const words = new Uint32Array(n);
    randomFillSync(words);
    for (let i = 0; i < n; i++) words[i] = (words[i]! & 0x807fffff) | 0x3c000000;
    yield new Uint8Array(words.buffer);
  }
}

/** Peak resident set size of this process so far (kB from /proc/self/status), or undefined off Linux. */
function vmHwmBytes(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the kernel's peak-RSS counter (Linux: write 5 to clear_refs); false where not possible. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

const MB = 1024 * 1024;
const fmt = (b: number | undefined): string => (b === undefined ? 'n/a' : `${(b / MB).toFixed(0)} MB`);

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  await initNodeBackend('cpu');
  const perBlock = 12 * WIDTH * WIDTH + 13 * WIDTH;
  const fixed = 3 * PATCH * PATCH * WIDTH + TOKENS * WIDTH + WIDTH * EMBED + 5 * WIDTH;
  const blocks = Math.max(1, Math.round((args.sizeGb * 1e9) / 4 / perBlock - fixed / perBlock));
  const entries = vitLEntries(blocks, args.format);
  const dir = await mkdtemp(join(args.dir, 'hgm-load-checkpoint-'));
  const path = join(dir, `vit-l-like-${args.format}.safetensors`);
  try {
    let t0 = performance.now();
    const { sizeBytes } = await writeSafetensorsStreamed(path, entries, (entry) => randomFloatChunks(numel(entry.shape), 4 * MB), { format: 'pt' });
    const writeMs = performance.now() - t0;
    console.log(`wrote ${path}: ${entries.length} tensors, ${blocks} blocks of width ${WIDTH}, ${fmt(sizeBytes)} in ${(writeMs / 1000).toFixed(1)} s`);

    // Measure from here: the model's parameters (zeros) and the load.
    (globalThis as { gc?: () => void }).gc?.();
    const peakReset = resetPeak();
    const baseline = process.memoryUsage().rss;
    let sampled = baseline;
    const timer = setInterval(() => {
      sampled = Math.max(sampled, process.memoryUsage().rss);
    }, 5);

    t0 = performance.now();
    const store = new ParameterStore();
    const storeList = storeEntries(blocks);
    for (const e of storeList) store.add(e.name, tf.zeros([...e.shape]), { trainable: false });
    const buildMs = performance.now() - t0;
    const afterBuild = process.memoryUsage().rss;
    sampled = Math.max(sampled, afterBuild);

    t0 = performance.now();
    const reader = await openSafetensors(path);
    let report;
    try {
      report = await loadWeights(store, reader);
    } finally {
      await reader.close();
    }
    const loadMs = performance.now() - t0;
    clearInterval(timer);
    const afterLoad = process.memoryUsage().rss;
    sampled = Math.max(sampled, afterLoad);
    const hwm = vmHwmBytes();
    const peak = Math.max(sampled, hwm ?? 0);

    // Spot check: one tensor arrived intact.
    const probeName = storeList[4]!.name;
    const probe = (await store.get(probeName).data()) as Float32Array;
    const check = await openSafetensors(path);
    const fromFile = args.format === 'openai' ? (await check.readHost(probeName)).data : undefined;
    await check.close();
    if (fromFile && !probe.every((v, i) => v === fromFile[i])) throw new Error(`load-checkpoint: ${probeName} differs from the file after loading`);
    const params = store.count();
    store.dispose();

    const ratio = peak / sizeBytes;
    const rows: [string, string][] = [
      ['key format', `${report.from} -> ${report.to}${report.from !== report.to ? ' (converted on the fly)' : ''}`],
      ['file size', fmt(sizeBytes)],
      ['tensors / parameters', `${report.loaded.length} / ${(params / 1e6).toFixed(1)} M`],
      ['write time (streamed)', `${(writeMs / 1000).toFixed(2)} s`],
      ['build store (zeros)', `${(buildMs / 1000).toFixed(2)} s`],
      ['load time', `${(loadMs / 1000).toFixed(2)} s (${(sizeBytes / MB / (loadMs / 1000)).toFixed(0)} MB/s)`],
      ['RSS before store', fmt(baseline)],
      ['RSS after store build', fmt(afterBuild)],
      ['RSS after load', fmt(afterLoad)],
      ['peak RSS, sampled every 5 ms', fmt(sampled)],
      [`peak RSS, VmHWM${peakReset ? ' (reset after writing)' : ' (whole run)'}`, fmt(hwm)],
      ['peak RSS / file size', `${ratio.toFixed(2)}x (target < 1.5x) ${ratio < 1.5 ? 'OK' : 'OVER'}`],
      ['(peak - baseline) / file size', `${((peak - baseline) / sizeBytes).toFixed(2)}x`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(`\nload-checkpoint (tfjs ${tf.version_core}, backend ${tf.getBackend()}, node ${process.version})`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
    if (ratio >= 1.5) process.exitCode = 1;
  } finally {
    if (!args.keep) await rm(dir, { recursive: true, force: true });
    else console.log(`kept ${path}`);
  }
}
