/**
 * Training as the method specifies (method.md step 7): Adam on the trainable parameters only, a seeded
 * order per epoch, loss terms logged per step, an atomic checkpoint after every epoch (and when
 * interrupted), and exact resumption: a resumed run ends with the same parameters as an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  Rng,
  type HostTensor,
  type WritableTensor,
  CheckpointMismatchError,
  ConfigError,
  DivergedError,
  InputNotFoundError,
  checkMemoryNeed,
  backendMemoryLimit,
  trackPeakBytes,
  OutOfMemoryError,
  formatGiB,
  formatImageSize,
  withMemoryGuard,
  type MemoryContext,
} from '@hgm/tensor';
import { atomicWriteFile, openSafetensors, pathExists, writeSafetensorsFile } from '@hgm/tensor/node';
import type { DatasetFileSystem, DatasetSample } from '@hgm/data';
import { NamedAdam, DEFAULT_ADAM, type AdamConfig } from './adam';
import type { EngineModel } from './engine-model';
import { FeatureCache } from './feature-cache';
import { loadFeatureBatch, maskBatch, prepareSamples, type PreparedSample } from './features';
import { RateMeter, type ProgressListener } from './progress';
import { accumulateGradients } from './gradient-accumulation';

export interface TrainOptions {
  model: EngineModel;
  /** Training samples (with masks where the dataset has them). */
  samples: readonly DatasetSample[];
  fs: DatasetFileSystem;
  /** Folder for `checkpoint.safetensors`, `model.safetensors` and `history.json`. */
  outDir: string;
  /** Folder of the feature cache. */
  featureCacheDir: string;
  epochs?: number;
  batchSize?: number;
  /**
   * Images per forward/backward pass (default 'auto': the batch size where the backend has no known memory limit;
   * on wasm the largest that the probe's measured memory per image fits under the heap's limit). A batch is run in micro-batches of this size
   * whose gradients are summed, weighted by their share of the batch, before the one optimiser step of the
   * batch: the same step as the whole batch at once (every loss term is a mean over images and each micro-batch
   * gets its rows of the batch's noise), with the memory of a micro-batch.
   */
  microBatch?: number | 'auto';
  /**
   * Measure and report the plan (see {@link TrainPlan}), then stop before the first optimiser step: nothing is
   * trained and no checkpoint is written. The features are cached (they are what a run needs first).
   */
  dryRun?: boolean;
  /**
   * Free the frozen vision encoder once the features are cached (default true): training reads the cache only.
   * The model cannot encode images afterwards.
   */
  releaseEncoder?: boolean;
  adam?: Partial<AdamConfig>;
  seed?: number;
  /** Continue from `outDir/checkpoint.safetensors` when it exists (default true). */
  resume?: boolean;
  onProgress?: ProgressListener;
  /** Stops after the current step, saving a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
  /** Counts of vision-encoder use (tests and reports). */
  counters?: { encoderCalls: number; encodedImages: number };
}

/** One logged training step. */
export interface StepRecord {
  epoch: number;
  step: number;
  loss: number;
  terms: Record<string, number>;
}

export interface TrainResult {
  /** Epochs fully completed (including those of earlier, resumed runs). */
  epochsCompleted: number;
  history: StepRecord[];
  checkpointPath: string;
  /** The trainable parameters with their config (what `hgm eval` and `hgm detect` load). */
  modelPath: string;
  interrupted: boolean;
  /** Epoch and step this run started from (1-based epoch, 0-based step) when it resumed. */
  resumedFrom?: { epoch: number; step: number };
  featureCache: { hits: number; misses: number; writes: number };
  /** The plan measured before the first step. */
  plan: TrainPlan;
  /** True when the run stopped after the plan ({@link TrainOptions.dryRun}). */
  dryRun?: boolean;
}

/**
 * What a run will cost, measured before its first step by two probe passes (forward and backward of one image,
 * no update): the first warms up, the second is timed.
 */
