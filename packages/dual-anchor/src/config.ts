import {
  CLIP_VIT_L_14_336,
  resolveClipConfig,
  resolveDinov2Config,
  resolveDinov3Config,
  validateClipConfig,
  type ClipConfig,
  type Dinov2Config,
  type Dinov3Config,
} from '@hgm/backbone';
import { resolveHierarchicalGroupMergingConfig, type HierarchicalGroupMergingConfig } from '@hgm/group-merging';
import { resolveGroupGatedTokenRefinerConfig, type GroupGatedTokenRefinerConfig } from '@hgm/refiner';
import { resolveAnomalyClipPromptConfig, resolveDynamicStatePromptConfig, type AnomalyClipPromptConfig, type DynamicStatePromptConfig } from '@hgm/prompts';
import { MASK_DOWNSAMPLINGS, type MaskDownsampling } from '@hgm/losses';
import { ConfigError, canonicalImageSize, imageSizeProblems, type ImageSize } from '@hgm/tensor';

/** The frozen vision backbone. */
export type BackboneConfig =
  | {
      kind: 'clip';
      /** The vision tower of {@link DualAnchorConfig.clip}; number of final blocks with V-V ("DPAM") attention. */
      vvAttentionBlocks: number;
      /**
       * Global token t_cls: 'ln-post' = `ln_post(CLS) @ proj` (openai's image embedding, the method's "CLS
       * after the final norm"); 'no-ln-post' = `CLS @ proj`, AnomalyCLIP's quirk (its test.py score).
       */
      globalToken: 'ln-post' | 'no-ln-post';
    }
  | { kind: 'dinov3'; config: Dinov3Config }
  | { kind: 'dinov2'; config: Dinov2Config };

/** Which modules run (the ablations of the paper switch them off one at a time). */
export interface ModuleSwitches {
  /** Hierarchical Group Merging (step 2). Off: no F_assign map; anchors, when DSP or GGTR need them, are two learnable tokens (choice). */
  hgm: boolean;
  /** Group-Gated Token Refiner (GGTR, step 3; parameters `refiner.*`). Off: t_ref = t_cls. */
  refiner: boolean;
  /** Dynamic State Prompts (step 4). Off: AnomalyCLIP's static learnable prompts. */
  dsp: boolean;
}

/** Weights and choices of the training loss (method step 6). */
export interface LossConfig {
  /** Factor of the image term BCE(p_cls, y) (two-class cross-entropy on cos/temperature). Default 1. */
  image: number;
  /** Factor of the sum over maps of Focal + Dice + Dice. Default 1. */
  maps: number;
  /** Factor of |<G_N, G_A>|^2 (unit-normalised). Default 1. */
  orthogonality: number;
  /** Factor of 1 - (cos(G_N, Z_N) + cos(G_A, Z_A)) / 2. Default 1. */
  alignment: number;
  /** How the mask reaches the patch grid for Z_N / Z_A (choice). Default 'area'. */
  maskDownsampling: MaskDownsampling;
  /** Focal gamma (AnomalyCLIP: 2). */
  focalGamma: number;
}

/** Optional fusion of the image score with the anomaly map (off by default; reported separately). */
export interface ScoreFusionConfig {
  /** 'none' (default), 'max' of the map, or the mean of its top-k pixels. */
  mode: 'none' | 'max' | 'top-k-mean';
  /** Fraction of pixels for 'top-k-mean'. Default 0.01. */
  topKFraction: number;
  /** fused = (1 - weight) * score + weight * statistic. Default 0.5. */
  weight: number;
}

