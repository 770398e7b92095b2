/** `hgm detect`: anomaly maps, scores and decisions for new images (files, folders, globs). */
import type { Command } from 'commander';
import { describeScale, detect, expandInputs, parseMapScale, describeFrozenWeights } from '@hgm/engine/node';
import { DEFAULT_MAX_PIXELS, imageDecoderInfo, nodeFileSystem, nodeImageDecoder } from '@hgm/data/node';
import { BACKEND_FIELD, CommandContext, resolveCommandOptions, type ActionFactory } from '../command-context';
import type { Schema } from '../config-file';
import { CliError, EXIT } from '../exit-codes';
import { claimOutputDir, ensureWritableDir } from '../output-dir';
import { FROZEN_WEIGHT_FIELDS, checkpointPath, modelFromCheckpoint, readSavedModel } from '../models';
import { EXECUTOR_FIELD, EXECUTOR_OPTION_HELP, THREADS_FIELD, THREADS_OPTION_HELP, useExecutor, type ExecutorChoice } from '../executor';
import type { DetectJobData, DetectJobResult } from '../queue/detect-jobs';
import { checkQueuedOptions } from '../queue/worker-options';

export const DETECT_SCHEMA: Schema = {
  inputs: { type: 'string[]', description: 'images, folders or globs' },
  checkpoint: { type: 'string', description: 'model.safetensors' },
  out: { type: 'string', description: 'output folder' },
  threshold: { type: 'number', min: 0, max: 1, description: 'decision threshold on the image score' },
  failOnAnomaly: { type: 'boolean', description: 'exit 1 when an image is anomalous' },
  batchSize: { type: 'integer', min: 1, description: 'batch size' },
  skipCorrupt: { type: 'boolean', description: 'skip unreadable images' },
  maps: { type: 'boolean', description: 'write heat maps and overlays' },
  mapSize: { type: 'string', choices: ['original', 'model'], description: 'size of the written maps' },
  mapScale: { type: 'string', choices: ['fixed', 'run'], description: 'range the heat maps are coloured over' },
  maxPixels: { type: 'integer', min: 1, description: 'warn above this many pixels per image, refuse above twice as many' },
  overwrite: { type: 'boolean', description: 'replace the outputs of an earlier run in --out' },
  queue: { type: 'string', description: 'redis:// URL: queue the images for `hgm worker` instead of running here' },
  queueTimeoutS: { type: 'integer', min: 1, description: 'longest wait for the queued jobs (s)' },
  ...FROZEN_WEIGHT_FIELDS,
  backend: BACKEND_FIELD,
  executor: EXECUTOR_FIELD,
  threads: THREADS_FIELD,
};

interface DetectOptionsCli extends Record<string, unknown> {
  inputs: string[];
  checkpoint?: string;
  out?: string;
  threshold?: number;
  failOnAnomaly: boolean;
  batchSize: number;
  skipCorrupt: boolean;
  queue?: string;
  queueTimeoutS: number;
  clipWeights?: string;
  backboneWeights?: string;
  backend: string;
  maps: boolean;
  mapSize: string;
  mapScale: string;
  maxPixels: number;
  overwrite: boolean;
  executor: string;
  threads?: number;
}

const DEFAULTS: DetectOptionsCli = {
  inputs: [],
  failOnAnomaly: false,
  batchSize: 8,
  skipCorrupt: false,
  maps: true,
  backend: 'auto',
  mapSize: 'original',
  mapScale: 'fixed',
  maxPixels: DEFAULT_MAX_PIXELS,
  overwrite: false,
  executor: 'auto',
  queueTimeoutS: 3600,
};

