/**
 * `npm run bench -- pipeline [--model paper|tiny] [--size 512] [--backend webgpu|wasm|cpu|tensorflow]
 *   [--batches 1,8|none] [--train-batch 8] [--micro-batch N] [--features encoder|random] [--executors tfjs,onnx]
 *   [--threads 0] [--repeats 3] [--seed 0]`
 *
 * The whole model at its real sizes with seeded random weights (nothing is downloaded): the paper
 * configuration is DINOv3 ViT-L/16 at 512 px + CLIP ViT-L/14-336 text tower + HGM [16, 8, 4, 2], GGTR and DSP.
 * Prints, per batch size: the frozen encoder, the head (HGM, GGTR, DSP prompts through the text tower,
 * anomaly maps with their blur), the blur alone, the whole forward, ms per image and images/s; then one
 * training step as `hgm train` runs it (forward + backward of the trainable part + Adam on cached features, the
 * vision encoder released, the text tower recomputed in the backward pass, `--micro-batch` images per pass with
 * gradient accumulation; default: 1 on wasm, the whole batch elsewhere) with its seconds, the peak of live tensor
 * bytes, the wasm heap's high-water mark, the memory of each part, and the time of an epoch of VisA (10,821 images)
 * at that speed; then the peak GPU memory where the backend reports it, with the backend and adapter named.
 * Times are medians of `--repeats` calls after one warm-up call (shader compilation, caches). `--size`
 * (a multiple of 16) makes a smaller run on slow adapters such as lavapipe; the table says which size ran.
 * `--batches none` skips the inference table; `--features random` trains on seeded random features of the
 * encoder's shapes instead of encoding images (the trainable part alone at real shapes, where the frozen
 * encoder at batch 8 would take too long, e.g. on lavapipe).
 * `--executors tfjs,onnx` runs the inference table once per executor of the frozen vision encoder (tfjs, then
 * ONNX Runtime's CPU provider with `--threads`, 0 = every core, computing in its own thread) and prints the
 * whole forward's speed-up of each over tfjs, measured in the same run. The ONNX session is made after the tfjs
 * rows and the tfjs encoder weights are released once it exists; as in `hgm detect --executor onnx`, the text
 * tower runs on ONNX too where the prompts depend on the image. The forward is the inference path of detect
 * and serve: `encodeVision`, then `predictFromFeatures`. For the paper model the encoders bench's ONNX child
 * (same case and threads, its own process) then runs the encoder alone, and the whole forward at batch 1 is
 * printed as a multiple of it.
 * On webgpu, tensors that would exceed one storage binding (`maxStorageBufferBindingSize`) are split: the
 * token-embedding gather, attention and the transformer MLP; any other kernel over it stops the run with a
 * DeviceLimitError naming the kernel and shape.
 * Arithmetic is float32 on every backend: tfjs-backend-webgpu 4.22 has no half-precision path, so the
 * `shader-f16` line only reports whether the adapter offers it.
 */
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng,
  WASM_HEAP_MAX_BYTES,
  checkMemoryNeed,
  formatImageSize,
  imageHW,
  measurePeakBytes,
  sameImageSize,
  trackPeakBytes,
  wasmHeapBytes,
  withMemoryGuard,
  type MemoryContext,
} from '@hgm/tensor';
import { NamedAdam, accumulateGradients } from '@hgm/engine';
import { initNodeBackend, webgpuDeviceInfo } from '@hgm/tensor/node';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { OnnxImageEncoder, OnnxTextTower, loadOnnxRuntime } from '@hgm/onnx';
import { parseCase, runChild } from './encoders';
import {
  PAPER_CONFIG,
  executorBackbone,
  TINY_CONFIG,
  buildRandomModel,
  mergeConfigInput,
  disposeVisionFeatures,
  disposeDualAnchorOutput,
  gaussianBlur,
  type DualAnchorConfigInput,
  type DualAnchorModel,
  type VisionFeatures,
} from '@hgm/dual-anchor';

