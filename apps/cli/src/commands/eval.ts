/** `hgm eval`: zero-shot evaluation of a trained model on a dataset: metrics tables and anomaly maps. */
import type { Command } from 'commander';
import type { ImageSize } from '@hgm/tensor';
import {
  EvaluationMerger,
  describeScale,
  evaluate,
  evaluationMapNames,
  evaluationMarkdown,
  parseMapScale,
  writeColorBar,
  writeEvaluationTables,
  DEFAULT_EVAL_METRICS,
  describeFrozenWeights,
} from '@hgm/engine/node';
import { parseMetricName } from '@hgm/metrics';
import { DEFAULT_MAX_PIXELS, imageDecoderInfo, nodeFileSystem, nodeImageDecoder } from '@hgm/data/node';
import { BACKEND_FIELD, CommandContext, resolveCommandOptions, type ActionFactory } from '../command-context';
import type { Schema } from '../config-file';
import { CliError, EXIT } from '../exit-codes';
import { claimOutputDir, ensureWritableDir } from '../output-dir';
import { FROZEN_WEIGHT_FIELDS, checkpointPath, modelFromCheckpoint, readSavedModel } from '../models';
import { EXECUTOR_FIELD, EXECUTOR_OPTION_HELP, THREADS_FIELD, THREADS_OPTION_HELP, useExecutor, type ExecutorChoice } from '../executor';
import { DATASET_FIELDS, FORMAT_CHOICES, selectSamples, FOLDER_NAME_OPTIONS } from '../dataset';
import { defaultFeatureCacheDir } from '../paths';
import { checkQueuedOptions } from '../queue/worker-options';
import { join } from 'node:path';
import type { EvalJobData, EvalJobResult } from '../queue/eval-jobs';

export const EVAL_SCHEMA: Schema = {
  ...DATASET_FIELDS,
  checkpoint: { type: 'string', description: 'model.safetensors (or the training output folder)' },
  out: { type: 'string', description: 'output folder' },
  batchSize: { type: 'integer', min: 1, description: 'batch size' },
  metrics: { type: 'string[]', description: 'metrics' },
  maps: { type: 'boolean', description: 'write heat maps and overlays' },
  imageSize: { type: 'image-size', min: 8, description: 'input size, a side or WIDTHxHEIGHT (must match the checkpoint)' },
  mapSize: { type: 'string', choices: ['original', 'model'], description: 'size of the written maps' },
  mapScale: { type: 'string', choices: ['fixed', 'run'], description: 'range the heat maps are coloured over' },
  maxPixels: { type: 'integer', min: 1, description: 'warn above this many pixels per image, refuse above twice as many' },
  overwrite: { type: 'boolean', description: 'replace the outputs of an earlier run in --out' },
  queue: { type: 'string', description: 'redis:// URL: queue the evaluation in shards for `hgm worker` instead of running here' },
  queueTimeoutS: { type: 'integer', min: 1, description: 'longest wait for the queued shards (s)' },
  shardSize: { type: 'integer', min: 1, description: 'images per shard with --queue (a multiple of the batch size)' },
  ...FROZEN_WEIGHT_FIELDS,
  cacheDir: { type: 'string', description: 'feature cache folder' },
  backend: BACKEND_FIELD,
  executor: EXECUTOR_FIELD,
  threads: THREADS_FIELD,
};

interface EvalOptions extends Record<string, unknown> {
  data?: string;
  format?: string;
  categories?: string[];
  normalDir?: string;
  abnormalDir?: string[];
  split: string;
  checkpoint?: string;
  out?: string;
  batchSize: number;
  metrics: string[];
  maps: boolean;
  imageSize?: ImageSize;
  clipWeights?: string;
  backboneWeights?: string;
  cacheDir?: string;
  backend: string;
  mapSize: string;
  mapScale: string;
  maxPixels: number;
  overwrite: boolean;
  queue?: string;
  queueTimeoutS: number;
  shardSize?: number;
  executor: string;
  threads?: number;
}

/** Batches per shard with --queue unless --shard-size says otherwise. */
const BATCHES_PER_SHARD = 8;