export async function runDetect(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const o = await resolveCommandOptions(DETECT_SCHEMA, DEFAULTS, flags, ['inputs', 'checkpoint', 'out']);
  if (o.failOnAnomaly && o.threshold === undefined) throw new CliError('--fail-on-anomaly needs --threshold', EXIT.usage);
  const images = await expandInputs(o.inputs);
  const outDir = await ensureWritableDir(o.out!);
  if (o.queue) return runQueuedDetect(o, images, outDir, ctx);
  const removed = await claimOutputDir(outDir, ['maps', 'scores.json', 'scores.csv'], o.overwrite);
  if (removed.length > 0) ctx.info(`--overwrite: removed the earlier ${removed.join(', ')} in ${outDir}`);
  const decoder = await imageDecoderInfo();
  ctx.detail(`image decoder: ${decoder.decoder}${decoder.version ? ` (${decoder.version})` : ''}${decoder.reason ? ` (${decoder.reason})` : ''}`);
  const backend = await ctx.backend(o.backend);
  const { model, info } = await modelFromCheckpoint(o.checkpoint!, {
    clipWeights: o.clipWeights,
    backboneWeights: o.backboneWeights,
    log: (l) => ctx.info(l),
  });
  let executor: ExecutorChoice | undefined;
  try {
    executor = await useExecutor(model, o.executor, { threads: o.threads, log: (l) => ctx.info(l), text: true });
    ctx.info(`model: ${info.config.name} (${info.path}; ${describeFrozenWeights(model.frozen)}); ${images.length} image${images.length === 1 ? '' : 's'}`);
    const r = await detect({
      model,
      images,
      fs: nodeFileSystem,
      outDir,
      ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
      batchSize: o.batchSize,
      skipCorrupt: o.skipCorrupt,
      mapSize: o.mapSize as 'original' | 'model',
      mapScale: parseMapScale(o.mapScale),
      saveMaps: o.maps,
      decode: nodeImageDecoder({ maxPixels: o.maxPixels, onWarning: (w) => ctx.warn(w) }),
      onProgress: ctx.progress,
    });
    const anomalous = r.detections.filter((d) => d.anomalous).length;
    const lines = r.detections.map((d) => `${d.score.toFixed(4)}${d.anomalous === undefined ? '' : d.anomalous ? ' ANOMALOUS' : ' normal   '}  ${d.image}`);
    if (r.skipped.length > 0) lines.push(`skipped ${r.skipped.length} unreadable image${r.skipped.length === 1 ? '' : 's'}`);
    lines.push(
      r.colorBar
        ? `written: ${r.scoresJson}, ${r.scoresCsv}, maps in ${outDir}/maps/ (${describeScale(r.scale)}: ${r.colorBar})`
        : `written: ${r.scoresJson}, ${r.scoresCsv} (no maps: --no-maps)`,
    );
    if (o.threshold !== undefined) lines.push(`${anomalous} of ${r.detections.length} anomalous at threshold ${o.threshold}`);
    ctx.result(
      {
        command: 'detect',
        backend: backend.chosen,
        mapScale: r.colorBar ? r.scale : null,
        executor: executor.executor,
        ...(executor.reason ? { executorReason: executor.reason } : {}),
        textExecutor: executor.text,
        checkpoint: info.path,
        out: outDir,
        threshold: o.threshold ?? null,
        anomalous,
        detections: r.detections,
        skipped: r.skipped,
        scoresJson: r.scoresJson,
        scoresCsv: r.scoresCsv,
      },
      lines.join('\n'),
    );
    return o.failOnAnomaly && anomalous > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    await executor?.dispose();
    model.dispose();
  }
}