type Backend = 'webgpu' | 'wasm' | 'cpu' | 'tensorflow';
type Executor = 'tfjs' | 'onnx';

interface Options {
  model: 'paper' | 'tiny';
  size: number | null;
  backend: Backend;
  batches: number[];
  trainBatch: number;
  microBatch: number | null;
  features: 'encoder' | 'random';
  executors: Executor[];
  threads: number;
  repeats: number;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    model: 'paper',
    size: null,
    backend: 'webgpu',
    batches: [1, 8],
    trainBatch: 8,
    microBatch: null,
    features: 'encoder',
    executors: ['tfjs'],
    threads: 0,
    repeats: 3,
    seed: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`pipeline: ${a} needs a value`);
      return v;
    };
    const int = (v: string, min: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`pipeline: ${a} must be an integer >= ${min}, found ${v}`);
      return n;
    };
    if (a === '--model') {
      const m = value();
      if (m !== 'paper' && m !== 'tiny') throw new Error(`pipeline: --model must be paper or tiny, found ${m}`);
      o.model = m;
    } else if (a === '--backend') {
      const b = value();
      if (!['webgpu', 'wasm', 'cpu', 'tensorflow'].includes(b)) throw new Error(`pipeline: --backend must be webgpu, wasm, cpu or tensorflow, found ${b}`);
      o.backend = b as Backend;
    } else if (a === '--size') o.size = int(value(), 16);
    else if (a === '--batches') {
      const v = value();
      o.batches = v === 'none' ? [] : v.split(',').map((n) => int(n, 1));
    } else if (a === '--features') {
      const f = value();
      if (f !== 'encoder' && f !== 'random') throw new Error(`pipeline: --features must be encoder or random, found ${f}`);
      o.features = f;
    } else if (a === '--executors') {
      const list = value().split(',');
      for (const e of list) if (e !== 'tfjs' && e !== 'onnx') throw new Error(`pipeline: --executors takes tfjs and/or onnx, found ${e}`);
      // tfjs first: the ONNX session releases the tfjs encoder weights
      o.executors = (['tfjs', 'onnx'] as const).filter((e) => list.includes(e));
    } else if (a === '--threads') o.threads = int(value(), 0);
    else if (a === '--train-batch') o.trainBatch = int(value(), 0);
    else if (a === '--micro-batch') o.microBatch = int(value(), 1);
    else if (a === '--repeats') o.repeats = int(value(), 1);
    else if (a === '--seed') o.seed = int(value(), 0);
    else
      throw new Error(
        `pipeline: unknown argument ${a} (expected --model, --size, --backend, --batches, --train-batch, --micro-batch, --features, --executors, --threads, --repeats, --seed)`,
      );
  }
  return o;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Times an async step: one warm-up call, then the median of `repeats` calls, each read back (so the GPU finished). */
async function time(repeats: number, step: () => Promise<void>): Promise<number> {
  await step();
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await step();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

let peakBytes = 0;
function sampleMemory(): void {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPUAllocated?: number; numBytesInGPU?: number };
  peakBytes = Math.max(peakBytes, m.numBytesInGPUAllocated ?? m.numBytesInGPU ?? m.numBytes);
}

/** Reads a tensor back, which waits for the GPU. */
async function settle(t: tf.Tensor): Promise<void> {
  await t.data();
  sampleMemory();
}

/**
 * Seeded random encoder outputs of the shapes the model's backbone gives at `height` x `width` px: the global
 * token [B, C] and one [B, M, C] per tapped layer (M patches, C the backbone's token width).
 */
function randomFeatures(model: DualAnchorModel, batch: number, height: number, width: number, seed: number): VisionFeatures {
  const { patchSize, tokenWidth } = model.frozen.backbone;
  const grid: [number, number] = [height / patchSize, width / patchSize];
  return {
    globalToken: tf.randomNormal([batch, tokenWidth], 0, 1, 'float32', seed) as tf.Tensor2D,
    patchTokens: model.config.layers.map((_, i) => tf.randomNormal([batch, grid[0] * grid[1], tokenWidth], 0, 1, 'float32', seed + 1 + i) as tf.Tensor3D),
    grid,
    imageSize: [height, width],
  };
}

