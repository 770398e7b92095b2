import type { PreprocessConfig } from '../encoder';
import { ConfigError } from '@hgm/tensor';
import { checkVitShape, readReferenceArgs, type VitShape } from './reference-args';

/**
 * Architecture of a DINOv2 ViT (`dinov2/models/vision_transformer.py::DinoVisionTransformer`), eval mode.
 * Field names follow the reference's constructor arguments in camelCase.
 */
/** The shared ViT fields ({@link VitShape}) and the Dinov2 ones. */
export interface Dinov2Config extends VitShape {
  /** Training image side: the learned pos-embed covers an (imgSize / patchSize)^2 grid. */
  imgSize: number;
  /** MLP hidden width = embedDim * mlpRatio. */
  mlpRatio: number;
  /** Register tokens inserted between CLS and the patches (`register_tokens`). */
  numRegisterTokens: number;
  /** LayerScale after attention and MLP (`init_values` not None: keys `ls1.gamma`, `ls2.gamma`). */
  layerScale: boolean;
  qkvBias: boolean;
  projBias: boolean;
  ffnBias: boolean;
  /** Only the plain MLP (`ffn_layer="mlp"`) is implemented; ViT-g's SwiGLU is not. */
  ffnLayer: 'mlp';
  /** `interpolate_antialias`: antialiased bicubic resize of the pos-embed grid. */
  interpolateAntialias: boolean;
  /**
   * `interpolate_offset`: 0 resizes with `size=(H/p, W/p)`; a non-zero value uses the historical
   * `scale_factor=((H/p + offset) / M, (W/p + offset) / M)`, which changes the sampling positions too.
   */
  interpolateOffset: number;
  /** LayerNorm epsilon (the reference fixes 1e-6). */
  layerNormEps: number;
  preprocess: PreprocessConfig;
}

/** ImageNet statistics, used by DINOv2 and by DINOv3's web-image (LVD-1689M) weights. */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * DINOv2's evaluation preprocessing at a crop size: bicubic resize of the shorter side to `size / 0.875`
 * (256 for 224), centre crop, ImageNet statistics (`dinov2/data/transforms.py`
 * `make_classification_eval_transform`: `Resize(256, BICUBIC)`, `CenterCrop(224)`).
 */
export function dinov2Preprocess(size: number): PreprocessConfig {
  return {
    size,
    resizeSize: Math.round(size / DINOV2_CROP_FRACTION),
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    interpolation: 'bicubic',
    resize: 'shortest-side-then-center-crop',
  };
}

/** Crop fraction of DINOv2's evaluation transform (224 / 256). */
export const DINOV2_CROP_FRACTION = 0.875;

/**
 * DINOv2's reference evaluation preprocessing: shorter side to 256, centre crop 224. (The released
 * ViT-L/14 pos-embed is for 518 px, 37 x 37 patches; it is interpolated to the 16 x 16 grid of 224 px.)
 */
export const DINOV2_PREPROCESS: PreprocessConfig = dinov2Preprocess(224);

/** `dinov2_vitl14_reg` (hub): ViT-L/14 with 4 registers, 518 px, antialiased pos-embed resize. */
export const DINOV2_VITL14_REG: Dinov2Config = {
  imgSize: 518,
  patchSize: 14,
  inChans: 3,
  embedDim: 1024,
  depth: 24,
  numHeads: 16,
  mlpRatio: 4,
  numRegisterTokens: 4,
  layerScale: true,
  qkvBias: true,
  projBias: true,
  ffnBias: true,
  ffnLayer: 'mlp',
  interpolateAntialias: true,
  interpolateOffset: 0,
  layerNormEps: 1e-6,
  preprocess: DINOV2_PREPROCESS,
};

/** The defaults every partial config is completed with. */
export const DEFAULT_DINOV2_CONFIG: Dinov2Config = DINOV2_VITL14_REG;

/**
 * Completes a partial config with {@link DEFAULT_DINOV2_CONFIG} and validates it.
 * @throws naming the field, what was expected and what was found
 */
export function resolveDinov2Config(partial: Partial<Dinov2Config> = {}): Dinov2Config {
  const who = 'dinov2 config';
  const c: Dinov2Config = { ...DEFAULT_DINOV2_CONFIG, ...partial, preprocess: { ...DEFAULT_DINOV2_CONFIG.preprocess, ...partial.preprocess } };
  checkVitShape(c, who);
  if (!Number.isInteger(c.numRegisterTokens) || c.numRegisterTokens < 0)
    throw new ConfigError(`${who}: numRegisterTokens must be an integer >= 0, found ${c.numRegisterTokens}`);
  if (c.imgSize % c.patchSize !== 0) throw new ConfigError(`${who}: imgSize ${c.imgSize} is not a multiple of patchSize ${c.patchSize}`);
  if (!(c.mlpRatio > 0) || !Number.isInteger(c.embedDim * c.mlpRatio))
    throw new ConfigError(`${who}: mlpRatio must give an integer hidden width, found ${c.mlpRatio} (x ${c.embedDim})`);
  if (!(c.interpolateOffset >= 0) || !(c.interpolateOffset < 1))
    throw new ConfigError(`${who}: interpolateOffset must be in [0, 1), found ${c.interpolateOffset}`);
  return c;
}

/** The reference constructor's own defaults (used for arguments a description leaves out). */
const REFERENCE_DEFAULTS: Record<string, unknown> = {
  img_size: 224,
  patch_size: 16,
  in_chans: 3,
  embed_dim: 768,
  depth: 12,
  num_heads: 12,
  mlp_ratio: 4.0,
  qkv_bias: true,
  ffn_bias: true,
  proj_bias: true,
  init_values: null,
  ffn_layer: 'mlp',
  num_register_tokens: 0,
  interpolate_antialias: false,
  interpolate_offset: 0.1,
};

/**
 * Maps the reference's constructor arguments (snake_case, e.g. a fixture's `config.json` `constructor`) to a
 * config; absent arguments take the reference constructor's defaults. Unsupported values (SwiGLU) throw.
 */
export function dinov2ConfigFromReference(args: Record<string, unknown>, preprocess?: Partial<PreprocessConfig>): Dinov2Config {
  const { all, num, bool } = readReferenceArgs('dinov2 reference constructor', REFERENCE_DEFAULTS, args);
  const imgSize = num('img_size');
  return resolveDinov2Config({
    imgSize,
    patchSize: num('patch_size'),
    inChans: num('in_chans'),
    embedDim: num('embed_dim'),
    depth: num('depth'),
    numHeads: num('num_heads'),
    mlpRatio: num('mlp_ratio'),
    numRegisterTokens: num('num_register_tokens'),
    // init_values=None means no LayerScale (and no ls*.gamma keys).
    layerScale: all.init_values !== null && all.init_values !== undefined,
    qkvBias: bool('qkv_bias'),
    projBias: bool('proj_bias'),
    ffnBias: bool('ffn_bias'),
    ffnLayer: 'mlp',
    interpolateAntialias: bool('interpolate_antialias'),
    interpolateOffset: all.interpolate_offset === null ? 0 : num('interpolate_offset'),
    layerNormEps: 1e-6,
    preprocess: { ...dinov2Preprocess(imgSize), ...preprocess },
  });
}
