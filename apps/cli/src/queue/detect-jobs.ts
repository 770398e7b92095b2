/**
 * Detection over a BullMQ queue on Redis: one job per image, with the job id made of the image's content
 * hash, the model's fingerprint and the output folder, so submitting the same images again adds nothing.
 * Workers write each image's maps and result file atomically; the submitter collects the results into the
 * same scores.json / scores.csv as a local run.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Queue, type ConnectionOptions, type Job } from 'bullmq';
import { atomicWriteFile } from '@hgm/tensor/node';
import { preprocessImage } from '@hgm/data';
import { decodeImageNode } from '@hgm/data/node';
import { mapMaximum, originalMapPngs, predictImages, uniqueOutputNames, writeDetectionTables, type Detection, type EngineModel } from '@hgm/engine/node';
import { CliError, EXIT } from '../exit-codes';

/** The queue every job goes to: detect jobs (one image each) and eval jobs (one shard each, see eval-jobs.ts). */
export const DETECT_QUEUE = 'hgm-detect';

/** What a worker needs to process one image. */
export interface DetectJobData {
  /** Absolute path of the image (workers must see the same path). */
  image: string;
  /** Output name of the image's maps (unique within its submission). */
  stem: string;
  /** Absolute output folder (shared with the workers). */
  outDir: string;
  /** Fingerprint of the model the job was queued for. */
  model: string;
}

/** What a worker returns for one image (also written to `<out>/results/<stem>.json`). */
export interface DetectJobResult {
  image: string;
  score: number;
  maxMap: number;
  heatmap: string;
  overlay: string;
}

/** Retries of a failing job before it counts as failed, and the wait between them. */
export const JOB_ATTEMPTS = 3;
export const JOB_BACKOFF_MS = 500;

/**
 * BullMQ connection options from a `redis://` or `rediss://` URL. By default commands wait through a lost
 * connection (no per-request retry limit), so workers and submitters ride out a Redis restart; `failFast`
 * gives up after a few tries instead (for one-shot reads such as `queue status`).
 */
export function redisConnection(url: string, options: { failFast?: boolean } = {}): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`option --queue: expected a URL like redis://host:6379, found ${JSON.stringify(url)}`, EXIT.usage);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new CliError(`option --queue: expected a redis:// or rediss:// URL, found protocol ${JSON.stringify(parsed.protocol)}`, EXIT.usage);
  }
  if (options.failFast) return { url, maxRetriesPerRequest: 2, retryStrategy: (times: number) => (times > 3 ? null : 200 * times) };
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 * times, 2000) };
}

/**
 * Connects to the queue's Redis once, with no retries, and fails with one line (exit 69) when it cannot be
 * reached within `timeoutMs`: the submitting commands (`detect --queue`, `eval --queue`, `queue status`) check
 * this first, where a retrying connection would print the same connection error over and over and never give
 * up. (Workers keep retrying: they are services that outlive a Redis restart.)
 */
export async function ensureRedisReachable(url: string, timeoutMs = 5000): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // the socket's error (ECONNREFUSED, ENOTFOUND, ...) arrives as an event; connect() then rejects with a generic one
  let socketError: NodeJS.ErrnoException | undefined;
  client.on('error', (e: NodeJS.ErrnoException) => {
    socketError ??= e;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const where = (() => {
      try {
        const u = new URL(url);
        return `${u.hostname}:${u.port || '6379'}`;
      } catch {
        return url;
      }
    })();
    const reason = socketError?.code ?? (e as NodeJS.ErrnoException).code ?? socketError?.message ?? (e as Error).message;
    throw new CliError(
      `option --queue: cannot reach Redis at ${where} (${reason})`,
      EXIT.unavailable,
      'start Redis there, or check the host and port of --queue',
    );
  } finally {
    client.disconnect();
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The model's fingerprint: the first 16 hex digits of the checkpoint file's SHA-256. */
export async function modelFingerprint(checkpoint: string): Promise<string> {
  return (await sha256File(checkpoint)).slice(0, 16);
}

/** The job id of an image: content hash, model fingerprint and output folder. */
export function detectJobId(contentSha256: string, model: string, outDir: string): string {
  const out = createHash('sha256').update(resolve(outDir)).digest('hex').slice(0, 8);
  return `${contentSha256.slice(0, 32)}-${model}-${out}`;
}

/** One submitted image and its job. */
export interface SubmittedImage {
  image: string;
  jobId: string;
}

/** Adds one job per image (images whose job exists already are not added again). */
export async function submitDetectJobs(
  queue: Queue<DetectJobData, DetectJobResult>,
  images: readonly string[],
  outDir: string,
  model: string,
): Promise<SubmittedImage[]> {
  const stems = uniqueOutputNames(images);
  const submitted: SubmittedImage[] = [];
  const jobs = [];
  for (const image of images) {
    const jobId = detectJobId(await sha256File(image), model, outDir);
    submitted.push({ image, jobId });
    jobs.push({
      name: 'detect',
      data: { image: resolve(image), stem: stems.get(image)!, outDir: resolve(outDir), model },
      opts: { jobId, attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: JOB_BACKOFF_MS }, removeOnComplete: false, removeOnFail: false },
    });
  }
  for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
  return submitted;
}

/** Counts of the queue's jobs by state. */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

export async function queueCounts(queue: Queue): Promise<QueueCounts> {
  const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children');
  return {
    waiting: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0) + (c['waiting-children'] ?? 0),
    active: c['active'] ?? 0,
    delayed: c['delayed'] ?? 0,
    completed: c['completed'] ?? 0,
    failed: c['failed'] ?? 0,
  };
}