const DEFAULTS: EvalOptions = {
  split: 'test',
  batchSize: 8,
  metrics: [...DEFAULT_EVAL_METRICS],
  maps: true,
  backend: 'auto',
  mapSize: 'original',
  mapScale: 'fixed',
  maxPixels: DEFAULT_MAX_PIXELS,
  overwrite: false,
  queueTimeoutS: 3600,
  executor: 'auto',
};

/** The files `hgm eval` writes into its output folder (maps/ only with maps). */
function evalOutputFiles(outDir: string, maps: boolean): { markdown: string; csv: string; json: string; scores: string; maps: string | null } {
  return {
    markdown: join(outDir, 'metrics.md'),
    csv: join(outDir, 'metrics.csv'),
    json: join(outDir, 'metrics.json'),
    scores: join(outDir, 'scores.csv'),
    maps: maps ? join(outDir, 'maps') : null,
  };
}

/** Checks every `--metrics` name before anything is read or written (a misspelled name must not cost a whole run). */
function checkMetricNames(metrics: readonly string[]): void {
  for (const m of metrics) {
    try {
      parseMetricName(m);
    } catch (e) {
      throw new CliError(`option --metrics: ${(e as Error).message}`, EXIT.usage, `the default list: --metrics ${DEFAULT_EVAL_METRICS.join(',')}`);
    }
  }
}

export async function runEval(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const o = await resolveCommandOptions(EVAL_SCHEMA, DEFAULTS, flags, ['data', 'checkpoint', 'out']);
  checkMetricNames(o.metrics);
  if (o.queue) return runQueuedEval(o, ctx);
  if (o.shardSize !== undefined) throw new CliError('--shard-size needs --queue (a local evaluation is one process)', EXIT.usage);
  const outDir = await ensureWritableDir(o.out!);
  const removed = await claimOutputDir(outDir, ['maps', 'metrics.md', 'metrics.csv', 'metrics.json', 'scores.csv'], o.overwrite);
  if (removed.length > 0) ctx.info(`--overwrite: removed the earlier ${removed.join(', ')} in ${outDir}`);
  const decoder = await imageDecoderInfo();
  ctx.detail(`image decoder: ${decoder.decoder}${decoder.version ? ` (${decoder.version})` : ''}${decoder.reason ? ` (${decoder.reason})` : ''}`);
  const backend = await ctx.backend(o.backend);
  const { samples, categories } = await selectSamples({ ...o, data: o.data! });
  const { model, info } = await modelFromCheckpoint(o.checkpoint!, {
    ...(o.imageSize ? { overrides: { imageSize: o.imageSize } } : {}),
    clipWeights: o.clipWeights,
    backboneWeights: o.backboneWeights,
    log: (l) => ctx.info(l),
  });
  let executor: ExecutorChoice | undefined;
  try {
    executor = await useExecutor(model, o.executor, { threads: o.threads, log: (l) => ctx.info(l), text: true });
    ctx.info(
      `model: ${info.config.name} (${info.path}; ${describeFrozenWeights(model.frozen)}); evaluating ${samples.length} images of ${categories.join(', ')}`,
    );
    const result = await evaluate({
      model,
      samples,
      fs: nodeFileSystem,
      featureCacheDir: o.cacheDir ?? defaultFeatureCacheDir(),
      outDir,
      metrics: o.metrics,
      batchSize: o.batchSize,
      saveMaps: o.maps,
      mapSize: o.mapSize as 'original' | 'model',
      mapScale: parseMapScale(o.mapScale),
      decode: nodeImageDecoder({ maxPixels: o.maxPixels, onWarning: (w) => ctx.warn(w) }),
      onProgress: ctx.progress,
    });
    const files = evalOutputFiles(outDir, o.maps);
    ctx.result(
      {
        command: 'eval',
        backend: backend.chosen,
        executor: executor.executor,
        ...(executor.reason ? { executorReason: executor.reason } : {}),
        textExecutor: executor.text,
        checkpoint: info.path,
        out: outDir,
        files,
        metrics: result.metrics,
        categories: result.categories,
        mean: result.mean,
        ...(o.maps ? { mapScale: result.mapScale } : {}),
      },
      `${evaluationMarkdown(result)}\nwritten: ${files.markdown}, ${files.csv}, ${files.json}, ${files.scores}${files.maps ? `, ${files.maps}/ (${describeScale(result.mapScale)}: ${join(files.maps, 'colorbar.png')})` : ''}`,
    );
    return EXIT.ok;
  } finally {
    await executor?.dispose();
    model.dispose();
  }
}