/**
 * Moves the model's frozen vision encoder to ONNX Runtime's CPU provider (the tfjs weights are released once
 * the session exists) and returns the encoder, to dispose at the end.
 */
async function useOnnx(model: DualAnchorModel, threads: number): Promise<{ dispose(): Promise<void> }> {
  const load = loadOnnxRuntime();
  if (!load.ok) throw new Error(`pipeline: --executors onnx: ${load.reason}`);
  const source = model.frozen.visionSource;
  if (!source) throw new Error('pipeline: --executors onnx: this model does not expose its vision encoder');
  const options = { layers: model.config.layers, threads, release: true };
  const encoder =
    source.kind === 'clip'
      ? await OnnxImageEncoder.fromClip(source.clip, options)
      : await OnnxImageEncoder.fromDino(source.encoder as Parameters<typeof OnnxImageEncoder.fromDino>[0], options);
  model.useBackbone(executorBackbone(encoder, source));
  // as `hgm detect --executor onnx`: the text tower too where the prompts depend on the image
  let tower: OnnxTextTower | null = null;
  if (!model.textIsInputIndependent && model.frozen.textSource) {
    tower = OnnxTextTower.fromClip(model.frozen.textSource, { threads });
    await tower.prepare((model.dsp?.deepTokens ?? []).map((t) => t.shape[0]!));
    model.useTextExecutor(tower);
  }
  console.log(
    `executor onnx: onnxruntime-node ${load.runtime.version}, cpu, ${threads === 0 ? 'every core' : `${threads} thread(s)`}; vision encoder${tower ? ' and text tower' : ''}`,
  );
  return {
    dispose: async () => {
      model.useTextExecutor(null);
      await tower?.dispose();
      await encoder.dispose();
    },
  };
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** VisA's image count: the auxiliary dataset of the paper's MVTec AD runs (all of its splits). */
const VISA_IMAGES = 10821;

/**
 * The training step of `hgm train` at the model's real shapes: the vision encoder released (features cached,
 * or seeded random ones of its shapes), the text tower recomputed in the backward pass, micro-batches with
 * gradient accumulation, Adam. Prints its time, its memory by part and an epoch's time.
 */
async function trainingStep(model: DualAnchorModel, o: Options, [height, width]: [number, number], backend: string): Promise<void> {
  const b = o.trainBatch;
  const micro = Math.min(b, o.microBatch ?? (backend === 'wasm' ? 1 : b));
  const size = model.config.imageSize;
  const featureBatch = async (rows: number, seed: number): Promise<VisionFeatures> => {
    if (o.features === 'random') return randomFeatures(model, rows, height, width, seed);
    const pixels = tf.randomUniform([rows, 3, height, width], -1, 1, 'float32', seed) as tf.Tensor4D;
    try {
      return await model.encodeVision(pixels);
    } finally {
      pixels.dispose();
    }
  };
  // the features of the whole batch, as the cache holds them (host memory), sliced per micro-batch
  const features = await featureBatch(b, o.seed + 4);
  const encoderBytes = model.releaseVisionEncoder();
  model.recomputeText = true;
  const masks = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([b, height, width], 0, 1, 'float32', o.seed + 3), 0.9), 'float32') as tf.Tensor3D);
  const labels = tf.tensor1d(
    Array.from({ length: b }, (_, i) => i % 2),
    'int32',
  );
  const trainable = new Map(model.params.entries().map((p) => [p.name, p.variable] as const));
  const trainableBytes = [...trainable.values()].reduce((sum, v) => sum + v.size * 4, 0);
  const adam = new NamedAdam(trainable);
  const memory: MemoryContext = {
    what: `training step of ${model.config.name ?? o.model} at ${formatImageSize(size)} px, batch size ${b} in micro-batches of ${micro}`,
    tryInstead: 'a smaller --micro-batch (the same optimiser step) or --size, or --backend webgpu on a GPU',
  };
  // Adam's two moments are resident from here; a step adds the gradients (the sum and the newest)
  checkMemoryNeed(2 * trainableBytes, { gradients: 2 * trainableBytes }, memory);
  const featureBytes = [features.globalToken, ...features.patchTokens].reduce((sum, t) => sum + t.size * 4, 0) / b;
  const slice = <T extends tf.Tensor>(t: T, offset: number, rows: number): T => tf.slice(t, offset, rows) as T;
  let step = 0;
  let peak = 0;
  let lastLoss = NaN;
  const runStep = async () => {
    const tracker = trackPeakBytes();
    const r = await accumulateGradients(trainable, b, micro, `${o.seed}:noise:1:${++step}`, (offset, rows) => {
      const f: VisionFeatures = {
        globalToken: slice(features.globalToken, offset, rows),
        patchTokens: features.patchTokens.map((t) => slice(t, offset, rows)),
        grid: features.grid,
        imageSize: features.imageSize,
      };
      const mk = slice(masks, offset, rows);
      const lb = slice(labels, offset, rows);
      return {
        loss: (rng) => {
          const r = model.trainingLoss({ features: f, masks: mk, labels: lb }, { rng });
          return { total: r.total, terms: r.terms as unknown as Record<string, tf.Scalar> };
        },
        dispose: () => {
          disposeVisionFeatures(f);
          tf.dispose([mk, lb]);
        },
      };
    }).finally(() => (peak = Math.max(peak, tracker.stop())));
    adam.apply(r.grads);
    tf.dispose([...r.grads.values()]);
    lastLoss = r.loss;
    sampleMemory();
  };
  const stepMs = await withMemoryGuard(() => time(o.repeats, runStep), memory);
  // the parts, each measured alone at one micro-batch
  const parts = await withMemoryGuard(() => partPeaks(model, micro, features), memory);
  const textBytes = model.frozen.frozenVariables().reduce((sum, v) => sum + v.size * 4, 0);
  console.log('');
  const source = o.features === 'random' ? "seeded random features of the encoder's shapes" : 'features encoded once';
  console.log(
    `training step at batch ${b} in micro-batches of ${micro} (${source}; vision encoder released; text tower recomputed in the backward pass; forward + backward + Adam): ${(stepMs / 1000).toFixed(1)} s (median of ${o.repeats} after a warm-up), loss ${lastLoss.toFixed(4)}`,
  );
  console.log('');
  console.log('| part | memory |');
  console.log('|---|---|');
  console.log(`| vision encoder weights (released before the first step) | ${MiB(encoderBytes)} |`);
  console.log(`| frozen text tower weights (resident) | ${MiB(textBytes)} |`);
  console.log(`| trainable parameters | ${MiB(trainableBytes)} |`);
  console.log(`| Adam moments | ${MiB(2 * trainableBytes)} |`);
  console.log(`| gradients (sum + newest micro-batch) | ${MiB(2 * trainableBytes)} |`);
  console.log(`| cached features per image (float32) | ${MiB(featureBytes)} |`);
  console.log(`| DSP prompts through the text tower, forward + backward, ${micro} image(s) (peak added) | ${MiB(parts.text)} |`);
  console.log(`| HGM at M = ${features.grid[0] * features.grid[1]} tokens, forward + backward, ${micro} image(s) (peak added) | ${MiB(parts.hgm)} |`);
  console.log(`| whole micro-batch step (peak added over resident) | ${MiB(peak)} |`);
  const heap = wasmHeapBytes();
  console.log(`| live tensors at the step's peak | ${MiB(peak + tf.memory().numBytes)} |`);
  peakBytes = Math.max(peakBytes, peak + tf.memory().numBytes);
  if (heap !== undefined) console.log(`| wasm heap high-water mark (limit ${MiB(WASM_HEAP_MAX_BYTES)}) | ${MiB(heap)} |`);
  console.log('');
  const steps = Math.ceil(VISA_IMAGES / b);
  console.log(
    `an epoch of VisA (${VISA_IMAGES} images, ${steps} steps of ${b}) at this speed: ${((steps * stepMs) / 3.6e6).toFixed(1)} h; the paper's 15 epochs: ${((15 * steps * stepMs) / 3.6e6).toFixed(1)} h`,
  );
  if (backend === 'wasm')
    console.log(
      'wasm ran on 1 thread: tfjs-backend-wasm 4.22 turns its threads off under Node (WASM_HAS_MULTITHREAD_SUPPORT is false there, tfjs issue #3830)',
    );
  adam.dispose();
  disposeVisionFeatures(features);
  tf.dispose([masks, labels]);
}

