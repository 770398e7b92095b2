import type { PreprocessConfig } from '../encoder';
import { ConfigError } from '@hgm/tensor';

/** Vision tower of an OpenAI CLIP ViT (`clip/model.py:VisionTransformer`). */
export interface ClipVisionConfig {
  /** Side of the square input the positional table was trained for (224, 336). */
  imageSize: number;
  /** Patch side p of `visual.conv1` (kernel = stride = p, no bias). */
  patchSize: number;
  /** Token width W. */
  width: number;
  /** Number of residual blocks. */
  layers: number;
  /** Attention heads (openai's rule is `width / 64`). */
  heads: number;
}

/** Text tower of an OpenAI CLIP (`clip/model.py:CLIP.transformer`, causal). */
export interface ClipTextConfig {
  /** Token positions (77). */
  contextLength: number;
  /** Vocabulary size (49408 for the BPE tokenizer). */
  vocabSize: number;
  /** Token width Dt. */
  width: number;
  heads: number;
  layers: number;
}

/** A complete CLIP architecture, with the preprocessing its weights expect. */
export interface ClipConfig {
  /** Label for messages ("ViT-L/14@336px", or "custom"). */
  name: string;
  /** Width E of the joint embedding (`visual.proj` and `text_projection` output). */
  embedDim: number;
  vision: ClipVisionConfig;
  text: ClipTextConfig;
  /** LayerNorm epsilon (torch default 1e-5). */
  layerNormEps: number;
  /** How images are prepared for this model. */
  preprocess: PreprocessConfig;
}

/** CLIP's RGB normalisation (`clip/clip.py:_transform`). */
export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Size of CLIP's BPE vocabulary (its last two ids are the start and end tokens). */
export const CLIP_VOCAB_SIZE = 49408;
export const CLIP_CONTEXT_LENGTH = 77;

/** Preprocessing of openai CLIP at a given size: bicubic shortest-side resize, centre crop, CLIP mean/std. */
export function clipPreprocess(size: number): PreprocessConfig {
  return { size, mean: [...CLIP_MEAN], std: [...CLIP_STD], interpolation: 'bicubic', resize: 'shortest-side-then-center-crop' };
}

/** openai ViT-B/16. */
export const CLIP_VIT_B_16: ClipConfig = {
  name: 'ViT-B/16',
  embedDim: 512,
  vision: { imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12 },
  text: { contextLength: CLIP_CONTEXT_LENGTH, vocabSize: CLIP_VOCAB_SIZE, width: 512, heads: 8, layers: 12 },
  layerNormEps: 1e-5,
  preprocess: clipPreprocess(224),
};

/** openai ViT-L/14. */
export const CLIP_VIT_L_14: ClipConfig = {
  name: 'ViT-L/14',
  embedDim: 768,
  vision: { imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16 },
  text: { contextLength: CLIP_CONTEXT_LENGTH, vocabSize: CLIP_VOCAB_SIZE, width: 768, heads: 12, layers: 12 },
  layerNormEps: 1e-5,
  preprocess: clipPreprocess(224),
};

/** openai ViT-L/14@336px (the backbone AnomalyCLIP runs at 518 px, grid 37). */
export const CLIP_VIT_L_14_336: ClipConfig = {
  ...CLIP_VIT_L_14,
  name: 'ViT-L/14@336px',
  vision: { ...CLIP_VIT_L_14.vision, imageSize: 336 },
  preprocess: clipPreprocess(336),
};

/** The known architectures by their openai names. */
export const CLIP_CONFIGS = {
  'ViT-B/16': CLIP_VIT_B_16,
  'ViT-L/14': CLIP_VIT_L_14,
  'ViT-L/14@336px': CLIP_VIT_L_14_336,
} as const satisfies Record<string, ClipConfig>;

export type ClipModelName = keyof typeof CLIP_CONFIGS;

/** Overrides of a config: any field, nested objects partially. */
export interface ClipConfigOverrides {
  name?: string;
  embedDim?: number;
  vision?: Partial<ClipVisionConfig>;
  text?: Partial<ClipTextConfig>;
  layerNormEps?: number;
  preprocess?: Partial<PreprocessConfig>;
}

/**
 * Builds a validated config from a base architecture (a name or a config; default ViT-L/14@336px) and
 * overrides. Throws naming every invalid field.
 */
