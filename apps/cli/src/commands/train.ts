/** `hgm train`: trains the learnable parts on an auxiliary dataset, with checkpoints and resume (Ctrl-C saves). */
import { join } from 'node:path';
import type { Command } from 'commander';
import { openSafetensors, pathExists } from '@hgm/tensor/node';
import type { ImageSize } from '@hgm/tensor';
import { architectureOf, configDifferences, type DualAnchorConfig } from '@hgm/dual-anchor';
import { train, describeFrozenWeights, type TrainResult } from '@hgm/engine/node';
import { nodeFileSystem } from '@hgm/data/node';
import { BACKEND_FIELD, CommandContext, resolveCommandOptions, type ActionFactory } from '../command-context';
import type { Schema } from '../config-file';
import { CliError, EXIT } from '../exit-codes';
import { EXECUTOR_FIELD, EXECUTOR_OPTION_HELP, THREADS_FIELD, THREADS_OPTION_HELP, useExecutor, type ExecutorChoice } from '../executor';
import { ensureWritableDir } from '../output-dir';
import { createModel, DEFAULT_WEIGHTS, FROZEN_WEIGHT_FIELDS, MODEL_PRESETS, presetConfig, type ModelPreset } from '../models';
import { DATASET_FIELDS, FORMAT_CHOICES, selectSamples, FOLDER_NAME_OPTIONS } from '../dataset';
import { defaultFeatureCacheDir } from '../paths';

export const TRAIN_SCHEMA: Schema = {
  ...DATASET_FIELDS,
  out: { type: 'string', description: 'output folder' },
  epochs: { type: 'integer', min: 1, description: 'epochs' },
  batchSize: { type: 'integer', min: 1, description: 'batch size' },
  microBatch: { type: 'string', description: "images per forward/backward pass: a positive integer or 'auto'" },
  dryRun: { type: 'boolean', description: 'measure and print the plan, then stop' },
  lr: { type: 'number', min: 0, description: 'Adam learning rate' },
  seed: { type: 'integer', description: 'seed of the data order and noise' },
  resume: { type: 'boolean', description: 'continue from <out>/checkpoint.safetensors' },
  model: { type: 'string', choices: MODEL_PRESETS, description: 'model preset' },
  imageSize: { type: 'image-size', min: 8, description: 'input size: a side in pixels, or WIDTHxHEIGHT' },
  weights: { type: 'string', description: 'frozen backbone weights (DINO for paper, CLIP for anomalyclip)' },
  ...FROZEN_WEIGHT_FIELDS,
  cacheDir: { type: 'string', description: 'feature cache folder' },
  backend: BACKEND_FIELD,
  executor: EXECUTOR_FIELD,
  threads: THREADS_FIELD,
};

export interface TrainOptionsCli extends Record<string, unknown> {
  data?: string;
  format?: string;
  categories?: string[];
  normalDir?: string;
  abnormalDir?: string[];
  split: string;
  out?: string;
  epochs: number;
  batchSize: number;
  microBatch: string;
  dryRun: boolean;
  lr: number;
  seed: number;
  resume: boolean;
  /** The preset; no default: a run names the model it trains (the tiny one has random frozen weights). */
  model?: string;
  imageSize?: ImageSize;
  weights?: string;
  clipWeights?: string;
  backboneWeights?: string;
  cacheDir?: string;
  backend: string;
  executor: string;
  threads?: number;
}

export const TRAIN_DEFAULTS: TrainOptionsCli = {
  split: 'test',
  epochs: 15,
  batchSize: 8,
  microBatch: 'auto',
  dryRun: false,
  lr: 1e-3,
  seed: 111,
  resume: true,
  backend: 'auto',
  executor: 'auto',
};

/** Which frozen weights a preset gets from --weights / --clip-weights / --backbone-weights and the defaults. */
export function frozenWeightChoice(o: {
  model: string;
  weights?: string | undefined;
  clipWeights?: string | undefined;
  backboneWeights?: string | undefined;
}): { clipWeights?: string; backboneWeights?: string } {
  const preset = o.model as ModelPreset;
  const defaults = DEFAULT_WEIGHTS[preset];
  let clip = o.clipWeights;
  let backbone = o.backboneWeights;
  if (o.weights) {
    if (preset === 'anomalyclip') clip ??= o.weights;
    else backbone ??= o.weights;
  }
  if (preset === 'tiny' && backbone && !clip)
    throw new CliError('the tiny model with real backbone weights also needs --clip-weights (its text tower)', EXIT.usage);
  clip ??= defaults.clip;
  backbone ??= defaults.backbone;
  return { ...(clip ? { clipWeights: clip } : {}), ...(backbone ? { backboneWeights: backbone } : {}) };
}

