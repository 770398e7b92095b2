/**
 * An on-disk cache of frozen-backbone features. The backbones never train, so the features of an image
 * depend only on its bytes, the backbone, its weights and the input resolution: computed once, they serve
 * every later epoch and the evaluation.
 */
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsReader, type HostTensor, type ImageSize, type WritableTensor, ConfigError } from '@hgm/tensor';
import { openSafetensors, writeSafetensorsFile } from '@hgm/tensor/node';

/** Everything the features depend on, besides the image itself. */
export interface FeatureKeyParts {
  /** Backbone identity, e.g. `dinov3-vitl16` or a tiny config's hash. */
  backbone: string;
  /** Fingerprint of the weights (sha256 of the file, or of the config + seed for generated weights). */
  weights: string;
  /**
   * Input resolution: the side of a square input, or `[height, width]` (canonical form, so that the keys
   * of square inputs are the ones they have always been).
   */
  resolution: ImageSize;
  /** Tapped layers. */
  layers: number[];
  /** Preprocessing that affects pixels (mean/std/interpolation), serialised. */
  preprocess: string;
  /**
   * The executor of the frozen encoder, only where its outputs can differ from tfjs's beyond the parity
   * tolerance (1e-4); absent for tfjs and for executors within it (ONNX Runtime's CPU and WebGPU
   * providers), whose entries are shared.
   */
  executor?: string;
}

/**
 * Version of what an entry holds. 2: the patch grid and the image size are stored with the features
 * (`grid`, `imageSize`); entries of version 1 (without them) get other keys and are recomputed.
 */
export const FEATURE_CACHE_FORMAT = 2;

/** Cache key: sha256 over the image bytes, the key parts and {@link FEATURE_CACHE_FORMAT}. */
export function featureKey(imageBytes: Uint8Array, parts: FeatureKeyParts): string {
  const h = createHash('sha256');
  h.update(imageBytes);
  h.update('\0');
  h.update(
    JSON.stringify({
      f: FEATURE_CACHE_FORMAT,
      b: parts.backbone,
      w: parts.weights,
      r: parts.resolution,
      l: parts.layers,
      p: parts.preprocess,
      ...(parts.executor !== undefined ? { e: parts.executor } : {}),
    }),
  );
  return h.digest('hex');
}

export interface FeatureCacheStats {
  hits: number;
  misses: number;
  writes: number;
}

/** A folder of `<key>.safetensors` files, written atomically. */
export class FeatureCache {
  readonly stats: FeatureCacheStats = { hits: 0, misses: 0, writes: 0 };

  constructor(readonly dir: string) {}

  private path(key: string): string {
    if (!/^[0-9a-f]{16,128}$/.test(key)) throw new ConfigError(`feature cache: invalid key ${JSON.stringify(key)}`);
    return join(this.dir, key.slice(0, 2), `${key}.safetensors`);
  }

  /** The cached tensors for a key, or undefined (a corrupt entry counts as a miss and is reported). */
  async get(key: string, onWarning?: (message: string) => void): Promise<Map<string, HostTensor> | undefined> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch {
      this.stats.misses++;
      return undefined;
    }
    let reader: SafetensorsReader | undefined;
    try {
      reader = await openSafetensors(path);
      const out = await reader.readAllHost();
      this.stats.hits++;
      return out;
    } catch (e) {
      onWarning?.(`feature cache entry ${path} is unreadable and will be recomputed: ${(e as Error).message}`);
      this.stats.misses++;
      return undefined;
    } finally {
      await reader?.close();
    }
  }

  /** Whether an entry exists (without reading it). */
  async has(key: string): Promise<boolean> {
    try {
      await stat(this.path(key));
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes on disk of the entries of `keys` (absent ones count 0). */
  async sizeOf(keys: Iterable<string>): Promise<number> {
    let bytes = 0;
    for (const key of new Set(keys)) {
      try {
        bytes += (await stat(this.path(key))).size;
      } catch {
        // absent: counts 0
      }
    }
    return bytes;
  }

  /** Stores tensors under a key (atomic write). */
  async put(key: string, tensors: Map<string, WritableTensor>): Promise<void> {
    const path = this.path(key);
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    await writeSafetensorsFile(path, tensors, { format: 'hgm-features' });
    this.stats.writes++;
  }
}
