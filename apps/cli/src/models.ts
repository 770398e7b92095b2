/**
 * Builds the model a command runs: from a preset name (`tiny`, `paper`, `anomalyclip`) for training, or
 * from a saved model (its metadata holds the configuration and the frozen-weights record) for `eval` and
 * `detect`. Random frozen weights (the tiny preset) are regenerated from their seed; real weights are
 * found through the weights manager (local path, cache, download) and converted to the model's key names.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { openSafetensors, openTensorFile } from '@hgm/tensor/node';
import type { HostTensor, SafetensorsReader } from '@hgm/tensor';
import { RANDOM_WEIGHTS_METADATA_KEY, prepareSource, readAllTensors, type ClipTokenizer } from '@hgm/backbone';
import { loadClipTokenizer, CLIP_VOCAB_FILE, WeightsManager } from '@hgm/backbone/node';
import {
  PAPER_CONFIG,
  TINY_CONFIG,
  anomalyClipConfig,
  buildModel,
  buildRandomModel,
  mergeConfigInput,
  resolveConfig,
  type DualAnchorConfig,
  type DualAnchorConfigInput,
} from '@hgm/dual-anchor';
import { CliEngineModel, FROZEN_METADATA_KEY, type FrozenWeights, type WeightsRef } from './cli-engine-model';
import type { Schema } from './config-file';
import { CliError, EXIT } from './exit-codes';

export const MODEL_PRESETS = ['tiny', 'paper', 'anomalyclip'] as const;
export type ModelPreset = (typeof MODEL_PRESETS)[number];

/** The frozen weights each preset uses by default (catalogue names of `hgm weights`). */
export const DEFAULT_WEIGHTS: Record<ModelPreset, { clip?: string; backbone?: string }> = {
  tiny: {},
  paper: { clip: 'clip-vit-l-14-336', backbone: 'dinov3-vitl16' },
  anomalyclip: { clip: 'clip-vit-l-14-336' },
};

/** The schema fields naming frozen weights (`--clip-weights`, `--backbone-weights`). */
export const FROZEN_WEIGHT_FIELDS: Schema = {
  clipWeights: { type: 'string', description: 'CLIP weights' },
  backboneWeights: { type: 'string', description: 'DINO backbone weights' },
};

/** The config input of a preset with overrides. */
export function presetConfig(preset: ModelPreset, overrides: DualAnchorConfigInput = {}): DualAnchorConfigInput {
  switch (preset) {
    case 'tiny':
      return mergeConfigInput(TINY_CONFIG, overrides);
    case 'paper':
      return mergeConfigInput(PAPER_CONFIG, overrides);
    case 'anomalyclip':
      return anomalyClipConfig(overrides);
  }
}

/** The CLIP tokenizer from the vocabulary shipped with @hgm/backbone (found from the sources or a bundle). */
export async function cliTokenizer(): Promise<ClipTokenizer> {
  try {
    return await loadClipTokenizer();
  } catch {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('@hgm/backbone/package.json');
    return loadClipTokenizer(join(dirname(pkg), 'assets', CLIP_VOCAB_FILE));
  }
}

/** Options of {@link createModel}. */
export interface CreateModelOptions {
  config: DualAnchorConfigInput;
  /** CLIP weights (catalogue name or path); none = random frozen weights. */
  clipWeights?: string;
  /** DINO backbone weights (catalogue name or path), for DINO backbones. */
  backboneWeights?: string;
  /** Seed of random frozen weights (default 0). */
  randomSeed?: number;
  weights?: WeightsManager;
  log?: (line: string) => void;
}

function featureIdentity(c: DualAnchorConfig, frozen: FrozenWeights): { backbone: string; weights: string } {
  const arch = createHash('sha256')
    .update(JSON.stringify({ backbone: c.backbone, clip: c.clip }))
    .digest('hex')
    .slice(0, 16);
  const weights =
    frozen.kind === 'random'
      ? `random:${frozen.seed}`
      : [frozen.clip, frozen.backbone]
          .filter((w): w is WeightsRef => !!w)
          .map((w) => `${w.path}:${w.sizeBytes}`)
          .join('|');
  return { backbone: `${c.backbone.kind}:${arch}`, weights };
}

