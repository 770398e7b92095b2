import type * as tf from '@tensorflow/tfjs-core';
import { Rng, type HostTensor, type ParameterStore, type SafetensorsReader, ConfigError } from '@hgm/tensor';
import { ClipModel, Dinov2VisionTransformer, Dinov3VisionTransformer, type ClipTokenizer } from '@hgm/backbone';
import { resolveConfig, TINY_CONFIG, type DualAnchorConfig, type DualAnchorConfigInput } from './config';
import { DualAnchorModel, type FrozenParts } from './dual-anchor-model';
import { randomizeBackboneWeights } from './random-weights';
import { clipVisionBackbone, imageEncoderBackbone } from './vision-features';

type WeightSource = SafetensorsReader | Map<string, HostTensor>;

/** Merges partial configs: nested objects one level deep, `clip` replaced, `backbone` merged when the kind matches. */
export function mergeConfigInput(base: DualAnchorConfigInput, over: DualAnchorConfigInput): DualAnchorConfigInput {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = (base as Record<string, unknown>)[k];
    if (k === 'backbone' && b && v && (b as { kind: string }).kind === (v as { kind: string }).kind) {
      const bb = b as { config?: object };
      const vv = v as { config?: object };
      out[k] = { ...bb, ...vv, ...(bb.config || vv.config ? { config: { ...bb.config, ...vv.config } } : {}) };
    } else if (k !== 'clip' && k !== 'layers' && b && v && typeof b === 'object' && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = { ...(b as object), ...(v as object) };
    } else out[k] = v;
  }
  return out as DualAnchorConfigInput;
}

/** The variables not yet disposed (a released vision encoder's are). */
function live(variables: tf.Variable[]): tf.Variable[] {
  return variables.filter((v) => !v.isDisposed);
}

/** Disposes the variables of a store whose names match, returning their bytes (those already disposed count 0). */
function disposeWhere(store: ParameterStore, match: (name: string) => boolean): number {
  let bytes = 0;
  for (const p of store.entries()) {
    if (!match(p.name) || p.variable.isDisposed) continue;
    bytes += p.variable.size * 4;
    p.variable.dispose();
  }
  return bytes;
}

/** Builds the frozen parts with zero weights for a resolved config (CLIP shares one model for both towers). */
function frozenParts(
  c: DualAnchorConfig,
  tokenizer: ClipTokenizer,
): { parts: FrozenParts; stores: { name: string; load: (w: WeightSource) => Promise<unknown>; randomize: (rng: Rng) => void }[] } {
  if (c.backbone.kind === 'clip') {
    const clip = ClipModel.create(c.clip, { towers: 'both', vvAttentionBlocks: c.backbone.vvAttentionBlocks });
    return {
      parts: {
        backbone: clipVisionBackbone(clip.vision, c.backbone.globalToken),
        text: clip.text,
        tokenizer,
        dispose: () => clip.dispose(),
        frozenVariables: () => live(clip.params.entries().map((p) => p.variable)),
        visionSource: { kind: 'clip', clip, globalToken: c.backbone.globalToken },
        textSource: clip,
        releaseVision: () => disposeWhere(clip.params, (name) => name.startsWith('visual.')),
      },
      stores: [{ name: 'clip', load: (w) => clip.load(w, { ignore: ['^prompt_learner\\.'] }), randomize: (rng) => randomizeBackboneWeights(clip.params, rng) }],
    };
  }
  const clip = ClipModel.create(c.clip, { towers: 'text' });
  const dino = c.backbone.kind === 'dinov3' ? new Dinov3VisionTransformer(c.backbone.config) : new Dinov2VisionTransformer(c.backbone.config);
  const dinoConfig = c.backbone.config;
  return {
    parts: {
      backbone: imageEncoderBackbone(dino, c.backbone.kind),
      text: clip.text,
      tokenizer,
      dispose: () => {
        clip.dispose();
        dino.dispose();
      },
      frozenVariables: () => live([...clip.params.entries(), ...dino.params.entries()].map((p) => p.variable)),
      visionSource: { kind: c.backbone.kind, encoder: dino },
      textSource: clip,
      releaseVision: () => disposeWhere(dino.params, () => true),
    },
    stores: [
      { name: 'clip', load: (w) => clip.load(w), randomize: (rng) => randomizeBackboneWeights(clip.params, rng) },
      { name: c.backbone.kind, load: (w) => dino.loadStateDict(w), randomize: (rng) => randomizeBackboneWeights(dino.params, rng, dinoConfig) },
    ],
  };
}

/**
 * A model whose frozen backbone and text tower get seeded random weights (nothing downloaded): for tests,
 * benchmarks and the offline demo.
 * @param options.backboneSeed seed of the frozen weights (default 0); the learnable parts use `config.seed`
 */
export function buildRandomModel(config: DualAnchorConfigInput, tokenizer: ClipTokenizer, options: { backboneSeed?: number } = {}): DualAnchorModel {
  const c = resolveConfig(config);
  const { parts, stores } = frozenParts(c, tokenizer);
  try {
    const rng = new Rng(options.backboneSeed ?? 0);
    for (const s of stores) s.randomize(rng.fork());
    return new DualAnchorModel(c, parts);
  } catch (e) {
    parts.dispose();
    throw e;
  }
}

/**
 * The tiny model ({@link TINY_CONFIG}, with optional overrides) with seeded random frozen weights. Trains in
 * seconds on a CPU; the training engine's demo and the tests use it.
 */
export function buildTinyModel(options: { tokenizer: ClipTokenizer; overrides?: DualAnchorConfigInput; backboneSeed?: number }): DualAnchorModel {
  return buildRandomModel(mergeConfigInput(TINY_CONFIG, options.overrides ?? {}), options.tokenizer, { backboneSeed: options.backboneSeed ?? 0 });
}

/**
 * A model with real frozen weights, loaded strictly: `clip` holds the openai CLIP state dict (both towers
 * when CLIP is the backbone, at least the text tower otherwise; `prompt_learner.*` keys are skipped), and
 * `backbone` the DINO checkpoint (official names) for DINO backbones.
 */
export async function buildModel(
  config: DualAnchorConfigInput,
  weights: { clip: WeightSource; backbone?: WeightSource; tokenizer: ClipTokenizer },
): Promise<DualAnchorModel> {
  const c = resolveConfig(config);
  const { parts, stores } = frozenParts(c, weights.tokenizer);
  try {
    await stores[0]!.load(weights.clip);
    if (stores[1]) {
      if (!weights.backbone) throw new ConfigError(`buildModel: a ${c.backbone.kind} backbone needs its weights (weights.backbone)`);
      await stores[1].load(weights.backbone);
    }
    return new DualAnchorModel(c, parts);
  } catch (e) {
    parts.dispose();
    throw e;
  }
}

/** Every frozen variable of a model (for checks that training leaves them unchanged). */
export function frozenVariables(model: DualAnchorModel): tf.Variable[] {
  return model.frozen.frozenVariables();
}
