/**
 * Evaluation over the queue: the evaluation set split into shards (chunks of one category's images), one job
 * per shard. A worker scores its shard, writes the shard's maps as a local `hgm eval` does and the shard's
 * accumulator state (image scores and labels, pixel set) atomically to `<out>/shards/<job id>.state`; the
 * submitter merges the states in shard order, which gives exactly the single-process tables and scores.
 * Job ids are made of the shard's images (their contents, labels and masks), the options that change the
 * outputs, the model's fingerprint and the output folder, so submitting the same evaluation again adds nothing.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Queue } from 'bullmq';
import type { DatasetSample } from '@hgm/data';
import { nodeFileSystem, nodeImageDecoder } from '@hgm/data/node';
import { decodeShardState, encodeShardState, evaluateShard, samplesByCategory, type EngineModel, type EvaluationShardState } from '@hgm/engine/node';
import { CheckpointMismatchError, formatImageSize, sameImageSize, type ImageSize } from '@hgm/tensor';
import { atomicWriteFile } from '@hgm/tensor/node';
import { CliError, EXIT } from '../exit-codes';
import { JOB_ATTEMPTS, JOB_BACKOFF_MS, sha256File, type JobOutcome } from './detect-jobs';

/** The name of eval jobs in the queue (detect jobs are named `detect`). */
export const EVAL_JOB = 'eval';

/** One shard of an evaluation: consecutive images of one category. */
export interface EvalShard {
  /** 0-based position in the evaluation (the merge order). */
  index: number;
  category: string;
  samples: DatasetSample[];
}

/** What a worker needs to evaluate one shard. */
export interface EvalJobData {
  /** Absolute output folder (shared with the workers). */
  outDir: string;
  /** Fingerprint of the model the job was queued for. */
  model: string;
  shard: number;
  shards: number;
  category: string;
  /** The shard's images, with absolute paths (workers must see the same paths). */
  samples: DatasetSample[];
  /** Map file name of each image, unique over the whole evaluation. */
  mapNames: string[];
  batchSize: number;
  saveMaps: boolean;
  mapSize: 'original' | 'model';
  maxPixels: number;
  /** Input side the submitter asked for (--image-size); the worker's model must have it. */
  imageSize?: ImageSize;
}

/** What a worker returns for one shard. */
export interface EvalJobResult {
  shard: number;
  category: string;
  images: number;
  /** Absolute path of the shard's state file. */
  stateFile: string;
  /** SHA-256 of the state file. */
  sha256: string;
}

/** A submitted shard and its job. */
export interface SubmittedShard {
  shard: EvalShard;
  jobId: string;
}

/**
 * Splits samples into shards: per category (in the order the tables list them), chunks of `shardSize`
 * consecutive images.
 * @throws CliError when `shardSize` is not a positive integer
 */
export function planEvalShards(samples: readonly DatasetSample[], shardSize: number): EvalShard[] {
  if (!(Number.isInteger(shardSize) && shardSize > 0)) throw new CliError(`option --shard-size: expected a positive integer, found ${shardSize}`, EXIT.usage);
  const shards: EvalShard[] = [];
  for (const [category, list] of samplesByCategory(samples)) {
    for (let i = 0; i < list.length; i += shardSize) shards.push({ index: shards.length, category, samples: list.slice(i, i + shardSize) });
  }
  return shards;
}

function absoluteSample(s: DatasetSample): DatasetSample {
  return { ...s, imagePath: resolve(s.imagePath), maskPaths: s.maskPaths.map((m) => resolve(m)) };
}

/** The job id of a shard: its images' contents and labels, the output options, the model and the output folder. */
async function evalJobId(data: EvalJobData): Promise<string> {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({ batchSize: data.batchSize, saveMaps: data.saveMaps, mapSize: data.mapSize, maxPixels: data.maxPixels, imageSize: data.imageSize ?? null }),
  );
  for (let i = 0; i < data.samples.length; i++) {
    const s = data.samples[i]!;
    const masks = await Promise.all(s.maskPaths.map((m) => sha256File(m)));
    h.update(JSON.stringify([await sha256File(s.imagePath), s.imagePath, masks, s.label, s.category, s.defectType, data.mapNames[i]]));
  }
  const out = createHash('sha256').update(data.outDir).digest('hex').slice(0, 8);
  return `eval-${h.digest('hex').slice(0, 32)}-${data.model}-${out}`;
}

/** Adds one job per shard (shards whose job exists already are not added again). */
export async function submitEvalJobs(
  queue: Queue<EvalJobData, EvalJobResult>,
  shards: readonly EvalShard[],
  mapNames: ReadonlyMap<string, string>,
  options: { outDir: string; model: string; batchSize: number; saveMaps: boolean; mapSize: 'original' | 'model'; maxPixels: number; imageSize?: ImageSize },
): Promise<SubmittedShard[]> {
  const submitted: SubmittedShard[] = [];
  const jobs = [];
  for (const shard of shards) {
    const data: EvalJobData = {
      outDir: resolve(options.outDir),
      model: options.model,
      shard: shard.index,
      shards: shards.length,
      category: shard.category,
      samples: shard.samples.map(absoluteSample),
      mapNames: shard.samples.map((s) => mapNames.get(s.imagePath)!),
      batchSize: options.batchSize,
      saveMaps: options.saveMaps,
      mapSize: options.mapSize,
      maxPixels: options.maxPixels,
      ...(options.imageSize !== undefined ? { imageSize: options.imageSize } : {}),
    };
    const jobId = await evalJobId(data);
    submitted.push({ shard, jobId });
    jobs.push({
      name: EVAL_JOB,
      data,
      opts: { jobId, attempts: JOB_ATTEMPTS, backoff: { type: 'fixed' as const, delay: JOB_BACKOFF_MS }, removeOnComplete: false, removeOnFail: false },
    });
  }
  for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
  return submitted;
}