/**
 * `eval --queue`: the evaluation set in shards, one job per shard for the workers; their states merged in
 * shard order give the tables and scores of a local run, written the same way.
 */
async function runQueuedEval(o: EvalOptions, ctx: CommandContext): Promise<number> {
  const { Queue } = await import('bullmq');
  const { DETECT_QUEUE, ensureRedisReachable, modelFingerprint, redisConnection, waitForJobs } = await import('../queue/detect-jobs');
  const { planEvalShards, readShardStates, submitEvalJobs } = await import('../queue/eval-jobs');
  const connection = redisConnection(o.queue!);
  await ensureRedisReachable(o.queue!);
  if (o.overwrite)
    ctx.warn('--overwrite has no effect with --queue: the shards write their maps into --out as they finish, and the tables replace the earlier ones');
  // the workers load the model, encode the images and draw the maps with their own options
  checkQueuedOptions(o, ctx, "each worker draws its shard's maps as it finishes");
  const shardSize = o.shardSize ?? BATCHES_PER_SHARD * o.batchSize;
  if (shardSize % o.batchSize !== 0) {
    throw new CliError(
      `--shard-size ${shardSize} is not a multiple of --batch-size ${o.batchSize}: the shards would batch the images differently from a local run`,
      EXIT.usage,
      `use e.g. --shard-size ${Math.max(1, Math.round(shardSize / o.batchSize)) * o.batchSize}`,
    );
  }
  const outDir = await ensureWritableDir(o.out!);
  const path = await checkpointPath(o.checkpoint!);
  await readSavedModel(path);
  const fingerprint = await modelFingerprint(path);
  const { samples, categories } = await selectSamples({ ...o, data: o.data! });
  const shards = planEvalShards(samples, shardSize);
  const mapNames = evaluationMapNames(samples);
  if (o.maps) await writeColorBar(outDir);
  const queue = new Queue<EvalJobData, EvalJobResult>(DETECT_QUEUE, { connection });
  try {
    const submitted = await submitEvalJobs(queue, shards, mapNames, {
      outDir,
      model: fingerprint,
      batchSize: o.batchSize,
      saveMaps: o.maps,
      mapSize: o.mapSize as 'original' | 'model',
      maxPixels: o.maxPixels,
      ...(o.imageSize !== undefined ? { imageSize: o.imageSize } : {}),
    });
    ctx.info(
      `queued ${samples.length} images of ${categories.join(', ')} in ${shards.length} shard${shards.length === 1 ? '' : 's'} of up to ${shardSize} for model ${fingerprint} on ${o.queue}; waiting for workers (hgm worker --queue ${o.queue} --checkpoint ${path})`,
    );
    const imagesOf = new Map(submitted.map((s) => [s.jobId, s.shard.samples.length]));
    const t0 = Date.now();
    let last = -1;
    const outcomes = await waitForJobs<EvalJobResult>(
      queue,
      submitted.map((s) => s.jobId),
      {
        timeoutMs: o.queueTimeoutS * 1000,
        onProgress: (finished) => {
          let done = 0;
          for (const id of finished.keys()) done += imagesOf.get(id) ?? 0;
          if (done === last) return;
          last = done;
          const rate = done / Math.max(1e-3, (Date.now() - t0) / 1000);
          ctx.progress({
            type: 'items',
            stage: 'evaluate',
            done,
            total: samples.length,
            imagesPerSecond: rate,
            etaSeconds: rate > 0 ? (samples.length - done) / rate : 0,
          });
        },
      },
    );
    const merger = new EvaluationMerger(o.metrics);
    await readShardStates(submitted, outcomes, (state) => merger.add(state));
    const result = merger.result();
    await writeEvaluationTables(result, outDir);
    const files = { ...evalOutputFiles(outDir, o.maps), shards: join(outDir, 'shards') };
    ctx.result(
      {
        command: 'eval',
        queue: o.queue,
        model: fingerprint,
        shards: shards.length,
        checkpoint: path,
        out: outDir,
        files,
        metrics: result.metrics,
        categories: result.categories,
        mean: result.mean,
      },
      `${evaluationMarkdown(result)}\nmerged ${shards.length} shard${shards.length === 1 ? '' : 's'} (states in ${files.shards}/)\nwritten: ${files.markdown}, ${files.csv}, ${files.json}, ${files.scores}${files.maps ? `, ${files.maps}/` : ''}`,
    );
    return EXIT.ok;
  } finally {
    await queue.close();
  }
}

