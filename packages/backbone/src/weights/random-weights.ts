/**
 * Seeded random frozen weights of a real checkpoint's key names and shapes, by parameter name: norm weights
 * 1 + 0.1 N(0, 1), biases 0.05 N(0, 1), LayerScale 0.5, matrices N(0, 1/fan_in), embeddings 0.5 N(0, 1) (token
 * table 0.5, text positions 0.2), CLIP's `logit_scale` log(1/0.07), and the DINO buffers (`rope_embed.periods`,
 * `attn.qkv.bias_mask`) computed as their checkpoints hold them. For tests, benchmarks and dry runs of every
 * code path of a real run on a machine with no download: such weights detect nothing.
 */
import type { Rng } from '@hgm/tensor';
import { InputNotFoundError } from '@hgm/tensor';
import { ropePeriods } from '../dino/rope';
import type { Dinov2Config } from '../dino/dinov2-config';
import { DINOV2_VITL14_REG } from '../dino/dinov2-config';
import type { Dinov3Config } from '../dino/dinov3-config';
import { DINOV3_VITL16 } from '../dino/dinov3-config';
import { dinov2StateDictKeys, dinov3StateDictKeys } from '../dino/state-dict-keys';
import { CLIP_VIT_B_16, CLIP_VIT_L_14, CLIP_VIT_L_14_336, type ClipConfig } from '../clip/config';
import { clipParameterShapes } from '../clip/parameters';
import type { KeyFormat } from './key-formats';

/** The value of one frozen parameter, by its name and shape (see the module comment). */
export function randomFrozenValue(name: string, shape: readonly number[], rng: Rng, dino?: Dinov3Config | Dinov2Config): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (name === 'rope_embed.periods') {
    const c = dino as Dinov3Config;
    const headDim = c.embedDim / c.numHeads;
    return ropePeriods(headDim, c.ropeBase !== null ? { base: c.ropeBase } : { minPeriod: c.ropeMinPeriod!, maxPeriod: c.ropeMaxPeriod! });
  }
  if (name.endsWith('attn.qkv.bias_mask')) {
    const d = size / 3;
    const value = new Float32Array(size).fill(1);
    return value.fill(0, d, 2 * d);
  }
  if (name === 'logit_scale') return Float32Array.of(Math.log(1 / 0.07));
  if (/\.gamma$/.test(name)) return new Float32Array(size).fill(0.5);
  if (/(^|\.)(ln_[a-z0-9]+|ln_final|norm\d?|[a-z_]*norm)\.weight$/.test(name)) return rng.normalArray(size, 1, 0.1);
  if (/bias$/.test(name)) return rng.normalArray(size, 0, 0.05);
  if (name === 'token_embedding.weight') return rng.normalArray(size, 0, 0.5);
  if (name === 'positional_embedding') return rng.normalArray(size, 0, 0.2);
  if (/(class_embedding|cls_token|mask_token|storage_tokens|register_tokens|pos_embed|positional_embedding)$/.test(name)) return rng.normalArray(size, 0, 0.5);
  if (name === 'visual.proj' || name === 'text_projection') return rng.normalArray(size, 0, 1 / Math.sqrt(shape[0]!));
  const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : shape[0]!;
  return rng.normalArray(size, 0, 1 / Math.sqrt(fanIn));
}

/** What a random-weights file of a catalogue entry holds: its tensors (in the release's own key names). */
export interface RandomWeightsPlan {
  /** The catalogue name. */
  name: string;
  family: 'clip' | 'dinov2' | 'dinov3';
  /** The key format written: the original release's (openai CLIP, the DINO repositories), which every loader reads. */
  keyFormat: KeyFormat;
  entries: { name: string; shape: number[] }[];
  /** The DINO configuration (for its buffers). */
  dino?: Dinov3Config | Dinov2Config;
}

const CLIP_CONFIGS: Record<string, ClipConfig> = {
  'clip-vit-l-14-336': CLIP_VIT_L_14_336,
  'clip-vit-l-14': CLIP_VIT_L_14,
  'clip-vit-b-16': CLIP_VIT_B_16,
};

/** The catalogue names {@link randomWeightsPlan} knows. */
export const RANDOM_WEIGHTS_NAMES = [...Object.keys(CLIP_CONFIGS), 'dinov2-vitl14-reg', 'dinov2-vitl14', 'dinov3-vitl16'] as const;

/**
 * The tensors of a random-weights file for a catalogue entry.
 * @throws InputNotFoundError naming the known entries
 */
export function randomWeightsPlan(name: string): RandomWeightsPlan {
  const clip = CLIP_CONFIGS[name];
  if (clip) return { name, family: 'clip', keyFormat: 'openai', entries: clipParameterShapes(clip, 'both').map(([n, shape]) => ({ name: n, shape })) };
  if (name === 'dinov3-vitl16')
    return { name, family: 'dinov3', keyFormat: 'dinov3', entries: dinov3StateDictKeys(DINOV3_VITL16).map((e) => ({ ...e })), dino: DINOV3_VITL16 };
  if (name === 'dinov2-vitl14-reg' || name === 'dinov2-vitl14') {
    const c: Dinov2Config = name === 'dinov2-vitl14' ? { ...DINOV2_VITL14_REG, numRegisterTokens: 0 } : DINOV2_VITL14_REG;
    return { name, family: 'dinov2', keyFormat: 'dinov2', entries: dinov2StateDictKeys(c).map((e) => ({ ...e })), dino: c };
  }
  throw new InputNotFoundError(name, `no random weights for ${JSON.stringify(name)}: known names are ${RANDOM_WEIGHTS_NAMES.join(', ')}`);
}

/** The safetensors metadata key that marks a file of random weights (its value: JSON of name and seed). */
export const RANDOM_WEIGHTS_METADATA_KEY = 'hgm.random-weights';