/** Everything that defines a Dual-Anchor model (and the AnomalyCLIP baseline, with every module off). */
export interface DualAnchorConfig {
  /** Label for reports. */
  name: string;
  backbone: BackboneConfig;
  /**
   * The CLIP architecture whose text tower encodes the prompts (frozen) and, for `backbone.kind` 'clip',
   * whose vision tower is the backbone. Its `embedDim` is D, the width of maps, groups and prompts.
   */
  clip: ClipConfig;
  /**
   * 0-based indices of the tapped backbone blocks, one HGM level each. The paper's 1-based layers
   * {6, 12, 18, 24} are [5, 11, 17, 23].
   */
  layers: number[];
  /**
   * Input size in pixels: a number for a square input, or `[height, width]`; each side a multiple of the
   * backbone's patch size (518 -> 512 for patch 16). Resolved to its canonical form (a square pair becomes a
   * number), so square configurations are saved as before; read it with `imageHW`.
   */
  imageSize: ImageSize;
  modules: ModuleSwitches;
  /** HGM settings; `dim` is always D. Default groups [16, 8, 4, 2]. */
  hgm: Omit<HierarchicalGroupMergingConfig, 'dim'>;
  /** Group-Gated Token Refiner (GGTR) settings; `dim` is always D. */
  refiner: Omit<GroupGatedTokenRefinerConfig, 'dim'>;
  /** Dynamic State Prompt settings (E = 12, deep tokens depth 9 length 4 by default). */
  dsp: DynamicStatePromptConfig;
  /** Static prompts (AnomalyCLIP's prompt learner) used when DSP is off. */
  staticPrompts: AnomalyClipPromptConfig;
  /** Softmax temperature of maps and score (0.07). */
  temperature: number;
  /**
   * Where the bilinear upsampling of each map sits: 'logits' (the method: softmax(Up(cos)/tau)) or
   * 'probabilities' (AnomalyCLIP: Up(softmax(cos/tau))).
   */
  mapUpsampling: 'logits' | 'probabilities';
  /** How the per-map anomaly maps combine: 'mean' (the method) or 'sum' (AnomalyCLIP's test.py). */
  mapReduction: 'mean' | 'sum';
  /** Gaussian blur at test time (scipy `gaussian_filter`, mode reflect). sigma 0 turns it off. */
  blur: { sigma: number; truncate: number };
  scoreFusion: ScoreFusionConfig;
  loss: LossConfig;
  /** Seed of the learnable parts' initialisation. Default 111. */
  seed: number;
}

/** A partial config: every nested part may be partial. */
export interface DualAnchorConfigInput {
  name?: string;
  backbone?:
    | { kind: 'clip'; vvAttentionBlocks?: number; globalToken?: 'ln-post' | 'no-ln-post' }
    | { kind: 'dinov3'; config?: Partial<Dinov3Config> }
    | { kind: 'dinov2'; config?: Partial<Dinov2Config> };
  clip?: ClipConfig;
  layers?: number[];
  imageSize?: ImageSize;
  modules?: Partial<ModuleSwitches>;
  hgm?: Partial<Omit<HierarchicalGroupMergingConfig, 'dim'>>;
  refiner?: Partial<Omit<GroupGatedTokenRefinerConfig, 'dim'>>;
  dsp?: Partial<DynamicStatePromptConfig>;
  staticPrompts?: Partial<AnomalyClipPromptConfig>;
  temperature?: number;
  mapUpsampling?: 'logits' | 'probabilities';
  mapReduction?: 'mean' | 'sum';
  blur?: Partial<DualAnchorConfig['blur']>;
  scoreFusion?: Partial<ScoreFusionConfig>;
  loss?: Partial<LossConfig>;
  seed?: number;
}

export const DEFAULT_LOSS_CONFIG: Readonly<LossConfig> = Object.freeze({
  image: 1,
  maps: 1,
  orthogonality: 1,
  alignment: 1,
  maskDownsampling: 'area',
  focalGamma: 2,
});

/**
 * The paper's configuration: DINOv3 ViT-L/16 (frozen) + CLIP ViT-L/14@336px text tower (frozen), tapped
 * blocks {6, 12, 18, 24} (1-based) = [5, 11, 17, 23], groups [16, 8, 4, 2], E = 12, input 512 (518 is not
 * a multiple of 16; 512 is the nearest multiple).
 */
export const PAPER_CONFIG: DualAnchorConfigInput = Object.freeze({
  name: 'dual-anchor DINOv3 ViT-L/16 + CLIP-L text',
  backbone: { kind: 'dinov3' },
  clip: CLIP_VIT_L_14_336,
  layers: [5, 11, 17, 23],
  imageSize: 512,
  hgm: { groupsPerLevel: [16, 8, 4, 2] },
}) as DualAnchorConfigInput;

/**
 * A tiny configuration for tests and the offline demo: a 4-block DINOv3-style backbone of width 32 (patch
 * 8, 32 x 32 inputs, grid 4 x 4) and a 3-block CLIP text tower of width 32 (D = 16), groups [8, 4, 2] on
 * blocks [1, 2, 3], E = 4, deep tokens depth 3 length 2. Trains in seconds on a CPU.
 */