export function registerEval(program: Command, action: ActionFactory): void {
  program
    .command('eval')
    .description('evaluate a trained model zero-shot on a dataset: metrics.{md,csv,json}, scores.csv, maps/')
    .option('--data <root>', 'dataset root')
    .option('--format <format>', `dataset layout: ${FORMAT_CHOICES.join(', ')} (detected when left out)`)
    .option('--categories <list>', 'comma-separated categories (default all)')
    .option(...FOLDER_NAME_OPTIONS[0])
    .option(...FOLDER_NAME_OPTIONS[1])
    .option('--split <split>', 'test, train or all (default test)')
    .option('--checkpoint <file>', 'model.safetensors written by hgm train (or its output folder)')
    .option('--out <dir>', 'output folder')
    .option('--batch-size <n>', 'batch size (default 8)')
    .option('--metrics <list>', `comma-separated metrics (default ${DEFAULT_EVAL_METRICS.join(',')})`)
    .option('--maps', 'write a heat map and an overlay per image (default)')
    .option('--no-maps', 'write the tables only')
    .option('--image-size <size>', "input size, a side in pixels or WIDTHxHEIGHT (must match the checkpoint; default: the checkpoint's)")
    .option('--map-size <size>', "original (default: each image's own size and aspect) or model (the model's input view)")
    .option(
      '--map-scale <scale>',
      "colours of the heat maps: fixed (default: 0..1, comparable across runs) or run (the run's smallest to largest map value; written into maps/colorbar.png)",
    )
    .option('--max-pixels <n>', `warn above this many pixels per image, refuse above twice as many (default ${DEFAULT_MAX_PIXELS}, PIL's)`)
    .option('--overwrite', 'replace the outputs of an earlier run in --out (refused otherwise when --out is not empty)')
    .option('--queue <url>', 'evaluate in shards on Redis (redis://host:6379) by `hgm worker` processes and merge their results')
    .option('--shard-size <n>', `with --queue: images per shard, a multiple of the batch size (default ${BATCHES_PER_SHARD} batches)`)
    .option('--queue-timeout-s <s>', 'with --queue: longest wait for the workers (default 3600)')
    .option('--clip-weights <name|path>', 'CLIP weights: catalogue name or file (.safetensors, .pt, .pth, .bin; default: the ones recorded in the checkpoint)')
    .option('--backbone-weights <name|path>', 'DINO weights: catalogue name or file (.safetensors, .pth, .bin; default: the ones recorded in the checkpoint)')
    .option('--cache-dir <dir>', 'feature cache (default $HGM_CACHE/features or ~/.cache/hgm/features)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default auto)')
    .option('--executor <name>', EXECUTOR_OPTION_HELP)
    .option('--threads <n>', THREADS_OPTION_HELP)
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys); flags override it')
    .option('--json', 'print the result as JSON on stdout (nothing else there)')
    .option('--verbose', 'more detail')
    .addHelpText(
      'after',
      '\nExamples:\n  hgm eval --data ~/data/mvtec_ad --checkpoint runs/visa/model.safetensors --out results/mvtec\n  hgm eval --queue redis://redis.internal:6379 --data /shared/mvtec_ad --checkpoint /models/model.safetensors --out /shared/results/mvtec',
    )
    .action(action('eval', runEval));
}