/** Peak tensor bytes added by the text tower (DSP prompts) and by HGM, each forward + backward alone. */
async function partPeaks(model: DualAnchorModel, rows: number, features: VisionFeatures): Promise<{ text: number; hgm: number }> {
  const d = model.config.clip.embedDim;
  const anchors = tf.variable(tf.randomNormal([rows, 2, d], 0, 1, 'float32', 1) as tf.Tensor3D);
  const text = measurePeakBytes(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(model.textFeatures(anchors)) as tf.Scalar, [anchors]);
    tf.dispose([value, ...Object.values(grads)]);
  }).peakBytes;
  anchors.dispose();
  let hgm = 0;
  if (model.hgm) {
    const patches = features.patchTokens.map((t) => tf.slice(t, 0, rows) as tf.Tensor3D);
    const vars = model.params
      .entries()
      .filter((p) => p.name.startsWith('hgm.'))
      .map((p) => p.variable);
    const rng = new Rng(3);
    hgm = measurePeakBytes(() => {
      const { value, grads } = tf.variableGrads(() => {
        const mapped = patches.map((t, i) => (model.adapters ? model.adapters.mapPatches(t, i) : t) as tf.Tensor3D);
        const h = model.hgm!.forward(mapped, { mode: 'train', rng });
        return tf.sum(h.imageAnchors) as tf.Scalar;
      }, vars);
      tf.dispose([value, ...Object.values(grads)]);
    }).peakBytes;
    tf.dispose(patches);
  }
  return { text, hgm };
}