/** Refuses, before any work, to resume a checkpoint of another configuration (naming the differences). */
async function checkResumable(checkpoint: string, config: DualAnchorConfig): Promise<void> {
  if (!(await pathExists(checkpoint))) return;
  const reader = await openSafetensors(checkpoint);
  try {
    const saved = reader.metadata['config'];
    if (reader.metadata['format'] !== 'hgm-train-checkpoint' || !saved)
      throw new CliError(`${checkpoint}: not a training checkpoint`, EXIT.dataError, 'use another --out');
    const diffs = configDifferences(architectureOf(JSON.parse(saved) as DualAnchorConfig), architectureOf(config)).map((d) =>
      d.replace('model ', 'checkpoint ').replace(', checkpoint ', ', this run '),
    );
    if (diffs.length > 0) {
      throw new CliError(
        `${checkpoint}: written for another model configuration: ${diffs.slice(0, 8).join('; ')}${diffs.length > 8 ? ` (and ${diffs.length - 8} more)` : ''}`,
        EXIT.dataError,
        'use another --out, or --no-resume to start over there (the checkpoint is then replaced)',
      );
    }
  } finally {
    await reader.close();
  }
}

export async function runTrain(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const o = await resolveCommandOptions(TRAIN_SCHEMA, TRAIN_DEFAULTS, flags, ['data', 'out']);
  if (o.model === undefined) {
    throw new CliError(
      'no --model given: name the model to train (paper: DINOv3 ViT-L/16 + CLIP-L text; anomalyclip: the AnomalyCLIP baseline; tiny: random frozen weights, a smoke test that transfers nothing)',
      EXIT.usage,
      'e.g. --model paper (downloads its weights unless --clip-weights / --backbone-weights name files), or --model tiny to train the toy model anyway',
    );
  }
  const preset = o.model as ModelPreset;
  const microBatch = o.microBatch === 'auto' ? 'auto' : Number(o.microBatch);
  if (microBatch !== 'auto' && (!Number.isInteger(microBatch) || microBatch < 1))
    throw new CliError(`--micro-batch must be a positive integer or auto, found ${o.microBatch}`, EXIT.usage);
  const outDir = await ensureWritableDir(o.out!);
  const backend = await ctx.backend(o.backend);
  const { samples, format, categories } = await selectSamples({ ...o, data: o.data! });
  ctx.info(
    `training set: ${samples.length} images (${samples.filter((s) => s.label === 1).length} anomalous) of ${categories.join(', ')} from ${o.data} (${format}, split ${o.split})`,
  );
  const weights = frozenWeightChoice({ ...o, model: preset });
  const model = await createModel({
    config: presetConfig(preset, o.imageSize ? { imageSize: o.imageSize } : {}),
    ...weights,
    log: (l) => ctx.info(l),
  });
  ctx.info(`model: ${model.model.config.name} (--model ${preset}; ${describeFrozenWeights(model.frozen)})`);
  let executor: ExecutorChoice | undefined;
  try {
    const checkpoint = join(outDir, 'checkpoint.safetensors');
    if (o.resume) await checkResumable(checkpoint, model.model.config);
    // The frozen encoder only makes the features of the feature cache; training runs on tfjs.
    executor = await useExecutor(model, o.executor, { threads: o.threads, log: (l) => ctx.info(l) });
    const result = await trainWithInterrupt(ctx, (signal) =>
      train({
        model,
        samples,
        fs: nodeFileSystem,
        outDir,
        featureCacheDir: o.cacheDir ?? defaultFeatureCacheDir(),
        epochs: o.epochs,
        batchSize: o.batchSize,
        microBatch,
        dryRun: o.dryRun,
        adam: { learningRate: o.lr },
        seed: o.seed,
        resume: o.resume,
        onProgress: ctx.progress,
        signal,
      }),
    );
    const last = result.history[result.history.length - 1];
    if (result.dryRun) {
      ctx.result(
        {
          command: 'train',
          dryRun: true,
          backend: backend.chosen,
          executor: executor.executor,
          out: outDir,
          samples: samples.length,
          plan: result.plan,
          featureCache: result.featureCache,
        },
        `dry run: nothing trained, no checkpoint written; the plan is above (features are cached for the run)`,
      );
      return EXIT.ok;
    }
    const summary = {
      command: 'train',
      backend: backend.chosen,
      executor: executor.executor,
      ...(executor.reason ? { executorReason: executor.reason } : {}),
      out: outDir,
      model: result.modelPath,
      checkpoint: result.checkpointPath,
      history: join(outDir, 'history.json'),
      epochs: o.epochs,
      epochsCompleted: result.epochsCompleted,
      interrupted: result.interrupted,
      resumedFrom: result.resumedFrom ?? null,
      steps: result.history.length,
      finalLoss: last ? last.loss : null,
      samples: samples.length,
      featureCache: result.featureCache,
      plan: result.plan,
    };
    if (result.interrupted) {
      ctx.result(summary, '');
      ctx.io.stderr.write(
        `interrupted: checkpoint saved in ${result.checkpointPath} after ${result.history.length} steps\nto resume, run the same command again (resuming is the default)\n`,
      );
      return EXIT.interrupted;
    }
    ctx.result(
      summary,
      `trained ${o.epochs} epochs (${result.history.length} steps, final loss ${last ? last.loss.toFixed(4) : '?'})\nmodel: ${result.modelPath}\nnext: hgm eval --data <dataset> --checkpoint ${result.modelPath} --out <folder>`,
    );
    return EXIT.ok;
  } finally {
    await executor?.dispose();
    model.dispose();
  }
}