export interface TrainPlan {
  batchSize: number;
  microBatch: number;
  /** Seconds of the timed probe pass (one image: reading its features, forward, backward). */
  secondsPerImage: number;
  /** Estimated seconds per optimiser step (images of a batch x seconds per image). */
  secondsPerStep: number;
  stepsPerEpoch: number;
  secondsPerEpoch: number;
  /** For the epochs still to run (after a resume: the rest). */
  secondsForRun: number;
  /** Peak of live tensor bytes a one-image pass adds. */
  peakBytesPerImage: number;
  /** Live tensor bytes before the first step (frozen text tower, trainable parameters, Adam moments). */
  residentBytes: number;
  /** Estimated peak of live tensor bytes of a step: resident, gradients, micro-batch x per image. */
  peakBytes: number;
  /** The backend's memory limit, where it has one (wasm). */
  limitBytes?: number;
  featureCacheBytes: number;
  /** Seconds to read one image's features from the cache. */
  featureReadSeconds: number;
}

/** Share of the backend's limit a planned step may use (the rest: fragmentation of the heap, host copies). */
const PLAN_HEADROOM = 0.85;

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The plan as one line for the progress stream. */
export function formatTrainPlan(p: TrainPlan, epochsLeft: number): string {
  const limit = p.limitBytes !== undefined ? ` of a ${formatGiB(p.limitBytes)} limit` : '';
  return (
    `plan: ${p.secondsPerStep.toFixed(1)} s per step of ${p.batchSize} (${p.secondsPerImage.toFixed(2)} s per image measured, micro-batches of ${p.microBatch}), ` +
    `peak memory ~${formatGiB(p.peakBytes)}${limit}, feature cache ${p.featureCacheBytes < 2 ** 30 ? `${(p.featureCacheBytes / 2 ** 20).toFixed(1)} MiB` : formatGiB(p.featureCacheBytes)} (${(p.featureReadSeconds * 1000).toFixed(0)} ms per image to read), ` +
    `${formatDuration(p.secondsPerEpoch)} per epoch of ${p.stepsPerEpoch} steps, ${formatDuration(p.secondsForRun)} for the ${epochsLeft} epoch(s) to run`
  );
}

/**
 * Two probe passes of one image (forward and backward, no update, noise of their own): the time of the second
 * and the peak memory of either, then the micro-batch and the plan. @throws OutOfMemoryError when even one image
 * does not fit, naming the need and the limit
 */
async function probePlan(
  model: EngineModel,
  trainable: ReadonlyMap<string, tf.Variable>,
  cache: FeatureCache,
  prepared: readonly PreparedSample[],
  o: { batchSize: number; microBatch: number | 'auto'; epochsLeft: number; stepsLeftThisEpoch: number; context: MemoryContext },
): Promise<TrainPlan> {
  const size = model.preprocess.size;
  const trainableBytes = [...trainable.values()].reduce((sum, v) => sum + v.size * 4, 0);
  const residentBytes = tf.memory().numBytes;
  const limit = backendMemoryLimit();
  checkMemoryNeed(2 * trainableBytes, { gradients: 2 * trainableBytes }, o.context);
  let seconds = 0;
  let readSeconds = 0;
  let peak = 0;
  const sample = [prepared[0]!];
  // its own reader of the same folder: the probe's reads are not the run's cache statistics
  const reader = new FeatureCache(cache.dir);
  for (let probe = 0; probe < 2; probe++) {
    const tracker = trackPeakBytes();
    const t0 = performance.now();
    let t1 = t0;
    try {
      const r = await accumulateGradients(trainable, 1, 1, `probe:${probe}`, async () => {
        const features = await loadFeatureBatch(reader, sample);
        t1 = performance.now();
        const masks = maskBatch(sample, size);
        const labels = tf.tensor1d([sample[0]!.label], 'float32');
        return {
          loss: (rng) => model.loss(features, masks, labels, rng),
          dispose: () => tf.dispose([...features.values(), masks, labels]),
        };
      });
      tf.dispose([...r.grads.values()]);
    } finally {
      peak = Math.max(peak, tracker.stop());
    }
    seconds = (performance.now() - t0) / 1000;
    readSeconds = (t1 - t0) / 1000;
  }
  let microBatch: number;
  if (o.microBatch !== 'auto') microBatch = Math.min(o.microBatch, o.batchSize);
  else if (limit === undefined) microBatch = o.batchSize;
  else {
    const room = PLAN_HEADROOM * limit - residentBytes - 2 * trainableBytes;
    microBatch = Math.max(1, Math.min(o.batchSize, Math.floor(room / Math.max(1, peak))));
  }
  const peakBytes = residentBytes + (o.batchSize > microBatch ? 2 : 1) * trainableBytes + microBatch * peak;
  if (limit !== undefined && residentBytes + 2 * trainableBytes + peak > limit) {
    throw new OutOfMemoryError(
      `out of memory on ${tf.getBackend()}: one image of the ${o.context.what} needs ~${formatGiB(residentBytes + 2 * trainableBytes + peak)} (resident ${formatGiB(residentBytes)}, gradients ${formatGiB(2 * trainableBytes)}, one image's pass ${formatGiB(peak)}), over the limit of ${formatGiB(limit)}. Try ${o.context.tryInstead}`,
      tf.getBackend(),
      limit,
      residentBytes + 2 * trainableBytes + peak,
    );
  }
  const stepsPerEpoch = Math.ceil(prepared.length / o.batchSize);
  const secondsPerStep = seconds * o.batchSize;
  const secondsPerEpoch = seconds * prepared.length;
  const featureCacheBytes = await cache.sizeOf(prepared.map((p) => p.key));
  return {
    batchSize: o.batchSize,
    microBatch,
    secondsPerImage: seconds,
    secondsPerStep,
    stepsPerEpoch,
    secondsPerEpoch,
    secondsForRun: secondsPerEpoch * Math.max(0, o.epochsLeft - 1) + secondsPerStep * o.stepsLeftThisEpoch,
    peakBytesPerImage: peak,
    residentBytes,
    peakBytes,
    ...(limit !== undefined ? { limitBytes: limit } : {}),
    featureCacheBytes,
    featureReadSeconds: readSeconds,
  };
}

