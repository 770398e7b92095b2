import type { PreprocessConfig } from '../encoder';
import { checkVitShape, readReferenceArgs, type VitShape } from './reference-args';
import { IMAGENET_MEAN, IMAGENET_STD } from './dinov2-config';
import type { RopeNormalizeCoords } from './rope';
import { ConfigError } from '@hgm/tensor';

/**
 * Architecture of a DINOv3 ViT (`dinov3/models/vision_transformer.py::DinoVisionTransformer`), eval mode.
 * Field names follow the reference's constructor arguments in camelCase. Training-only RoPE augmentations
 * (`pos_embed_rope_shift_coords`, `_jitter_coords`, `_rescale_coords`) do nothing at eval and are not fields.
 */
/** The shared ViT fields ({@link VitShape}) and the Dinov3 ones. */
export interface Dinov3Config extends VitShape {
  /** Nominal training image side (no learned pos-embed: RoPE works at any grid). */
  imgSize: number;
  /** MLP hidden width = embedDim * ffnRatio. */
  ffnRatio: number;
  /** Storage (register) tokens between CLS and the patches. */
  numStorageTokens: number;
  /** LayerScale after attention and MLP (`layerscale_init` not None: keys `ls1.gamma`, `ls2.gamma`). */
  layerScale: boolean;
  qkvBias: boolean;
  projBias: boolean;
  ffnBias: boolean;
  /** `mask_k_bias`: qkv bias multiplied by the buffer `attn.qkv.bias_mask` (zero on the key part). */
  maskKBias: boolean;
  /** Only the plain MLP (`ffn_layer="mlp"`, ViT-S/B/L) is implemented; the SwiGLU variants are not. */
  ffnLayer: 'mlp';
  /** RoPE period spec: `base` (ViT-L: 100), or `minPeriod`/`maxPeriod` when base is null. */
  ropeBase: number | null;
  ropeMinPeriod: number | null;
  ropeMaxPeriod: number | null;
  ropeNormalizeCoords: RopeNormalizeCoords;
  /** LayerNorm epsilon: `layernormbf16` 1e-5, `layernorm` 1e-6. */
  layerNormEps: number;
  /** `untie_cls_and_patch_norms`: a separate `cls_norm` for CLS and storage tokens. */
  untieClsAndPatchNorms: boolean;
  /** `untie_global_and_local_cls_norm`: adds `local_cls_norm.*` (used only in training; loaded, never applied). */
  untieGlobalAndLocalClsNorm: boolean;
  preprocess: PreprocessConfig;
}

/**
 * DINOv3's reference preprocessing for the web-image (LVD-1689M) weights, as the official README's
 * `make_transform` and Hugging Face's `DINOv3ViTImageProcessor`: the whole image squashed to 224 x 224 with
 * bilinear resampling, ImageNet statistics. (The satellite SAT-493M weights use other statistics.) RoPE
 * accepts any multiple of 16, and the method's pipeline picks its own size (e.g. 512).
 */
export const DINOV3_PREPROCESS: PreprocessConfig = {
  size: 224,
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  interpolation: 'bilinear',
  resize: 'squash',
};

/** `dinov3_vitl16` (hub, LVD-1689M weights): ViT-L/16, 4 storage tokens, RoPE base 100, masked k-bias. */
export const DINOV3_VITL16: Dinov3Config = {
  imgSize: 224,
  patchSize: 16,
  inChans: 3,
  embedDim: 1024,
  depth: 24,
  numHeads: 16,
  ffnRatio: 4,
  numStorageTokens: 4,
  layerScale: true,
  qkvBias: true,
  projBias: true,
  ffnBias: true,
  maskKBias: true,
  ffnLayer: 'mlp',
  ropeBase: 100,
  ropeMinPeriod: null,
  ropeMaxPeriod: null,
  ropeNormalizeCoords: 'separate',
  layerNormEps: 1e-5,
  untieClsAndPatchNorms: false,
  untieGlobalAndLocalClsNorm: false,
  preprocess: DINOV3_PREPROCESS,
};

/** The defaults every partial config is completed with. */
export const DEFAULT_DINOV3_CONFIG: Dinov3Config = DINOV3_VITL16;

/**
 * Completes a partial config with {@link DEFAULT_DINOV3_CONFIG} and validates it.
 * @throws naming the field, what was expected and what was found
 */
