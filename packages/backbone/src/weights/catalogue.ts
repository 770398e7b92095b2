import type { PreprocessConfig } from '../encoder';
import { DINOV2_PREPROCESS } from '../dino/dinov2-config';
import { DINOV3_PREPROCESS } from '../dino/dinov3-config';
import type { KeyFormat, ModelFamily } from './key-formats';
import { InputNotFoundError } from '@hgm/tensor';

/** One file of a catalogued checkpoint. */
export interface WeightsFile {
  /** Path inside the Hugging Face repository (and inside the cache folder of the entry). */
  path: string;
  /** Size in bytes, where known (checked after a download). */
  sizeBytes?: number;
  /** Lower-case hex SHA-256, where known (checked after a download and by verify). Never guessed. */
  sha256?: string;
  /**
   * A file of the same tensors in another format, fetched where the repository lacks `path` (HTTP 404):
   * `pytorch_model.bin` for repositories that predate safetensors. Its size and checksum are not known.
   */
  fallback?: string;
}

/** Architecture facts a loader needs and a verifier can check against the file header. */
export interface WeightsArchitecture {
  /** Token width of the vision blocks. */
  width: number;
  /** Number of vision blocks. */
  layers: number;
  /** Attention heads of the vision blocks. */
  heads: number;
  patchSize: number;
  /** Side of the square input the positional table (or RoPE grid) was trained for. */
  imageSize: number;
  /** Register / storage tokens (DINO). */
  registerTokens?: number;
  /** Joint embedding width (CLIP). */
  embedDim?: number;
  /** RoPE base (dinov3). */
  ropeBase?: number;
}