/** `detect --queue`: one job per image for the workers, then the results collected as a local run writes them. */
async function runQueuedDetect(o: DetectOptionsCli, images: string[], outDir: string, ctx: CommandContext): Promise<number> {
  checkQueuedOptions(o, ctx, "each worker draws an image's maps when it scores it");
  if (!o.maps) ctx.warn("--no-maps has no effect with --queue: the workers write each image's maps when they score it");
  if (o.mapSize === 'model') ctx.warn("--map-size model has no effect with --queue: the workers write each image's maps at its own size");
  const { Queue } = await import('bullmq');
  const { DETECT_QUEUE, JOB_ATTEMPTS, collectDetectJobs, ensureRedisReachable, modelFingerprint, redisConnection, submitDetectJobs, writeCollected } =
    await import('../queue/detect-jobs');
  const connection = redisConnection(o.queue!);
  await ensureRedisReachable(o.queue!);
  const path = await checkpointPath(o.checkpoint!);
  await readSavedModel(path);
  const fingerprint = await modelFingerprint(path);
  const queue = new Queue<DetectJobData, DetectJobResult>(DETECT_QUEUE, { connection });
  try {
    const submitted = await submitDetectJobs(queue, images, outDir, fingerprint);
    ctx.info(
      `queued ${images.length} image${images.length === 1 ? '' : 's'} for model ${fingerprint} on ${o.queue}; waiting for workers (hgm worker --queue ${o.queue} --checkpoint ${path})`,
    );
    const t0 = Date.now();
    const collected = await collectDetectJobs(queue, submitted, {
      ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
      timeoutMs: o.queueTimeoutS * 1000,
      onProgress: (done, total) => {
        const rate = done / Math.max(1e-3, (Date.now() - t0) / 1000);
        ctx.progress({ type: 'items', stage: 'detect', done, total, imagesPerSecond: rate, etaSeconds: rate > 0 ? (total - done) / rate : 0 });
      },
    });
    const { scoresJson, scoresCsv } = await writeCollected(outDir, collected, o.threshold);
    const anomalous = collected.detections.filter((d) => d.anomalous).length;
    const lines = collected.detections.map(
      (d) => `${d.score.toFixed(4)}${d.anomalous === undefined ? '' : d.anomalous ? ' ANOMALOUS' : ' normal   '}  ${d.image}`,
    );
    for (const f of collected.failed) lines.push(`failed: ${f.reason}`);
    lines.push(`written: ${scoresJson}, ${scoresCsv}, maps in ${outDir}/maps/`);
    if (o.threshold !== undefined) lines.push(`${anomalous} of ${collected.detections.length} anomalous at threshold ${o.threshold}`);
    ctx.result(
      {
        command: 'detect',
        queue: o.queue,
        model: fingerprint,
        checkpoint: path,
        out: outDir,
        threshold: o.threshold ?? null,
        anomalous,
        detections: collected.detections,
        skipped: collected.failed,
        scoresJson,
        scoresCsv,
      },
      lines.join('\n'),
    );
    if (collected.failed.length > 0 && !o.skipCorrupt) {
      throw new CliError(
        `${collected.failed.length} of ${images.length} image${images.length === 1 ? '' : 's'} failed after ${JOB_ATTEMPTS} attempts (listed in ${scoresJson}; first: ${collected.failed[0]!.reason})`,
        EXIT.dataError,
        '--skip-corrupt makes failed images a warning',
      );
    }
    return o.failOnAnomaly && anomalous > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    await queue.close();
  }
}

export function registerDetect(program: Command, action: ActionFactory): void {
  program
    .command('detect')
    .description('anomaly maps and scores for new images: maps/<name>_{heatmap,overlay}.png, scores.{json,csv}')
    .argument('[inputs...]', 'image files, folders (searched recursively) or globs (quote them: "imgs/**/*.png")')
    .option('--checkpoint <file>', 'model.safetensors written by hgm train (or its output folder)')
    .option('--out <dir>', 'output folder')
    .option('--threshold <score>', 'decide anomalous when the image score is at least this (0..1)')
    .option('--fail-on-anomaly', 'exit 1 when any image is anomalous (needs --threshold)')
    .option('--batch-size <n>', 'batch size (default 8)')
    .option('--skip-corrupt', 'skip unreadable images with a warning instead of failing')
    .option('--no-maps', 'write the score tables only (no heat maps, overlays or colour bar)')
    .option('--map-size <size>', "original (default: each image's own size and aspect) or model (the model's input view)")
    .option(
      '--map-scale <scale>',
      "colours of the heat maps: fixed (default: 0..1, comparable across runs) or run (the run's smallest to largest map value; written into maps/colorbar.png)",
    )
    .option('--max-pixels <n>', `warn above this many pixels per image, refuse above twice as many (default ${DEFAULT_MAX_PIXELS}, PIL's)`)
    .option('--overwrite', 'replace the outputs of an earlier run in --out (refused otherwise when --out is not empty)')
    .option('--clip-weights <name|path>', 'CLIP weights: catalogue name or file (.safetensors, .pt, .pth, .bin; default: the ones recorded in the checkpoint)')
    .option('--backbone-weights <name|path>', 'DINO weights: catalogue name or file (.safetensors, .pth, .bin; default: the ones recorded in the checkpoint)')
    .option('--queue <url>', 'queue the images on Redis (redis://host:6379) for `hgm worker` processes and collect their results')
    .option('--queue-timeout-s <s>', 'with --queue: longest wait for the workers (default 3600)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default auto)')
    .option('--executor <name>', EXECUTOR_OPTION_HELP)
    .option('--threads <n>', THREADS_OPTION_HELP)
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys, "inputs" a list); flags override it')
    .option('--json', 'print the result as JSON on stdout (nothing else there)')
    .option('--verbose', 'more detail')
    .addHelpText('after', '\nExample:\n  hgm detect photos/ "line2/*.jpg" --checkpoint runs/visa/model.safetensors --out detections --threshold 0.5')
    .action(action('detect', runDetect));
}
