/** `hgm eval`: zero-shot evaluation of a trained model on a dataset: metrics tables and anomaly maps. */
import type { Command } from 'commander';
import { evaluate, evaluationMarkdown, DEFAULT_EVAL_METRICS } from '@hgm/engine/node';
import { DEFAULT_MAX_PIXELS, imageDecoderInfo, nodeFileSystem, nodeImageDecoder } from '@hgm/data/node';
import { BACKEND_FIELD, CommandContext, resolveCommandOptions, type ActionFactory } from '../command-context';
import type { Schema } from '../config-file';
import { EXIT } from '../exit-codes';
import { claimOutputDir, ensureWritableDir } from '../output-dir';
import { FROZEN_WEIGHT_FIELDS, modelFromCheckpoint } from '../models';
import { EXECUTOR_FIELD, EXECUTOR_OPTION_HELP, THREADS_FIELD, THREADS_OPTION_HELP, useExecutor } from '../executor';
import { DATASET_FIELDS, FORMAT_CHOICES, selectSamples } from '../dataset';
import { defaultFeatureCacheDir } from '../paths';
import { join } from 'node:path';

export const EVAL_SCHEMA: Schema = {
  ...DATASET_FIELDS,
  checkpoint: { type: 'string', description: 'model.safetensors (or the training output folder)' },
  out: { type: 'string', description: 'output folder' },
  batchSize: { type: 'integer', min: 1, description: 'batch size' },
  metrics: { type: 'string[]', description: 'metrics' },
  maps: { type: 'boolean', description: 'write heat maps and overlays' },
  imageSize: { type: 'integer', min: 8, description: 'input side (must match the checkpoint)' },
  mapSize: { type: 'string', choices: ['original', 'model'], description: 'size of the written maps' },
  maxPixels: { type: 'integer', min: 1, description: 'warn above this many pixels per image, refuse above twice as many' },
  overwrite: { type: 'boolean', description: 'replace the outputs of an earlier run in --out' },
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
  split: string;
  checkpoint?: string;
  out?: string;
  batchSize: number;
  metrics: string[];
  maps: boolean;
  imageSize?: number;
  clipWeights?: string;
  backboneWeights?: string;
  cacheDir?: string;
  backend: string;
  mapSize: string;
  maxPixels: number;
  overwrite: boolean;
  executor: string;
  threads?: number;
}

const DEFAULTS: EvalOptions = { split: 'test', batchSize: 8, metrics: [...DEFAULT_EVAL_METRICS], maps: true, backend: 'auto', mapSize: 'original', maxPixels: DEFAULT_MAX_PIXELS, overwrite: false, executor: 'auto' };

export async function runEval(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const o = await resolveCommandOptions(EVAL_SCHEMA, DEFAULTS, flags, ['data', 'checkpoint', 'out']);
  const outDir = await ensureWritableDir(o.out!);
  const removed = await claimOutputDir(outDir, ['maps', 'metrics.md', 'metrics.csv', 'metrics.json', 'scores.csv'], o.overwrite);
  if (removed.length > 0) ctx.info(`--overwrite: removed the earlier ${removed.join(', ')} in ${outDir}`);
  const decoder = await imageDecoderInfo();
  ctx.detail(`image decoder: ${decoder.decoder}${decoder.version ? ` (${decoder.version})` : ''}${decoder.reason ? ` (${decoder.reason})` : ''}`);
  const backend = await ctx.backend(o.backend);
  const { samples, categories } = await selectSamples({ data: o.data!, format: o.format, categories: o.categories, split: o.split });
  const { model, info } = await modelFromCheckpoint(o.checkpoint!, {
    ...(o.imageSize ? { overrides: { imageSize: o.imageSize } } : {}),
    clipWeights: o.clipWeights,
    backboneWeights: o.backboneWeights,
    log: (l) => ctx.info(l),
  });
  let executor: ReturnType<typeof useExecutor> | undefined;
  try {
    executor = useExecutor(model, o.executor, { ...(o.threads !== undefined ? { threads: o.threads } : {}), log: (l) => ctx.info(l) });
    ctx.info(`model: ${info.config.name} (${info.path}); evaluating ${samples.length} images of ${categories.join(', ')}`);
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
      decode: nodeImageDecoder({ maxPixels: o.maxPixels, onWarning: (w) => ctx.warn(w) }),
      onProgress: ctx.progress,
    });
    const files = { markdown: join(outDir, 'metrics.md'), csv: join(outDir, 'metrics.csv'), json: join(outDir, 'metrics.json'), scores: join(outDir, 'scores.csv'), maps: o.maps ? join(outDir, 'maps') : null };
    ctx.result(
      { command: 'eval', backend: backend.chosen, executor: executor.executor, ...(executor.reason ? { executorReason: executor.reason } : {}), checkpoint: info.path, out: outDir, files, metrics: result.metrics, categories: result.categories, mean: result.mean },
      `${evaluationMarkdown(result)}\nwritten: ${files.markdown}, ${files.csv}, ${files.json}, ${files.scores}${files.maps ? `, ${files.maps}/` : ''}`,
    );
    return EXIT.ok;
  } finally {
    executor?.dispose();
    model.dispose();
  }
}

export function registerEval(program: Command, action: ActionFactory): void {
  program
    .command('eval')
    .description('evaluate a trained model zero-shot on a dataset: metrics.{md,csv,json}, scores.csv, maps/')
    .option('--data <root>', 'dataset root')
    .option('--format <format>', `dataset layout: ${FORMAT_CHOICES.join(', ')} (detected when left out)`)
    .option('--categories <list>', 'comma-separated categories (default all)')
    .option('--split <split>', 'test, train or all (default test)')
    .option('--checkpoint <file>', 'model.safetensors written by hgm train (or its output folder)')
    .option('--out <dir>', 'output folder')
    .option('--batch-size <n>', 'batch size (default 8)')
    .option('--metrics <list>', `comma-separated metrics (default ${DEFAULT_EVAL_METRICS.join(',')})`)
    .option('--maps', 'write a heat map and an overlay per image (default)')
    .option('--no-maps', 'write the tables only')
    .option('--image-size <px>', 'input side (must match the checkpoint)')
    .option('--map-size <size>', 'original (default: each image\'s own size and aspect) or model (the model\'s input view)')
    .option('--max-pixels <n>', `warn above this many pixels per image, refuse above twice as many (default ${DEFAULT_MAX_PIXELS}, PIL's)`)
    .option('--overwrite', 'replace the outputs of an earlier run in --out (refused otherwise when --out is not empty)')
    .option('--clip-weights <name|path>', 'CLIP weights: catalogue name or file (.safetensors, .pt, .pth, .bin; default: the ones recorded in the checkpoint)')
    .option('--backbone-weights <name|path>', 'DINO weights: catalogue name or file (.safetensors, .pth, .bin; default: the ones recorded in the checkpoint)')
    .option('--cache-dir <dir>', 'feature cache (default $HGM_CACHE/features or ~/.cache/hgm/features)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default auto)')
    .option('--executor <name>', EXECUTOR_OPTION_HELP)
    .option('--threads <n>', THREADS_OPTION_HELP)
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys); flags override it')
    .option('--json', 'print the result as JSON on stdout (nothing else there)')
    .option('--verbose', 'more detail')
    .addHelpText('after', '\nExample:\n  hgm eval --data ~/data/mvtec_ad --checkpoint runs/visa/model.safetensors --out results/mvtec')
    .action(action('eval', runEval));
}