export function resolveClipConfig(overrides: ClipConfigOverrides = {}, base: ClipModelName | ClipConfig = 'ViT-L/14@336px'): ClipConfig {
  const b: ClipConfig = typeof base === 'string' ? CLIP_CONFIGS[base] : base;
  if (!b) throw new ConfigError(`resolveClipConfig: unknown base architecture ${JSON.stringify(base)} (known: ${Object.keys(CLIP_CONFIGS).join(', ')})`);
  const cfg: ClipConfig = {
    name: overrides.name ?? (Object.keys(overrides).length === 0 ? b.name : `${b.name} (modified)`),
    embedDim: overrides.embedDim ?? b.embedDim,
    vision: { ...b.vision, ...overrides.vision },
    text: { ...b.text, ...overrides.text },
    layerNormEps: overrides.layerNormEps ?? b.layerNormEps,
    preprocess: { ...b.preprocess, ...overrides.preprocess } as PreprocessConfig,
  };
  validateClipConfig(cfg);
  return cfg;
}

/** Throws listing every invalid field of a config. */
export function validateClipConfig(cfg: ClipConfig): void {
  const problems: string[] = [];
  const positiveInt = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) problems.push(`${name} must be a positive integer, found ${JSON.stringify(v)}`);
  };
  positiveInt('embedDim', cfg.embedDim);
  for (const k of ['imageSize', 'patchSize', 'width', 'layers', 'heads'] as const) positiveInt(`vision.${k}`, cfg.vision[k]);
  for (const k of ['contextLength', 'vocabSize', 'width', 'heads', 'layers'] as const) positiveInt(`text.${k}`, cfg.text[k]);
  if (cfg.vision.width % cfg.vision.heads !== 0) problems.push(`vision.width ${cfg.vision.width} is not divisible by vision.heads ${cfg.vision.heads}`);
  if (cfg.text.width % cfg.text.heads !== 0) problems.push(`text.width ${cfg.text.width} is not divisible by text.heads ${cfg.text.heads}`);
  if (cfg.vision.imageSize % cfg.vision.patchSize !== 0)
    problems.push(`vision.imageSize ${cfg.vision.imageSize} is not a multiple of vision.patchSize ${cfg.vision.patchSize}`);
  if (!(cfg.layerNormEps > 0)) problems.push(`layerNormEps must be > 0, found ${cfg.layerNormEps}`);
  if (typeof cfg.preprocess.size === 'number') positiveInt('preprocess.size', cfg.preprocess.size);
  else if (Array.isArray(cfg.preprocess.size) && cfg.preprocess.size.length === 2)
    cfg.preprocess.size.forEach((v, i) => positiveInt(`preprocess.size[${i}]`, v));
  else problems.push(`preprocess.size must be a positive integer or [height, width], found ${JSON.stringify(cfg.preprocess.size)}`);
  if (!Array.isArray(cfg.preprocess.mean) || cfg.preprocess.mean.length !== 3) problems.push(`preprocess.mean must hold 3 numbers`);
  if (!Array.isArray(cfg.preprocess.std) || cfg.preprocess.std.length !== 3 || cfg.preprocess.std.some((s) => !(s > 0)))
    problems.push(`preprocess.std must hold 3 positive numbers`);
  if (problems.length > 0) throw new ConfigError(`CLIP config ${cfg.name}: ${problems.join('; ')}`);
}

/** The constructor arguments of `clip/model.py:CLIP` (as stored in a fixture's `config.json`). */
export interface OpenaiClipConstructorArgs {
  embed_dim: number;
  image_resolution: number;
  vision_layers: number;
  vision_width: number;
  vision_patch_size: number;
  context_length: number;
  vocab_size: number;
  transformer_width: number;
  transformer_heads: number;
  transformer_layers: number;
}

/**
 * A config from openai's constructor arguments. The vision heads follow openai's rule `vision_width / 64`
 * unless given; the text heads are an argument of the constructor.
 */
export function clipConfigFromConstructorArgs(args: OpenaiClipConstructorArgs, options: { name?: string; visionHeads?: number } = {}): ClipConfig {
  const missing = (
    [
      'embed_dim',
      'image_resolution',
      'vision_layers',
      'vision_width',
      'vision_patch_size',
      'context_length',
      'vocab_size',
      'transformer_width',
      'transformer_heads',
      'transformer_layers',
    ] as const
  ).filter((k) => typeof args[k] !== 'number');
  if (missing.length > 0)
    throw new ConfigError(`CLIP constructor arguments: ${missing.join(', ')} must be numbers (vision_layers as a list means a ResNet, which is not supported)`);
  const visionHeads = options.visionHeads ?? Math.floor(args.vision_width / 64);
  return resolveClipConfig(
    {
      name: options.name ?? 'custom',
      embedDim: args.embed_dim,
      vision: { imageSize: args.image_resolution, patchSize: args.vision_patch_size, width: args.vision_width, layers: args.vision_layers, heads: visionHeads },
      text: {
        contextLength: args.context_length,
        vocabSize: args.vocab_size,
        width: args.transformer_width,
        heads: args.transformer_heads,
        layers: args.transformer_layers,
      },
      preprocess: { size: args.image_resolution },
    },
    CLIP_VIT_B_16,
  );
}