const CHECKPOINT_FORMAT = 'hgm-train-checkpoint';

interface CheckpointMeta {
  format: string;
  version: number;
  model: string;
  config: string;
  /** Completed epochs. */
  epoch: number;
  /** Steps of the next epoch already done (non-zero only for an interrupted run). */
  stepInEpoch: number;
  optimizerStep: number;
  seed: number;
  batchSize: number;
  epochs: number;
  samples: string;
  history: string;
}

/** Fingerprint of the training set (paths and labels, in order). */
function samplesFingerprint(samples: readonly DatasetSample[]): string {
  const h = createHash('sha256');
  for (const s of samples) h.update(`${s.imagePath}\0${s.maskPaths.join('\0')}\0${s.label}\n`);
  return h.digest('hex');
}

/** The order of epoch `epoch` (1-based): a pure function of the seed and the epoch. */
export function epochOrder(seed: number, epoch: number, n: number): Int32Array {
  return new Rng(`${seed}:order:${epoch}`).permutation(n);
}

/** Where a resumed run starts, with the history of the runs before it. */
interface ResumeState {
  epoch: number;
  step: number;
  history: StepRecord[];
}

/** What a run writes into its checkpoint's metadata, besides the epoch and step. */
interface RunIdentity {
  modelName: string;
  configJson: string;
  fingerprint: string;
  seed: number;
  batchSize: number;
  epochs: number;
}

/**
 * Reads `checkpointPath` back into the model's trainable parameters and the optimizer, after checking that
 * it was written by a run of the same configuration, training set, seed and batch size.
 * @throws CheckpointMismatchError naming what differs
 */