export const TINY_CONFIG: DualAnchorConfigInput = Object.freeze({
  name: 'dual-anchor tiny',
  backbone: {
    kind: 'dinov3',
    config: { imgSize: 32, patchSize: 8, embedDim: 32, depth: 4, numHeads: 2, numStorageTokens: 1, preprocess: { size: 32 } as never },
  },
  clip: resolveClipConfig(
    {
      name: 'tiny',
      embedDim: 16,
      vision: { imageSize: 32, patchSize: 8, width: 32, layers: 2, heads: 2 },
      text: { width: 32, heads: 2, layers: 3 },
      preprocess: { size: 32 },
    },
    'ViT-B/16',
  ),
  layers: [1, 2, 3],
  imageSize: 32,
  hgm: { groupsPerLevel: [8, 4, 2], numHeads: 2 },
  dsp: { contextTokens: 4, deepPromptDepth: 3, deepPromptLength: 2 },
  staticPrompts: { contextTokens: 4, deepPromptDepth: 3, deepPromptLength: 2 },
}) as DualAnchorConfigInput;

/**
 * The AnomalyCLIP baseline in this framework: CLIP backbone with V-V attention, static learnable prompts
 * with deep text tokens, no HGM / GGTR / DSP, maps upsampled after the softmax and summed (test.py), t_cls
 * without `ln_post`. Defaults: ViT-L/14@336px, `DPAM_layer` 20 (19 V-V blocks), features_list
 * {6, 12, 18, 24}, 518 px, n_ctx 12, depth 9, length 4.
 */
export function anomalyClipConfig(overrides: DualAnchorConfigInput = {}): DualAnchorConfigInput {
  return {
    name: 'AnomalyCLIP',
    backbone: { kind: 'clip', vvAttentionBlocks: 19, globalToken: 'no-ln-post' },
    clip: CLIP_VIT_L_14_336,
    layers: [5, 11, 17, 23],
    imageSize: 518,
    mapUpsampling: 'probabilities',
    mapReduction: 'sum',
    ...overrides,
    modules: { hgm: false, refiner: false, dsp: false, ...overrides.modules },
  };
}

/** Patch size of the configured backbone. */
export function backbonePatchSize(c: Pick<DualAnchorConfig, 'backbone' | 'clip'>): number {
  return c.backbone.kind === 'clip' ? c.clip.vision.patchSize : c.backbone.config.patchSize;
}

/** Number of blocks of the configured backbone. */
export function backboneDepth(c: Pick<DualAnchorConfig, 'backbone' | 'clip'>): number {
  return c.backbone.kind === 'clip' ? c.clip.vision.layers : c.backbone.config.depth;
}

/**
 * A configuration written under earlier field names, in today's names: `ggtr` and `modules.ggtr` (the
 * Group-Gated Token Refiner) are `refiner` and `modules.refiner`. Checkpoints keep the configuration they
 * were saved with, so {@link resolveConfig} and checkpoint loading read old ones through this. A
 * configuration that gives both names for one field is refused.
 */
export function migrateConfigInput<T extends DualAnchorConfigInput | DualAnchorConfig>(input: T): T {
  const legacy = input as T & { ggtr?: unknown; modules?: { ggtr?: unknown } };
  if (legacy.ggtr === undefined && legacy.modules?.ggtr === undefined) return input;
  if (legacy.ggtr !== undefined && input.refiner !== undefined)
    throw new ConfigError("Dual-Anchor config: give refiner (today's name) or ggtr (its earlier name), not both");
  if (legacy.modules?.ggtr !== undefined && input.modules?.refiner !== undefined)
    throw new ConfigError('Dual-Anchor config: give modules.refiner or modules.ggtr (its earlier name), not both');
  const { ggtr, modules, ...rest } = legacy;
  const out: Record<string, unknown> = { ...rest };
  if (ggtr !== undefined) out['refiner'] = ggtr;
  if (modules !== undefined) {
    const { ggtr: on, ...otherModules } = modules as Record<string, unknown>;
    out['modules'] = on === undefined ? modules : { ...otherModules, refiner: on };
  }
  return out as T;
}

/**
 * Fills every default and validates the whole configuration, explaining each problem (all of them at
 * once): field, what was expected, what was found.
 */