/**
 * Runs training with Ctrl-C wired to an abort signal: the first SIGINT stops at the next step boundary
 * (the engine saves a checkpoint), a second one exits at once.
 */
export async function trainWithInterrupt(ctx: CommandContext, run: (signal: AbortSignal) => Promise<TrainResult>): Promise<TrainResult> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      ctx.io.stderr.write('\nsecond interrupt: exiting without waiting (the last epoch checkpoint is kept)\n');
      process.exit(EXIT.interrupted);
    }
    ctx.io.stderr.write('\ninterrupt: stopping after the current step and saving a checkpoint (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

export function registerTrain(program: Command, action: ActionFactory): void {
  program
    .command('train')
    .description('train the learnable parts on an auxiliary dataset (zero-shot protocol: its labelled test split by default)')
    .option('--data <root>', 'dataset root')
    .option('--format <format>', `dataset layout: ${FORMAT_CHOICES.join(', ')} (detected when left out)`)
    .option('--categories <list>', 'comma-separated categories (default all)')
    .option(...FOLDER_NAME_OPTIONS[0])
    .option(...FOLDER_NAME_OPTIONS[1])
    .option('--split <split>', 'split to train on: test, train or all (default test)')
    .option('--out <dir>', 'output folder: checkpoint.safetensors, model.safetensors, history.json')
    .option('--epochs <n>', 'epochs (default 15)')
    .option('--batch-size <n>', 'batch size (default 8)')
    .option(
      '--micro-batch <n|auto>',
      'images per forward/backward pass; their gradients are summed into one optimiser step per batch, the same step with less memory (default auto: the whole batch, or on wasm what its 4 GiB heap fits, measured)',
    )
    .option('--dry-run', 'cache the features, measure two probe passes, print the plan (s/step, peak memory, cache size, time per epoch and run) and stop')
    .option('--lr <x>', 'Adam learning rate (default 0.001)')
    .option('--seed <n>', 'seed of the data order and noise (default 111)')
    .option('--resume', 'continue from <out>/checkpoint.safetensors when present (default)')
    .option('--no-resume', 'start over, replacing an existing checkpoint')
    .option(
      '--model <preset>',
      'tiny (random frozen weights, no download), paper (DINOv3 ViT-L/16 + CLIP-L text) or anomalyclip (required: a run names the model it trains)',
    )
    .option(
      '--image-size <size>',
      "input size: a side in pixels (512) or WIDTHxHEIGHT (512x384: 512 wide, 384 high); each side a multiple of the patch size (default: the preset's)",
    )
    .option('--weights <name|path>', 'frozen backbone weights: DINO for paper, CLIP for anomalyclip (catalogue name or file)')
    .option(
      '--clip-weights <name|path>',
      'CLIP weights: catalogue name or file (.safetensors, .pt, .pth, .bin; default for paper/anomalyclip: clip-vit-l-14-336)',
    )
    .option('--backbone-weights <name|path>', 'DINO weights: catalogue name or file (.safetensors, .pth, .bin; default for paper: dinov3-vitl16)')
    .option('--cache-dir <dir>', 'feature cache (default $HGM_CACHE/features or ~/.cache/hgm/features)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default auto)')
    .option('--executor <name>', EXECUTOR_OPTION_HELP)
    .option('--threads <n>', THREADS_OPTION_HELP)
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys); flags override it')
    .option('--json', 'print the result as JSON on stdout (nothing else there)')
    .option('--verbose', 'more detail (e.g. why backends were passed over)')
    .addHelpText(
      'after',
      '\nCtrl-C stops at the next step and saves a checkpoint (exit 130); the same command resumes.\nExample:\n  hgm train --data ~/data/visa --out runs/visa --model paper --epochs 15',
    )
    .action(action('train', runTrain));
}