async function loadWeightsFile(
  manager: WeightsManager,
  name: string,
  family: 'clip' | 'dino',
  c: DualAnchorConfig,
  log?: (l: string) => void,
): Promise<{ ref: WeightsRef; tensors: Map<string, HostTensor> }> {
  const resolved = await manager.resolve(name, {
    onProgress: (p) => {
      if (p.phase === 'start') {
        // a download is never silent: what, how much, from where, and the alternatives
        const size = p.totalBytes !== undefined ? `${(p.totalBytes / 1e9).toFixed(2)} GB` : 'unknown size';
        log?.(
          `weights ${name}: not in the cache; downloading ${p.url} (${size}${p.resumedFrom > 0 ? `, resuming at ${p.resumedFrom} bytes` : ''}) to ${p.path}` +
            ` (Ctrl-C keeps what arrived; \`hgm weights pull ${name}\` fetches ahead; --${family === 'clip' ? 'clip' : 'backbone'}-weights FILE uses a file you have)`,
        );
      } else if (p.phase !== 'data') log?.(`weights ${name}: ${p.phase} ${p.path}`);
    },
  });
  log?.(`weights ${name}: ${resolved.path} (${resolved.source})`);
  const reader = await openTensorFile(resolved.path);
  try {
    const numHeads = c.backbone.kind === 'clip' ? c.clip.vision.heads : c.backbone.config.numHeads;
    const prepared = prepareSource(reader, family === 'dino' ? { context: { numHeads } } : {});
    const tensors = await readAllTensors(prepared.source);
    const size = (await stat(resolved.path)).size;
    const randomMark = reader.metadata[RANDOM_WEIGHTS_METADATA_KEY];
    const random = randomMark ? (JSON.parse(randomMark) as { name: string; seed: number }) : undefined;
    if (random)
      log?.(`weights ${name}: RANDOM weights (${random.name}, seed ${random.seed}, written by hgm weights random): nothing this model finds means anything`);
    return { ref: { name, path: resolved.path, sizeBytes: size, ...(random ? { random: { name: random.name, seed: random.seed } } : {}) }, tensors };
  } finally {
    await reader.close();
  }
}

/** Builds a model for training (or for evaluation with a given configuration). */
export async function createModel(options: CreateModelOptions): Promise<CliEngineModel> {
  const c = resolveConfig(options.config);
  const tokenizer = await cliTokenizer();
  if (!options.clipWeights && !options.backboneWeights) {
    const frozen: FrozenWeights = { kind: 'random', seed: options.randomSeed ?? 0 };
    const model = buildRandomModel(c, tokenizer, { backboneSeed: frozen.seed });
    return new CliEngineModel(model, featureIdentity(c, frozen), frozen);
  }
  if (!options.clipWeights)
    throw new CliError(`the model needs CLIP weights (--clip-weights) for its text tower${c.backbone.kind === 'clip' ? ' and backbone' : ''}`, EXIT.usage);
  if (c.backbone.kind !== 'clip' && !options.backboneWeights)
    throw new CliError(`a ${c.backbone.kind} backbone needs its weights (--backbone-weights)`, EXIT.usage);
  if (c.backbone.kind === 'clip' && options.backboneWeights)
    throw new CliError('this model uses the CLIP vision tower as its backbone; --backbone-weights does not apply (use --clip-weights)', EXIT.usage);
  const manager = options.weights ?? new WeightsManager();
  const clip = await loadWeightsFile(manager, options.clipWeights, 'clip', c, options.log);
  const backbone = options.backboneWeights ? await loadWeightsFile(manager, options.backboneWeights, 'dino', c, options.log) : undefined;
  const model = await buildModel(c, { clip: clip.tensors, ...(backbone ? { backbone: backbone.tensors } : {}), tokenizer });
  const frozen: FrozenWeights = { kind: 'files', clip: clip.ref, ...(backbone ? { backbone: backbone.ref } : {}) };
  return new CliEngineModel(model, featureIdentity(c, frozen), frozen);
}

/** What a saved model (model.safetensors) says about itself. */
export interface SavedModelInfo {
  path: string;
  config: DualAnchorConfig;
  frozen: FrozenWeights | undefined;
}