/** How a shard's job is described in logs and `hgm queue status`. */
export function describeEvalJob(data: Pick<EvalJobData, 'shard' | 'shards' | 'category' | 'samples'>): string {
  return `eval shard ${data.shard + 1} of ${data.shards} (${data.category}, ${data.samples.length} image${data.samples.length === 1 ? '' : 's'})`;
}

/**
 * Processes one eval job: scores the shard, writes its maps and its state file atomically. Running it twice
 * for the same job (a job taken up again after its worker died) writes the same files.
 */
export async function processEvalJob(
  model: EngineModel,
  data: EvalJobData,
  jobId: string,
  options: { featureCacheDir: string; onWarning?: (w: string) => void; keepAlive?: () => void },
): Promise<EvalJobResult> {
  if (data.imageSize !== undefined && !sameImageSize(data.imageSize, model.preprocess.size)) {
    throw new CheckpointMismatchError(
      describeEvalJob(data),
      `${describeEvalJob(data)} was queued for input size ${formatImageSize(data.imageSize)}, this worker's model takes ${formatImageSize(model.preprocess.size)}`,
    );
  }
  const state = await evaluateShard({
    model,
    samples: data.samples,
    mapNames: data.mapNames,
    fs: nodeFileSystem,
    featureCacheDir: options.featureCacheDir,
    outDir: data.outDir,
    batchSize: data.batchSize,
    saveMaps: data.saveMaps,
    mapSize: data.mapSize,
    decode: nodeImageDecoder({ maxPixels: data.maxPixels, ...(options.onWarning ? { onWarning: options.onWarning } : {}) }),
    // every image read or scored renews the job's lock (a shard takes far longer than --lock-ms)
    ...(options.keepAlive ? { onProgress: options.keepAlive } : {}),
  });
  const bytes = encodeShardState(state);
  const stateFile = join(data.outDir, 'shards', `${jobId}.state`);
  await atomicWriteFile(stateFile, bytes);
  return { shard: data.shard, category: data.category, images: data.samples.length, stateFile, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Reads the state of every shard in shard order, checked against its job's result and the submitted images,
 * and hands each to `add` (so only one shard's state is held at a time). Image paths in the states are
 * replaced by the submitter's own (as a local run writes them).
 * @throws CliError naming the shards that failed, or a state file that is missing, changed or does not match
 */
export async function readShardStates(
  submitted: readonly SubmittedShard[],
  outcomes: ReadonlyMap<string, JobOutcome<EvalJobResult>>,
  add: (state: EvaluationShardState) => void,
): Promise<void> {
  const failed = submitted.filter((s) => 'reason' in outcomes.get(s.jobId)!);
  if (failed.length > 0) {
    const first = outcomes.get(failed[0]!.jobId) as { reason: string };
    throw new CliError(
      `${failed.length} of ${submitted.length} evaluation shard${submitted.length === 1 ? '' : 's'} failed after ${JOB_ATTEMPTS} attempts, so the metrics cannot be computed (first: shard ${failed[0]!.shard.index + 1}, ${failed[0]!.shard.category}: ${first.reason})`,
      EXIT.dataError,
      'fix or remove the images named there; hgm queue status lists the failed jobs',
    );
  }
  for (const { shard, jobId } of submitted) {
    const result = (outcomes.get(jobId) as { result: EvalJobResult }).result;
    let bytes: Buffer;
    try {
      bytes = await readFile(result.stateFile);
    } catch (e) {
      throw new CliError(
        `shard ${shard.index + 1} (${shard.category}): cannot read its state file ${result.stateFile} (${(e as Error).message}); the job completed, so the file was removed or is not shared with the workers`,
        EXIT.dataError,
        "use another --out, or remove the queue's completed jobs and submit again",
      );
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== result.sha256)
      throw new CliError(
        `shard ${shard.index + 1} (${shard.category}): state file ${result.stateFile} has SHA-256 ${sha.slice(0, 16)}..., expected ${result.sha256.slice(0, 16)}... as its job wrote it (changed since?)`,
        EXIT.dataError,
      );
    let state: EvaluationShardState;
    try {
      state = decodeShardState(bytes, result.stateFile);
    } catch (e) {
      throw new CliError((e as Error).message, EXIT.dataError);
    }
    if (state.category !== shard.category || state.scores.length !== shard.samples.length) {
      throw new CliError(
        `${result.stateFile}: ${state.scores.length} images of ${state.category}, expected the ${shard.samples.length} images of ${shard.category} in shard ${shard.index + 1}`,
        EXIT.dataError,
      );
    }
    const scores = state.scores.map((s, i) => {
      const mine = shard.samples[i]!;
      if (s.imagePath !== resolve(mine.imagePath))
        throw new CliError(`${result.stateFile}: image ${i + 1} is ${s.imagePath}, expected ${resolve(mine.imagePath)}`, EXIT.dataError);
      return { ...s, imagePath: mine.imagePath };
    });
    add({ ...state, scores });
  }
}