async function resumeFrom(checkpointPath: string, model: EngineModel, adam: NamedAdam, run: RunIdentity): Promise<ResumeState> {
  const reader = await openSafetensors(checkpointPath);
  try {
    const meta = reader.metadata as unknown as CheckpointMeta;
    const mismatch = (what: string, found: unknown, expected: unknown) =>
      new CheckpointMismatchError(
        checkpointPath,
        `checkpoint ${checkpointPath}: ${what} is ${found}, but this run has ${expected}; use another output folder or start over without resuming`,
      );
    if (meta.format !== CHECKPOINT_FORMAT)
      throw new CheckpointMismatchError(checkpointPath, `checkpoint ${checkpointPath}: not a training checkpoint (format ${JSON.stringify(meta.format)})`);
    if (meta.config !== run.configJson) throw mismatch('the model configuration', meta.config, run.configJson);
    if (meta.samples !== run.fingerprint) throw mismatch('the training set fingerprint', meta.samples.slice(0, 12), run.fingerprint.slice(0, 12));
    if (Number(meta.seed) !== run.seed) throw mismatch('the seed', meta.seed, run.seed);
    if (Number(meta.batchSize) !== run.batchSize) throw mismatch('the batch size', meta.batchSize, run.batchSize);
    const all = await reader.readAllHost();
    const params = new Map<string, HostTensor>();
    const adamState = new Map<string, HostTensor>();
    for (const [k, v] of all) {
      if (k.startsWith('param.')) params.set(k.slice('param.'.length), v);
      else if (k.startsWith('adam.')) adamState.set(k, v);
    }
    await model.parameters.loadStateDict(params, { strict: true, source: checkpointPath, only: (p) => p.trainable });
    adam.restore(adamState, Number(meta.optimizerStep), checkpointPath);
    return { epoch: Number(meta.epoch) + 1, step: Number(meta.stepInEpoch), history: JSON.parse(meta.history) as StepRecord[] };
  } finally {
    await reader.close();
  }
}

/**
 * Writes the training checkpoint (trainable parameters, optimizer state, progress and history), then the
 * model file `hgm eval`/`hgm detect` load and `history.json`, each atomically.
 */
async function writeCheckpoint(
  paths: { checkpointPath: string; modelPath: string; outDir: string },
  model: EngineModel,
  trainable: ReadonlyMap<string, tf.Variable>,
  adam: NamedAdam,
  run: RunIdentity,
  progress: { completedEpochs: number; stepInEpoch: number; history: StepRecord[] },
): Promise<void> {
  const tensors = new Map<string, WritableTensor>();
  for (const [name, v] of trainable) tensors.set(`param.${name}`, { dtype: 'F32', shape: [...v.shape], data: Float32Array.from(await v.data()) });
  const state = await adam.state();
  for (const [k, v] of state.tensors) tensors.set(k, v);
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: 1,
    model: run.modelName,
    config: run.configJson,
    epoch: progress.completedEpochs,
    stepInEpoch: progress.stepInEpoch,
    optimizerStep: state.step,
    seed: run.seed,
    batchSize: run.batchSize,
    epochs: run.epochs,
    samples: run.fingerprint,
    history: JSON.stringify(progress.history),
  };
  await writeSafetensorsFile(paths.checkpointPath, tensors, Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)])));
  await atomicWriteFile(paths.modelPath, await model.saveTrainable());
  await atomicWriteFile(join(paths.outDir, 'history.json'), JSON.stringify(progress.history, null, 1));
}

/**
 * One optimisation step on a batch of prepared samples, in micro-batches of `microBatch` images whose weighted
 * gradients are summed ({@link accumulateGradients}; features read from the cache one micro-batch at a time),
 * then Adam. Returns the step's loss and its terms; every tensor it made is disposed.
 * @throws DivergedError when the loss is not finite
 */
async function trainStep(
  model: EngineModel,
  adam: NamedAdam,
  trainable: ReadonlyMap<string, tf.Variable>,
  cache: FeatureCache,
  batch: readonly PreparedSample[],
  microBatch: number,
  size: EngineModel['preprocess']['size'],
  noiseSeed: string,
  where: { epoch: number; step: number },
  memory?: { gradientBytes: number; context: MemoryContext },
): Promise<{ loss: number; terms: Record<string, number> }> {
  // the first step of a run: its inputs are resident now, and the backward pass adds one gradient per parameter
  // (two with micro-batches: the sum and the newest)
  if (memory) {
    const need = memory.gradientBytes * (batch.length > microBatch ? 2 : 1);
    checkMemoryNeed(need, { gradients: need }, memory.context);
  }
  const r = await accumulateGradients(trainable, batch.length, microBatch, noiseSeed, async (offset, rows) => {
    const micro = batch.slice(offset, offset + rows);
    const features = await loadFeatureBatch(cache, micro);
    const masks = maskBatch(micro, size);
    const labels = tf.tensor1d(
      micro.map((b) => b.label),
      'float32',
    );
    return {
      loss: (rng) => model.loss(features, masks, labels, rng),
      dispose: () => {
        for (const t of features.values()) t.dispose();
        masks.dispose();
        labels.dispose();
      },
    };
  });
  try {
    if (!Number.isFinite(r.loss)) throw new DivergedError(`training diverged at epoch ${where.epoch}, step ${where.step}: loss is ${r.loss}`);
    adam.apply(r.grads);
    return { loss: r.loss, terms: r.terms };
  } finally {
    for (const g of r.grads.values()) g.dispose();
  }
}