/** How the submitted jobs ended. */
export interface CollectedJobs {
  detections: Detection[];
  failed: { image: string; reason: string }[];
}

/** How one job ended: its result, or why it failed for good. */
export type JobOutcome<R> = { result: R } | { reason: string };

/**
 * Waits until every job has completed or failed for good (polling, bounded by `timeoutMs`); `onProgress` is
 * called after each poll with the jobs that have ended so far.
 * @throws CliError when a job has disappeared or the time runs out, naming how many jobs are still open
 */
export async function waitForJobs<R>(
  queue: { readonly name: string; getJob(id: string): Promise<Job<unknown, unknown> | undefined> },
  jobIds: readonly string[],
  options: { timeoutMs: number; pollMs?: number; onProgress?: (finished: ReadonlyMap<string, JobOutcome<R>>, total: number) => void },
): Promise<Map<string, JobOutcome<R>>> {
  const ids = [...new Set(jobIds)];
  const finished = new Map<string, JobOutcome<R>>();
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    for (const id of ids) {
      if (finished.has(id)) continue;
      const job = (await queue.getJob(id)) as Job<unknown, R> | undefined;
      if (!job) throw new CliError(`queue ${queue.name}: job ${id} has disappeared (was the queue emptied?)`, EXIT.unavailable);
      const state = await job.getState();
      // the job object was read before its state: a job that completed in between has no return value in it yet
      if (state === 'completed') {
        if (job.returnvalue) finished.set(id, { result: job.returnvalue });
      } else if (state === 'failed') finished.set(id, { reason: job.failedReason || 'failed without a reason' });
    }
    options.onProgress?.(finished, ids.length);
    if (finished.size === ids.length) break;
    if (Date.now() > deadline) {
      throw new CliError(
        `queue ${queue.name}: ${ids.length - finished.size} of ${ids.length} jobs still open after ${Math.round(options.timeoutMs / 1000)} s`,
        EXIT.unavailable,
        'are workers running (hgm worker --queue ...)? see hgm queue status; submitting again continues where it stopped',
      );
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
  return finished;
}

/**
 * Waits until every submitted job has completed or failed for good (polling, bounded by `timeoutMs`),
 * then returns the detections in submission order.
 * @throws CliError when the time runs out, naming how many jobs are still open
 */
export async function collectDetectJobs(
  queue: Queue<DetectJobData, DetectJobResult>,
  submitted: readonly SubmittedImage[],
  options: { threshold?: number; timeoutMs: number; pollMs?: number; onProgress?: (done: number, total: number) => void },
): Promise<CollectedJobs> {
  const finished = await waitForJobs<DetectJobResult>(
    queue,
    submitted.map((s) => s.jobId),
    {
      timeoutMs: options.timeoutMs,
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      onProgress: (f, total) => options.onProgress?.(f.size, total),
    },
  );
  const detections: Detection[] = [];
  const failed: CollectedJobs['failed'] = [];
  for (const s of submitted) {
    const f = finished.get(s.jobId)!;
    if ('result' in f) {
      const r = f.result;
      detections.push({
        image: s.image,
        score: r.score,
        ...(options.threshold !== undefined ? { anomalous: r.score >= options.threshold } : {}),
        heatmap: r.heatmap,
        overlay: r.overlay,
        maxMap: r.maxMap,
      });
    } else {
      failed.push({ image: s.image, reason: f.reason });
    }
  }
  return { detections, failed };
}

/** Writes the collected results as a local run would (scores.json, scores.csv). */
export async function writeCollected(
  outDir: string,
  collected: CollectedJobs,
  threshold: number | undefined,
): Promise<{ scoresJson: string; scoresCsv: string }> {
  return writeDetectionTables(outDir, collected.detections, collected.failed, threshold);
}

/**
 * Processes one job: reads and scores the image, writes its heat map, overlay and result file atomically.
 * Running it twice for the same job (a job taken up again after its worker died) writes the same files.
 */
/**
 * Scores one image as a local `hgm detect` does and writes its maps and result atomically. `keepAlive` (the
 * worker's lock renewal) is called between the stages.
 */
export async function processDetectJob(model: EngineModel, data: DetectJobData, keepAlive: () => void = () => undefined): Promise<DetectJobResult> {
  const bytes = new Uint8Array(await readFile(data.image));
  // the decoder of a local `hgm detect` (sharp where it loads), and its maps at the image's own size
  const image = await decodeImageNode(bytes, data.image);
  const pixels = preprocessImage(image, model.preprocess);
  keepAlive();
  const { scores, maps } = await predictImages(model, [pixels]);
  keepAlive();
  const heatmap = join(data.outDir, 'maps', `${data.stem}_heatmap.png`);
  const overlay = join(data.outDir, 'maps', `${data.stem}_overlay.png`);
  const pngs = originalMapPngs(image, maps, model.preprocess, { norm: { min: 0, max: 1 } });
  await atomicWriteFile(heatmap, pngs.heatmap);
  await atomicWriteFile(overlay, pngs.overlay);
  const result: DetectJobResult = { image: data.image, score: scores[0]!, maxMap: mapMaximum(maps), heatmap, overlay };
  await atomicWriteFile(join(data.outDir, 'results', `${data.stem}.json`), JSON.stringify(result, null, 2));
  return result;
}
