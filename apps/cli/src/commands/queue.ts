/** `hgm worker` (processes queued detect and eval jobs) and `hgm queue status`; `hgm detect --queue` and `hgm eval --queue` submit. */
import type { Command } from 'commander';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { BACKEND_FIELD, CommandContext, resolveCommandOptions, type ActionFactory } from '../command-context';
import type { Schema } from '../config-file';
import { EXIT } from '../exit-codes';
import { FROZEN_WEIGHT_FIELDS, checkpointPath, modelFromCheckpoint } from '../models';
import {
  DETECT_QUEUE,
  ensureRedisReachable,
  modelFingerprint,
  processDetectJob,
  queueCounts,
  redisConnection,
  type DetectJobData,
  type DetectJobResult,
} from '../queue/detect-jobs';
import { EVAL_JOB, describeEvalJob, processEvalJob, type EvalJobData, type EvalJobResult } from '../queue/eval-jobs';
import { defaultFeatureCacheDir } from '../paths';
import { EXECUTOR_FIELD, EXECUTOR_OPTION_HELP, THREADS_FIELD, THREADS_OPTION_HELP, executorForModel } from '../executor';

export const WORKER_SCHEMA: Schema = {
  queue: { type: 'string', description: 'redis:// URL' },
  checkpoint: { type: 'string', description: 'model.safetensors' },
  lockMs: { type: 'integer', min: 100, description: 'job lock time (ms); a job whose worker stops renewing it is taken up again' },
  cacheDir: { type: 'string', description: 'feature cache folder (eval jobs)' },
  ...FROZEN_WEIGHT_FIELDS,
  backend: BACKEND_FIELD,
  executor: EXECUTOR_FIELD,
  threads: THREADS_FIELD,
};

interface WorkerOptionsCli extends Record<string, unknown> {
  queue?: string;
  checkpoint?: string;
  lockMs: number;
  cacheDir?: string;
  clipWeights?: string;
  backboneWeights?: string;
  backend: string;
  executor: string;
  threads?: number;
}

export async function runWorker(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const o = await resolveCommandOptions(WORKER_SCHEMA, { lockMs: 30_000, backend: 'auto', executor: 'auto' } as WorkerOptionsCli, flags, [
    'queue',
    'checkpoint',
  ]);
  const connection = redisConnection(o.queue!);
  const backend = await ctx.backend(o.backend);
  const path = await checkpointPath(o.checkpoint!);
  const fingerprint = await modelFingerprint(path);
  const { model, info } = await modelFromCheckpoint(path, { clipWeights: o.clipWeights, backboneWeights: o.backboneWeights, log: (l) => ctx.info(l) });
  const executor = await executorForModel(model, o, (l) => ctx.info(l));
  let done = 0;
  const featureCacheDir = o.cacheDir ?? defaultFeatureCacheDir();
  type Data = DetectJobData | EvalJobData;
  type Result = DetectJobResult | EvalJobResult;
  const describe = (name: string, data: Data): string => (name === EVAL_JOB ? describeEvalJob(data as EvalJobData) : (data as DetectJobData).image);
  const worker = new Worker<Data, Result>(
    DETECT_QUEUE,
    async (job, token) => {
      if (job.data.model !== fingerprint) {
        throw new UnrecoverableError(`job ${job.id} was queued for model ${job.data.model}, this worker runs ${fingerprint} (${path})`);
      }
      ctx.info(`job ${job.id} started: ${describe(job.name, job.data)} (attempt ${job.attemptsMade + 1})`);
      // BullMQ renews the lock on a timer while the event loop is free (the ONNX encoder computes in a thread of
      // its own); the job also renews it as it goes, at most three times per --lock-ms
      let renewed = Date.now();
      const keepAlive = () => {
        const now = Date.now();
        if (!token || now - renewed < o.lockMs / 3) return;
        renewed = now;
        job.extendLock(token, o.lockMs).catch((e: Error) => ctx.warn(`job ${job.id}: could not renew its lock: ${e.message}`));
      };
      if (job.name === EVAL_JOB) return processEvalJob(model, job.data as EvalJobData, job.id!, { featureCacheDir, onWarning: (w) => ctx.warn(w), keepAlive });
      return processDetectJob(model, job.data as DetectJobData, keepAlive);
    },
    { connection, concurrency: 1, lockDuration: o.lockMs, stalledInterval: o.lockMs, maxStalledCount: 2, autorun: false },
  );
  worker.on('completed', (job) => {
    done++;
    const r = job.returnvalue;
    ctx.info(
      `job ${job.id} done: ${job.name === EVAL_JOB ? `${describe(job.name, job.data)} -> ${(r as EvalJobResult).stateFile}` : `${(r as DetectJobResult).score.toFixed(4)} ${(job.data as DetectJobData).image}`}`,
    );
  });
  worker.on('failed', (job, err) =>
    ctx.warn(`job ${job?.id ?? '?'} ${job && job.attemptsMade < (job.opts.attempts ?? 1) ? 'will be retried' : 'failed'}: ${err.message}`),
  );
  worker.on('error', (err) => ctx.warn(`queue: ${err.message}`));
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  ctx.info(`worker: backend ${backend.chosen}, executor ${executor.executor}, model ${info.config.name} ${fingerprint} (${path}), queue ${DETECT_QUEUE}`);
  void worker.run();
  try {
    const signal = await stopped;
    ctx.info(`${signal}: finishing the job in hand`);
    await worker.close();
    ctx.info(`stopped after ${done} job${done === 1 ? '' : 's'}`);
    return EXIT.ok;
  } finally {
    await executor.dispose();
    model.dispose();
  }
}