/** A known checkpoint, described by data. */
export interface WeightsEntry {
  /** Short name used by the CLI (`hgm weights pull <name>`). */
  name: string;
  description: string;
  family: ModelFamily;
  /** Key format of the stored tensors. */
  keyFormat: KeyFormat;
  /** Hugging Face repository id (`owner/name`). */
  repo: string;
  /** Branch, tag or commit of the repository. */
  revision: string;
  files: WeightsFile[];
  architecture: WeightsArchitecture;
  /** Tensor shapes that the file header must show (checked by verify), in the stored key format. */
  expectShapes: Record<string, number[]>;
  preprocess: PreprocessConfig;
  /** True when the hub asks users to accept a licence first (a token is then needed to download). */
  gated?: boolean;
  license: string;
}

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** The weights the project knows how to fetch. Sizes and checksums are left out where not known. */
export const WEIGHTS_CATALOGUE: readonly WeightsEntry[] = [
  {
    name: 'clip-vit-l-14-336',
    description: 'openai CLIP ViT-L/14 at 336 px (the AnomalyCLIP backbone), Hugging Face transformers layout',
    family: 'clip',
    keyFormat: 'hf-clip',
    repo: 'openai/clip-vit-large-patch14-336',
    revision: 'main',
    files: [{ path: 'model.safetensors', fallback: 'pytorch_model.bin' }],
    architecture: { width: 1024, layers: 24, heads: 16, patchSize: 14, imageSize: 336, embedDim: 768 },
    expectShapes: {
      'vision_model.embeddings.patch_embedding.weight': [1024, 3, 14, 14],
      'vision_model.embeddings.position_embedding.weight': [577, 1024],
      'visual_projection.weight': [768, 1024],
      'text_model.embeddings.token_embedding.weight': [49408, 768],
      'text_projection.weight': [768, 768],
    },
    preprocess: { size: 336, mean: CLIP_MEAN, std: CLIP_STD, interpolation: 'bicubic', resize: 'shortest-side-then-center-crop' },
    license: 'MIT',
  },
  {
    name: 'clip-vit-l-14',
    description: 'openai CLIP ViT-L/14 at 224 px, Hugging Face transformers layout',
    family: 'clip',
    keyFormat: 'hf-clip',
    repo: 'openai/clip-vit-large-patch14',
    revision: 'main',
    files: [{ path: 'model.safetensors', fallback: 'pytorch_model.bin' }],
    architecture: { width: 1024, layers: 24, heads: 16, patchSize: 14, imageSize: 224, embedDim: 768 },
    expectShapes: {
      'vision_model.embeddings.position_embedding.weight': [257, 1024],
      'visual_projection.weight': [768, 1024],
      'text_model.embeddings.token_embedding.weight': [49408, 768],
    },
    preprocess: { size: 224, mean: CLIP_MEAN, std: CLIP_STD, interpolation: 'bicubic', resize: 'shortest-side-then-center-crop' },
    license: 'MIT',
  },
  {
    name: 'clip-vit-b-16',
    description: 'openai CLIP ViT-B/16 at 224 px, Hugging Face transformers layout',
    family: 'clip',
    keyFormat: 'hf-clip',
    repo: 'openai/clip-vit-base-patch16',
    revision: 'main',
    files: [{ path: 'model.safetensors', fallback: 'pytorch_model.bin' }],
    architecture: { width: 768, layers: 12, heads: 12, patchSize: 16, imageSize: 224, embedDim: 512 },
    expectShapes: {
      'vision_model.embeddings.position_embedding.weight': [197, 768],
      'visual_projection.weight': [512, 768],
      'text_model.embeddings.token_embedding.weight': [49408, 512],
    },
    preprocess: { size: 224, mean: CLIP_MEAN, std: CLIP_STD, interpolation: 'bicubic', resize: 'shortest-side-then-center-crop' },
    license: 'MIT',
  },
  {
    name: 'dinov2-vitl14-reg',
    description: 'DINOv2 ViT-L/14 with 4 registers, Hugging Face Dinov2WithRegistersModel layout',
    family: 'dinov2',
    keyFormat: 'hf-dinov2',
    repo: 'facebook/dinov2-with-registers-large',
    revision: 'main',
    files: [{ path: 'model.safetensors', fallback: 'pytorch_model.bin' }],
    architecture: { width: 1024, layers: 24, heads: 16, patchSize: 14, imageSize: 518, registerTokens: 4 },
    expectShapes: {
      'embeddings.patch_embeddings.projection.weight': [1024, 3, 14, 14],
      'embeddings.position_embeddings': [1, 1370, 1024],
      'embeddings.register_tokens': [1, 4, 1024],
      'encoder.layer.23.mlp.fc1.weight': [4096, 1024],
    },
    preprocess: DINOV2_PREPROCESS,
    license: 'Apache-2.0',
  },
  {
    name: 'dinov2-vitl14',
    description: 'DINOv2 ViT-L/14 without registers, Hugging Face Dinov2Model layout',
    family: 'dinov2',
    keyFormat: 'hf-dinov2',
    repo: 'facebook/dinov2-large',
    revision: 'main',
    files: [{ path: 'model.safetensors', fallback: 'pytorch_model.bin' }],
    architecture: { width: 1024, layers: 24, heads: 16, patchSize: 14, imageSize: 518, registerTokens: 0 },
    expectShapes: {
      'embeddings.patch_embeddings.projection.weight': [1024, 3, 14, 14],
      'embeddings.position_embeddings': [1, 1370, 1024],
    },
    preprocess: DINOV2_PREPROCESS,
    license: 'Apache-2.0',
  },
  {
    name: 'dinov3-vitl16',
    description: 'DINOv3 ViT-L/16 distilled (LVD-1689M), Hugging Face DINOv3ViTModel layout',
    family: 'dinov3',
    keyFormat: 'hf-dinov3',
    repo: 'facebook/dinov3-vitl16-pretrain-lvd1689m',
    revision: 'main',
    files: [{ path: 'model.safetensors', fallback: 'pytorch_model.bin' }],
    architecture: { width: 1024, layers: 24, heads: 16, patchSize: 16, imageSize: 224, registerTokens: 4, ropeBase: 100 },
    expectShapes: {
      'embeddings.patch_embeddings.weight': [1024, 3, 16, 16],
      'embeddings.register_tokens': [1, 4, 1024],
      'layer.23.mlp.up_proj.weight': [4096, 1024],
    },
    preprocess: DINOV3_PREPROCESS,
    gated: true,
    license: 'DINOv3 License',
  },
];

/** A catalogue entry by name; throws listing the known names. */
export function findWeights(name: string, catalogue: readonly WeightsEntry[] = WEIGHTS_CATALOGUE): WeightsEntry {
  const e = catalogue.find((x) => x.name === name);
  if (!e) throw new InputNotFoundError(name, `unknown weights ${JSON.stringify(name)} (known: ${catalogue.map((x) => x.name).join(', ')})`);
  return e;
}