export function resolveConfig(given: DualAnchorConfigInput = {}): DualAnchorConfig {
  const input = migrateConfigInput(given);
  const problems: string[] = [];
  const attempt = <T>(label: string, fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (e) {
      problems.push(`${label}: ${(e as Error).message}`);
      return fallback;
    }
  };
  const clip = input.clip ?? CLIP_VIT_L_14_336;
  attempt('clip', () => validateClipConfig(clip), undefined);
  const b = input.backbone ?? { kind: 'dinov3' as const };
  let backbone: BackboneConfig;
  if (b.kind === 'clip') {
    backbone = { kind: 'clip', vvAttentionBlocks: b.vvAttentionBlocks ?? 0, globalToken: b.globalToken ?? 'ln-post' };
    if (!Number.isInteger(backbone.vvAttentionBlocks) || backbone.vvAttentionBlocks < 0 || backbone.vvAttentionBlocks > clip.vision.layers) {
      problems.push(`backbone.vvAttentionBlocks: expected an integer in [0, ${clip.vision.layers}], found ${b.vvAttentionBlocks}`);
    }
    if (backbone.globalToken !== 'ln-post' && backbone.globalToken !== 'no-ln-post')
      problems.push(`backbone.globalToken: expected 'ln-post' or 'no-ln-post', found ${JSON.stringify(backbone.globalToken)}`);
  } else if (b.kind === 'dinov3') {
    backbone = { kind: 'dinov3', config: attempt('backbone.config', () => resolveDinov3Config(b.config ?? {}), resolveDinov3Config()) };
  } else if (b.kind === 'dinov2') {
    backbone = { kind: 'dinov2', config: attempt('backbone.config', () => resolveDinov2Config(b.config ?? {}), resolveDinov2Config()) };
  } else {
    problems.push(`backbone.kind: expected 'clip', 'dinov3' or 'dinov2', found ${JSON.stringify((b as { kind: unknown }).kind)}`);
    backbone = { kind: 'dinov3', config: resolveDinov3Config() };
  }
  const d = clip.embedDim;
  const depth = backboneDepth({ backbone, clip });
  const patch = backbonePatchSize({ backbone, clip });
  const layers = [...(input.layers ?? [depth / 4 - 1, depth / 2 - 1, (3 * depth) / 4 - 1, depth - 1].map(Math.round))];
  if (layers.length === 0) problems.push('layers: expected at least one tapped block, found none');
  layers.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= depth) problems.push(`layers[${i}]: expected a 0-based block index in [0, ${depth - 1}], found ${l}`);
  });
  if (new Set(layers).size !== layers.length) problems.push(`layers: expected distinct blocks, found ${JSON.stringify(layers)}`);
  const requestedSize: ImageSize = input.imageSize ?? (backbone.kind === 'clip' ? clip.vision.imageSize : backbone.config.preprocess.size);
  const sizeProblems = imageSizeProblems('imageSize', requestedSize, patch);
  problems.push(...sizeProblems);
  const imageSize = sizeProblems.length === 0 ? canonicalImageSize(requestedSize) : requestedSize;
  const modules: ModuleSwitches = { hgm: true, refiner: true, dsp: true, ...input.modules };
  const hgmFull = attempt('hgm', () => resolveHierarchicalGroupMergingConfig({ ...input.hgm, dim: d }), null);
  if (hgmFull && modules.hgm && hgmFull.groupsPerLevel.length !== layers.length) {
    problems.push(
      `hgm.groupsPerLevel: expected one level per tapped layer (${layers.length}: ${JSON.stringify(layers)}), found ${JSON.stringify(hgmFull.groupsPerLevel)}`,
    );
  }
  const { dim: _hd, ...hgm } = hgmFull ?? { ...resolveHierarchicalGroupMergingConfig({ dim: 8, numHeads: 1 }) };
  const refinerFull = attempt(
    'refiner',
    () => resolveGroupGatedTokenRefinerConfig({ ...input.refiner, dim: d }),
    resolveGroupGatedTokenRefinerConfig({ dim: d > 0 ? d : 1 }),
  );
  const { dim: _gd, ...refiner } = refinerFull;
  const dsp = attempt('dsp', () => resolveDynamicStatePromptConfig(input.dsp), resolveDynamicStatePromptConfig());
  const staticPrompts = attempt('staticPrompts', () => resolveAnomalyClipPromptConfig(input.staticPrompts), resolveAnomalyClipPromptConfig());
  const textLayers = clip.text.layers;
  if (modules.dsp && dsp.deepPromptDepth - 1 > textLayers - 1)
    problems.push(`dsp.deepPromptDepth: at most ${textLayers} for a ${textLayers}-block text tower, found ${dsp.deepPromptDepth}`);
  if (!modules.dsp && staticPrompts.deepPromptDepth - 1 > textLayers - 1)
    problems.push(`staticPrompts.deepPromptDepth: at most ${textLayers} for a ${textLayers}-block text tower, found ${staticPrompts.deepPromptDepth}`);
  const temperature = input.temperature ?? 0.07;
  if (!(temperature > 0)) problems.push(`temperature: expected > 0, found ${temperature}`);
  const mapUpsampling = input.mapUpsampling ?? 'logits';
  if (mapUpsampling !== 'logits' && mapUpsampling !== 'probabilities')
    problems.push(`mapUpsampling: expected 'logits' or 'probabilities', found ${JSON.stringify(mapUpsampling)}`);
  const mapReduction = input.mapReduction ?? 'mean';
  if (mapReduction !== 'mean' && mapReduction !== 'sum') problems.push(`mapReduction: expected 'mean' or 'sum', found ${JSON.stringify(mapReduction)}`);
  const blur = { sigma: 4, truncate: 4, ...input.blur };
  if (!(blur.sigma >= 0)) problems.push(`blur.sigma: expected >= 0 (0 = off), found ${blur.sigma}`);
  if (!(blur.truncate > 0)) problems.push(`blur.truncate: expected > 0, found ${blur.truncate}`);
  const scoreFusion: ScoreFusionConfig = { mode: 'none', topKFraction: 0.01, weight: 0.5, ...input.scoreFusion };
  if (!['none', 'max', 'top-k-mean'].includes(scoreFusion.mode))
    problems.push(`scoreFusion.mode: expected 'none', 'max' or 'top-k-mean', found ${JSON.stringify(scoreFusion.mode)}`);
  if (!(scoreFusion.topKFraction > 0 && scoreFusion.topKFraction <= 1))
    problems.push(`scoreFusion.topKFraction: expected in (0, 1], found ${scoreFusion.topKFraction}`);
  if (!(scoreFusion.weight >= 0 && scoreFusion.weight <= 1)) problems.push(`scoreFusion.weight: expected in [0, 1], found ${scoreFusion.weight}`);
  const loss: LossConfig = { ...DEFAULT_LOSS_CONFIG, ...input.loss };
  for (const k of ['image', 'maps', 'orthogonality', 'alignment', 'focalGamma'] as const) {
    if (!(loss[k] >= 0)) problems.push(`loss.${k}: expected a number >= 0, found ${loss[k]}`);
  }
  if (!MASK_DOWNSAMPLINGS.includes(loss.maskDownsampling))
    problems.push(`loss.maskDownsampling: expected one of ${MASK_DOWNSAMPLINGS.join(', ')}, found ${JSON.stringify(loss.maskDownsampling)}`);
  const seed = input.seed ?? 111;
  if (!Number.isInteger(seed)) problems.push(`seed: expected an integer, found ${seed}`);
  if (problems.length > 0) throw new ConfigError(`Dual-Anchor config${input.name ? ` ${JSON.stringify(input.name)}` : ''}: ${problems.join('; ')}`);
  return {
    name: input.name ?? 'dual-anchor',
    backbone,
    clip,
    layers,
    imageSize,
    modules,
    hgm,
    refiner,
    dsp,
    staticPrompts,
    temperature,
    mapUpsampling,
    mapReduction,
    blur,
    scoreFusion,
    loss,
    seed,
  };
}

/** Whether the configuration holds image anchors G_N / G_A (from HGM, or learned tokens for DSP / GGTR without HGM). */
export function usesAnchors(c: DualAnchorConfig): boolean {
  return c.modules.hgm || c.modules.dsp || c.modules.refiner;
}

/** Paths where two configurations differ (`a.b: x vs y`), for checkpoint checks. */
export function configDifferences(expected: unknown, found: unknown, path = ''): string[] {
  if (JSON.stringify(expected) === JSON.stringify(found)) return [];
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(expected) && isObj(found)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(found)])].sort();
    return keys.flatMap((k) => configDifferences(expected[k], found[k], path ? `${path}.${k}` : k));
  }
  return [`${path || '(root)'}: model ${JSON.stringify(expected)}, checkpoint ${JSON.stringify(found)}`];
}