export async function run(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const report = await initNodeBackend(o.backend, { wasmThreads: 1 });
  tf.enableProdMode();
  const base = o.model === 'paper' ? PAPER_CONFIG : TINY_CONFIG;
  const config: DualAnchorConfigInput = o.size === null ? base : mergeConfigInput(base, { imageSize: o.size });
  const tokenizer = await loadClipTokenizer();
  const built = performance.now();
  const model = buildRandomModel(config, tokenizer, { backboneSeed: o.seed });
  const buildMs = performance.now() - built;
  const size = model.config.imageSize;
  const [height, width] = imageHW(size);
  const gpu = webgpuDeviceInfo();
  const adapter = report.chosen === 'webgpu' && gpu ? `${gpu.adapter}` : report.providedBy;
  const software = /llvmpipe|lavapipe|swiftshader/i.test(adapter);
  console.log(
    `pipeline: ${model.config.name ?? o.model} at ${formatImageSize(size)} px${!sameImageSize(size, base.imageSize ?? size) ? ` (the real size is ${formatImageSize(base.imageSize ?? size)} px)` : ''}, seeded random weights`,
  );
  console.log(`backend: ${report.chosen} (${report.providedBy}); adapter: ${adapter}${software ? ' (software: a CPU, not a GPU)' : ''}`);
  if (report.chosen === 'webgpu' && gpu) {
    console.log(
      `shader-f16: ${gpu.shaderF16 ? 'offered by the adapter' : 'not offered'}; ran: ${gpu.precision} (tfjs-backend-webgpu 4.22 has no half-precision path)`,
    );
    console.log(
      `storage binding: ${gpu.limits.maxStorageBufferBindingSize} bytes (maxStorageBufferBindingSize); split above it: token-embedding gather, attention, MLP`,
    );
  }
  console.log(`model built with seeded random weights in ${(buildMs / 1000).toFixed(1)} s`);
  let onnx: { dispose(): Promise<void> } | undefined;
  if (o.batches.length > 0) {
    const forwardMs = new Map<string, number>();
    const rows: string[] = [];
    for (const executor of o.executors) {
      if (executor === 'onnx') onnx = await useOnnx(model, o.threads);
      for (const b of o.batches) {
        const pixels = tf.tidy(() => tf.randomUniform([b, 3, height, width], -1, 1, 'float32', o.seed) as tf.Tensor4D);
        const encoder = await time(o.repeats, async () => {
          const f = await model.encodeVision(pixels);
          await settle(f.globalToken);
          disposeVisionFeatures(f);
        });
        const features = await model.encodeVision(pixels);
        const head = await time(o.repeats, async () => {
          const out = await model.predictFromFeatures(features);
          await settle(out.anomalyMap);
          disposeDualAnchorOutput(out);
        });
        disposeVisionFeatures(features);
        const maps = tf.tidy(() => tf.randomUniform([b, height, width]) as tf.Tensor3D);
        const blur = await time(o.repeats, async () => {
          const m = gaussianBlur(maps, 4);
          await settle(m);
          m.dispose();
        });
        maps.dispose();
        // as detect and serve run it: the encoder, then the head with the text tower on the executor
        const forward = await time(o.repeats, async () => {
          const f = await model.encodeVision(pixels);
          const out = await model.predictFromFeatures(f);
          disposeVisionFeatures(f);
          await settle(out.anomalyMap);
          disposeDualAnchorOutput(out);
        });
        pixels.dispose();
        forwardMs.set(`${executor} ${b}`, forward);
        rows.push(
          `| ${executor} | ${b} | ${encoder.toFixed(1)} | ${head.toFixed(1)} | ${blur.toFixed(1)} | ${forward.toFixed(1)} | ${(forward / b).toFixed(1)} | ${((1000 * b) / forward).toFixed(2)} |`,
        );
      }
    }
    console.log('');
    console.log('| executor | batch | encoder ms | head + maps ms | blur ms | forward ms | ms / image | images / s |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    if (o.executors.length > 1) {
      console.log('');
      for (const b of o.batches) {
        const base = forwardMs.get(`tfjs ${b}`)!;
        console.log(`whole forward at batch ${b}: onnx ${(base / forwardMs.get(`onnx ${b}`)!).toFixed(2)}x faster than tfjs`);
      }
    }
    const single = forwardMs.get('onnx 1');
    if (single !== undefined && o.model === 'paper') {
      // the encoders bench's ONNX child on the same case and threads, in its own process, measured now
      const c = `dinov3-vitl16@${height}`;
      const alone = height === width ? runChild(parseCase(c), 'onnx', o.threads === 0 ? cpus().length : o.threads, o.repeats) : undefined;
      console.log('');
      if (!alone || !Number.isFinite(alone.ms)) console.log(`encoder alone (encoders bench, ${c}): not measured${alone?.note ? `: ${alone.note}` : ''}`);
      else
        console.log(
          `whole forward at batch 1 (onnx): ${single.toFixed(0)} ms = ${(single / alone.ms).toFixed(2)}x the encoder alone (npm run bench -- encoders --cases ${c}, onnx ${alone.threads} threads, own process, this run: ${alone.ms.toFixed(0)} ms)`,
        );
    }
  }
  if (o.trainBatch > 0) await trainingStep(model, o, [height, width], report.chosen);
  const memKind = report.chosen === 'webgpu' ? 'GPU buffers allocated' : 'tensor bytes';
  console.log(`peak memory (${memKind}): ${(peakBytes / 2 ** 20).toFixed(0)} MiB`);
  if (report.chosen !== 'webgpu' || software) console.log('no GPU ran this table: its times are not GPU times');
  model.dispose();
  await onnx?.dispose();
}