export async function runQueueStatus(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const o = await resolveCommandOptions({ queue: { type: 'string', description: 'redis:// URL' } }, {} as { queue?: string }, flags, ['queue']);
  const connection = redisConnection(o.queue!, { failFast: true });
  await ensureRedisReachable(o.queue!);
  const queue = new Queue(DETECT_QUEUE, { connection });
  try {
    const c = await queueCounts(queue);
    const total = c.waiting + c.active + c.delayed + c.completed + c.failed;
    const progress = total === 0 ? 1 : (c.completed + c.failed) / total;
    const failed =
      c.failed > 0
        ? (await queue.getFailed(0, 9)).map((j) =>
            j.name === EVAL_JOB
              ? { kind: 'eval', job: describeEvalJob(j.data as EvalJobData), reason: j.failedReason }
              : { kind: 'detect', image: (j.data as DetectJobData).image, reason: j.failedReason },
          )
        : [];
    const lines = [
      `queue ${DETECT_QUEUE} at ${o.queue}`,
      `waiting ${c.waiting}, active ${c.active}, retrying ${c.delayed}, done ${c.completed}, failed ${c.failed}`,
      `progress ${(progress * 100).toFixed(1)}% of ${total}`,
      ...failed.map((f) => `failed: ${'image' in f ? f.image : f.job}: ${f.reason}`),
    ];
    ctx.result({ command: 'queue status', queue: DETECT_QUEUE, ...c, total, progress, failedJobs: failed }, lines.join('\n'));
    return EXIT.ok;
  } finally {
    await queue.close();
  }
}

export function registerWorker(program: Command, action: ActionFactory): void {
  program
    .command('worker')
    .description(
      'processes the jobs queued by `hgm detect --queue` and `hgm eval --queue` (run any number, on any machines that see the images and the output folder)',
    )
    .option('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--checkpoint <file>', 'model.safetensors (the same file the jobs were queued for)')
    .option('--lock-ms <ms>', 'job lock time; a job whose worker died is taken up again after it (default 30000)')
    .option('--cache-dir <dir>', 'feature cache of eval jobs (default $HGM_CACHE/features or ~/.cache/hgm/features)')
    .option('--clip-weights <name|path>', 'CLIP weights (default: the ones recorded in the checkpoint)')
    .option('--backbone-weights <name|path>', 'DINO weights (default: the ones recorded in the checkpoint)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default auto)')
    .option('--executor <name>', EXECUTOR_OPTION_HELP)
    .option('--threads <n>', THREADS_OPTION_HELP)
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys); flags override it')
    .option('--verbose', 'more detail')
    .addHelpText(
      'after',
      '\nStops on SIGTERM or Ctrl-C after the job in hand.\nExample:\n  hgm worker --queue redis://redis.internal:6379 --checkpoint /models/model.safetensors',
    )
    .action(action('worker', runWorker));
}

export function registerQueue(program: Command, action: ActionFactory): void {
  const queue = program.command('queue').description('the Redis queue of `hgm detect --queue` and `hgm eval --queue`');
  queue
    .command('status')
    .description('jobs (detect images and eval shards) waiting, active, done and failed, with progress')
    .option('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--json', 'print the result as JSON on stdout (nothing else there)')
    .action(action('queue status', runQueueStatus));
}