export function resolveDinov3Config(partial: Partial<Dinov3Config> = {}): Dinov3Config {
  const who = 'dinov3 config';
  const c: Dinov3Config = { ...DEFAULT_DINOV3_CONFIG, ...partial, preprocess: { ...DEFAULT_DINOV3_CONFIG.preprocess, ...partial.preprocess } };
  checkVitShape(c, who);
  if (!Number.isInteger(c.numStorageTokens) || c.numStorageTokens < 0)
    throw new ConfigError(`${who}: numStorageTokens must be an integer >= 0, found ${c.numStorageTokens}`);
  const headDim = c.embedDim / c.numHeads;
  if (headDim % 4 !== 0) throw new ConfigError(`${who}: head dimension ${headDim} must be a multiple of 4 for 2-D RoPE`);
  if (!(c.ffnRatio > 0) || !Number.isInteger(c.embedDim * c.ffnRatio))
    throw new ConfigError(`${who}: ffnRatio must give an integer hidden width, found ${c.ffnRatio} (x ${c.embedDim})`);
  const hasBase = c.ropeBase !== null;
  const hasPeriods = c.ropeMinPeriod !== null && c.ropeMaxPeriod !== null;
  if (hasBase === hasPeriods) {
    throw new ConfigError(
      `${who}: give either ropeBase or both ropeMinPeriod and ropeMaxPeriod, found base ${c.ropeBase}, min ${c.ropeMinPeriod}, max ${c.ropeMaxPeriod}`,
    );
  }
  if (!['separate', 'max', 'min'].includes(c.ropeNormalizeCoords))
    throw new ConfigError(`${who}: ropeNormalizeCoords must be "separate", "max" or "min", found ${JSON.stringify(c.ropeNormalizeCoords)}`);
  if (c.maskKBias && !c.qkvBias) throw new ConfigError(`${who}: maskKBias needs qkvBias`);
  return c;
}

const REFERENCE_DEFAULTS: Record<string, unknown> = {
  img_size: 224,
  patch_size: 16,
  in_chans: 3,
  pos_embed_rope_base: 100.0,
  pos_embed_rope_min_period: null,
  pos_embed_rope_max_period: null,
  pos_embed_rope_normalize_coords: 'separate',
  embed_dim: 768,
  depth: 12,
  num_heads: 12,
  ffn_ratio: 4.0,
  qkv_bias: true,
  layerscale_init: null,
  norm_layer: 'layernorm',
  ffn_layer: 'mlp',
  ffn_bias: true,
  proj_bias: true,
  n_storage_tokens: 0,
  mask_k_bias: false,
  untie_cls_and_patch_norms: false,
  untie_global_and_local_cls_norm: false,
};

const NORM_EPS: Record<string, number> = { layernorm: 1e-6, layernormbf16: 1e-5 };

/**
 * Maps the reference's constructor arguments (snake_case, e.g. a fixture's `config.json` `constructor`) to a
 * config; absent arguments take the reference constructor's defaults. Unsupported values (SwiGLU, RMSNorm)
 * throw.
 */
export function dinov3ConfigFromReference(args: Record<string, unknown>, preprocess?: Partial<PreprocessConfig>): Dinov3Config {
  const who = 'dinov3 reference constructor';
  const { all, num, numOrNull, bool } = readReferenceArgs(who, REFERENCE_DEFAULTS, args);
  const eps = NORM_EPS[String(all.norm_layer)];
  if (eps === undefined) throw new ConfigError(`${who}: norm_layer ${JSON.stringify(all.norm_layer)} is not implemented (layernorm, layernormbf16)`);
  const imgSize = num('img_size');
  return resolveDinov3Config({
    imgSize,
    patchSize: num('patch_size'),
    inChans: num('in_chans'),
    embedDim: num('embed_dim'),
    depth: num('depth'),
    numHeads: num('num_heads'),
    ffnRatio: num('ffn_ratio'),
    numStorageTokens: num('n_storage_tokens'),
    layerScale: all.layerscale_init !== null && all.layerscale_init !== undefined,
    qkvBias: bool('qkv_bias'),
    projBias: bool('proj_bias'),
    ffnBias: bool('ffn_bias'),
    maskKBias: bool('mask_k_bias'),
    ffnLayer: 'mlp',
    ropeBase: numOrNull('pos_embed_rope_base'),
    ropeMinPeriod: numOrNull('pos_embed_rope_min_period'),
    ropeMaxPeriod: numOrNull('pos_embed_rope_max_period'),
    ropeNormalizeCoords: all.pos_embed_rope_normalize_coords as RopeNormalizeCoords,
    layerNormEps: eps,
    untieClsAndPatchNorms: bool('untie_cls_and_patch_norms'),
    untieGlobalAndLocalClsNorm: bool('untie_global_and_local_cls_norm'),
    preprocess: { ...DINOV3_PREPROCESS, size: imgSize, ...preprocess },
  });
}