/** Trains the model's trainable parameters. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { model, fs, outDir } = options;
  const epochs = options.epochs ?? 15;
  const batchSize = options.batchSize ?? 8;
  const microBatchOption = options.microBatch ?? 'auto';
  const seed = options.seed ?? 111;
  const adamConfig: AdamConfig = { ...DEFAULT_ADAM, ...options.adam };
  if (!Number.isInteger(epochs) || epochs < 1) throw new ConfigError(`epochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`batch size must be a positive integer, got ${batchSize}`);
  if (microBatchOption !== 'auto' && (!Number.isInteger(microBatchOption) || microBatchOption < 1))
    throw new ConfigError(`micro-batch must be a positive integer or 'auto', got ${options.microBatch}`);
  if (options.samples.length === 0) throw new InputNotFoundError('training samples', 'no training samples');
  const emit = options.onProgress ?? (() => undefined);
  const paths = { checkpointPath: join(outDir, 'checkpoint.safetensors'), modelPath: join(outDir, 'model.safetensors'), outDir };
  const { checkpointPath, modelPath } = paths;
  const run: RunIdentity = {
    modelName: model.name,
    configJson: JSON.stringify(model.config),
    fingerprint: samplesFingerprint(options.samples),
    seed,
    batchSize,
    epochs,
  };

  const trainable = new Map(
    model.parameters
      .entries()
      .filter((p) => p.trainable)
      .map((p) => [p.name, p.variable] as const),
  );
  if (trainable.size === 0) throw new ConfigError(`model ${model.name} has no trainable parameters`);
  const adam = new NamedAdam(trainable, adamConfig);
  const trainableBytes = [...trainable.values()].reduce((sum, v) => sum + v.size * 4, 0);
  let firstStep = true;

  let startEpoch = 1;
  let startStep = 0;
  let history: StepRecord[] = [];
  let resumedFrom: TrainResult['resumedFrom'];
  try {
    if ((options.resume ?? true) && (await pathExists(checkpointPath))) {
      const resumed = await resumeFrom(checkpointPath, model, adam, run);
      ({ epoch: startEpoch, step: startStep, history } = resumed);
      resumedFrom = { epoch: startEpoch, step: startStep };
      emit({ type: 'stage', stage: 'resume', message: `resuming from ${checkpointPath}: epoch ${startEpoch}, step ${startStep + 1}` });
    }

    const cache = new FeatureCache(options.featureCacheDir);
    emit({ type: 'stage', stage: 'features', message: `preparing ${options.samples.length} training images (features cached in ${cache.dir})` });
    const prepared = await prepareSamples(model, options.samples, {
      fs,
      cache,
      onProgress: emit,
      stage: 'features',
      ...(options.counters ? { counters: options.counters } : {}),
    });
    if ((options.releaseEncoder ?? true) && model.releaseVisionEncoder) {
      const freed = model.releaseVisionEncoder();
      if (freed > 0)
        emit({ type: 'stage', stage: 'features', message: `released the frozen vision encoder (${formatGiB(freed)}): training reads the feature cache only` });
    }
    const size = model.preprocess.size;
    const stepsPerEpoch = Math.ceil(prepared.length / batchSize);
    const planContext: MemoryContext = {
      what: `training step of model ${model.name} (${formatImageSize(size)} px, ${trainableBytes / 4} trainable parameters), batch size ${batchSize}`,
      tryInstead: 'a smaller image size, or a backend with more memory (webgpu on a GPU)',
    };
    const epochsLeft = Math.max(0, epochs - startEpoch + 1);
    const plan = await withMemoryGuard(
      () =>
        probePlan(model, trainable, cache, prepared, {
          batchSize,
          microBatch: microBatchOption,
          epochsLeft,
          stepsLeftThisEpoch: epochsLeft > 0 ? stepsPerEpoch - startStep : 0,
          context: planContext,
        }),
      planContext,
    );
    const microBatch = plan.microBatch;
    emit({ type: 'stage', stage: 'plan', message: formatTrainPlan(plan, epochsLeft) });
    if (options.dryRun) {
      return {
        epochsCompleted: startEpoch - 1,
        history,
        checkpointPath,
        modelPath,
        interrupted: false,
        ...(resumedFrom ? { resumedFrom } : {}),
        featureCache: { ...cache.stats },
        plan,
        dryRun: true,
      };
    }
    const meter = new RateMeter();
    let interrupted = false;
    let epoch = startEpoch;
    let nextStep = startStep;
    const saveCheckpoint = (completedEpochs: number, stepInEpoch: number) =>
      writeCheckpoint(paths, model, trainable, adam, run, { completedEpochs, stepInEpoch, history });

    meter.tick(0);
    for (; epoch <= epochs && !interrupted; epoch++) {
      const t0 = performance.now();
      const order = epochOrder(seed, epoch, prepared.length);
      const epochRecords: StepRecord[] = [];
      const memoryContext: MemoryContext = {
        what: `training step of model ${model.name} (${formatImageSize(size)} px, ${trainableBytes / 4} trainable parameters), batch size ${batchSize}${microBatch < batchSize ? ` in micro-batches of ${microBatch}` : ''}`,
        tryInstead:
          `${microBatch > 1 ? `a smaller micro-batch (--micro-batch ${Math.max(1, Math.floor(microBatch / 2))}: the same optimiser steps), ` : ''}a smaller image size, or a backend with more memory (webgpu on a GPU)` +
          ((await pathExists(checkpointPath)) ? `; the checkpoint ${checkpointPath} is intact and the same run resumes from it` : ''),
      };
      for (let step = nextStep; step < stepsPerEpoch; step++) {
        if (options.signal?.aborted) {
          interrupted = true;
          await saveCheckpoint(epoch - 1, step);
          emit({
            type: 'stage',
            stage: 'interrupted',
            message: `interrupted: checkpoint saved at epoch ${epoch}, step ${step + 1} (${checkpointPath}); run the same command again to resume`,
          });
          break;
        }
        const batch: PreparedSample[] = [];
        for (let j = step * batchSize; j < Math.min(prepared.length, (step + 1) * batchSize); j++) batch.push(prepared[order[j]!]!);
        const { loss, terms } = await withMemoryGuard(
          () =>
            trainStep(
              model,
              adam,
              trainable,
              cache,
              batch,
              microBatch,
              size,
              `${seed}:noise:${epoch}:${step}`,
              { epoch, step: step + 1 },
              firstStep ? { gradientBytes: trainableBytes, context: memoryContext } : undefined,
            ),
          memoryContext,
        );
        firstStep = false;
        const record: StepRecord = { epoch, step: step + 1, loss, terms };
        history.push(record);
        epochRecords.push(record);
        meter.tick(batch.length);
        const remaining = (epochs - epoch) * prepared.length + (prepared.length - Math.min(prepared.length, (step + 1) * batchSize));
        emit({
          type: 'step',
          stage: 'train',
          epoch,
          epochs,
          step: step + 1,
          stepsPerEpoch,
          loss,
          terms,
          imagesPerSecond: meter.rate(),
          etaSeconds: meter.eta(remaining),
        });
      }
      if (interrupted) break;
      nextStep = 0;
      await saveCheckpoint(epoch, 0);
      const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
      const termNames = Object.keys(epochRecords[0]?.terms ?? {});
      emit({
        type: 'epoch',
        epoch,
        epochs,
        meanLoss: mean(epochRecords.map((r) => r.loss)),
        terms: Object.fromEntries(termNames.map((k) => [k, mean(epochRecords.map((r) => r.terms[k]!))])),
        seconds: (performance.now() - t0) / 1000,
        checkpoint: checkpointPath,
      });
    }
    const completed = interrupted ? epoch - 1 : epochs;
    return {
      epochsCompleted: completed,
      history,
      checkpointPath,
      modelPath,
      interrupted,
      ...(resumedFrom ? { resumedFrom } : {}),
      featureCache: { ...cache.stats },
      plan,
    };
  } finally {
    adam.dispose();
  }
}