/** Resolves `--checkpoint` (a file, or a training output folder holding model.safetensors). */
export async function checkpointPath(given: string): Promise<string> {
  const s = await stat(given).catch(() => null);
  if (!s)
    throw new CliError(`checkpoint ${given}: no such file or folder`, EXIT.noInput, 'pass the model.safetensors written by `hgm train` (or its output folder)');
  if (s.isDirectory()) {
    const inside = join(given, 'model.safetensors');
    if (!(await stat(inside).catch(() => null)))
      throw new CliError(
        `checkpoint ${given}: the folder holds no model.safetensors`,
        EXIT.noInput,
        'pass the output folder of `hgm train` or the model file itself',
      );
    return inside;
  }
  return given;
}

/** Reads the configuration and frozen-weights record of a saved model. */
export async function readSavedModel(path: string): Promise<SavedModelInfo> {
  let reader: SafetensorsReader;
  try {
    reader = await openSafetensors(path);
  } catch (e) {
    throw new CliError(`checkpoint ${path}: cannot read it as safetensors (${(e as Error).message})`, EXIT.dataError);
  }
  try {
    const meta = reader.metadata;
    if (meta['format'] === 'hgm-train-checkpoint') {
      throw new CliError(
        `checkpoint ${path}: this is a training state for resuming, not a model`,
        EXIT.dataError,
        `pass ${join(dirname(path), 'model.safetensors')} instead`,
      );
    }
    if (meta['kind'] !== 'dual-anchor' || typeof meta['config'] !== 'string') {
      throw new CliError(
        `checkpoint ${path}: not a model saved by hgm (metadata kind ${JSON.stringify(meta['kind'])}, config ${meta['config'] === undefined ? 'absent' : 'present'})`,
        EXIT.dataError,
      );
    }
    let config: DualAnchorConfig;
    try {
      config = resolveConfig(JSON.parse(meta['config']) as DualAnchorConfigInput);
    } catch (e) {
      throw new CliError(`checkpoint ${path}: its configuration is not valid (${(e as Error).message})`, EXIT.dataError);
    }
    const frozenText = meta[FROZEN_METADATA_KEY];
    return { path, config, frozen: frozenText ? (JSON.parse(frozenText) as FrozenWeights) : undefined };
  } finally {
    await reader.close();
  }
}

/** Options of {@link modelFromCheckpoint}. */
export interface CheckpointModelOptions {
  /** Replace the saved configuration's fields (must stay compatible with the saved parameters). */
  overrides?: DualAnchorConfigInput;
  clipWeights?: string;
  backboneWeights?: string;
  weights?: WeightsManager;
  log?: (line: string) => void;
}

/**
 * Rebuilds the model a saved model was trained with and loads its parameters. Random frozen weights come
 * back from their seed; real ones from the recorded names (or the ones given).
 */
export async function modelFromCheckpoint(given: string, options: CheckpointModelOptions = {}): Promise<{ model: CliEngineModel; info: SavedModelInfo }> {
  const path = await checkpointPath(given);
  const info = await readSavedModel(path);
  const config = options.overrides ? mergeConfigInput(info.config, options.overrides) : info.config;
  const frozen = info.frozen;
  let clipWeights = options.clipWeights;
  let backboneWeights = options.backboneWeights;
  if (!clipWeights && !backboneWeights && frozen?.kind === 'files') {
    clipWeights = frozen.clip.name;
    backboneWeights = frozen.backbone?.name;
  }
  if (!frozen && !clipWeights) {
    throw new CliError(
      `checkpoint ${path}: it does not say which frozen weights it was trained with`,
      EXIT.usage,
      'pass --clip-weights (and --backbone-weights for DINO backbones)',
    );
  }
  const model = await createModel({
    config,
    clipWeights,
    backboneWeights,
    randomSeed: frozen?.kind === 'random' ? frozen.seed : undefined,
    weights: options.weights,
    log: options.log,
  });
  const reader = await openSafetensors(path);
  try {
    await model.loadTrainable(reader);
  } catch (e) {
    model.dispose();
    throw new CliError(
      (e as Error).message,
      EXIT.dataError,
      'the checkpoint was trained with another configuration; drop the overriding options or use a matching checkpoint',
    );
  } finally {
    await reader.close();
  }
  return { model, info };
}
