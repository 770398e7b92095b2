/**
 * Frozen features for dataset samples: computed once by the model's vision encoder and kept in the
 * feature cache (on disk), so later epochs and the evaluation never run the backbone again.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor, WritableTensor } from '@hgm/tensor';
import {
  loadSample,
  preprocessImage,
  preprocessMask,
  readBytes,
  type DatasetFileSystem,
  type DatasetSample,
  type ImageDecoder,
  type LoadedSample,
} from '@hgm/data';
import { FeatureCache, featureKey } from './feature-cache';
import type { EngineModel, FeatureBatch } from './engine-model';
import { RateMeter, type ProgressListener } from './progress';
import { InvalidFileError, ShapeError, imageHW, type ImageSize } from '@hgm/tensor';

/** A sample ready for training or evaluation: its cache key, label and mask at the model's input size. */
export interface PreparedSample {
  sample: DatasetSample;
  /** Feature-cache key (sha256 of the image bytes and the backbone identity). */
  key: string;
  label: 0 | 1;
  /** Mask at the input size, [H * W] 0/1 bytes (all zero for normal images and images without a mask). */
  mask: Uint8Array;
  hasMask: boolean;
  /**
   * With {@link PrepareOptions.keepDecoded}: the decoded image and mask, and the normalised pixels when the
   * encoder needed them, so that maps and overlays reuse this decoding instead of decoding again.
   */
  decoded?: DecodedSample;
}

/** A decoded sample kept for drawing: the image and mask as decoded, and its model input when it was made. */
export interface DecodedSample {
  image: LoadedSample['image'];
  mask: LoadedSample['mask'];
  /** Normalised planar pixels [3 * S * S] (present when the features were not cached). */
  pixels?: Float32Array;
}

export interface PrepareOptions {
  fs: DatasetFileSystem;
  cache: FeatureCache;
  onProgress?: ProgressListener;
  /** Name of the stage in progress events. */
  stage?: string;
  /** Images encoded per vision-encoder call (default 8). */
  batchSize?: number;
  /** The image decoder (default `decodeImage`, the pure-JS codecs). */
  decode?: ImageDecoder;
  /** Counts calls of the vision encoder (for tests and reports). */
  counters?: { encoderCalls: number; encodedImages: number };
  /**
   * Keep each sample's decoded image and mask in {@link PreparedSample.decoded} (default false). They stay
   * as long as the returned samples do: prepare a batch at a time when keeping them.
   */
  keepDecoded?: boolean;
}

/**
 * Validates every sample (image, mask, sizes, labels), computes its cache key and makes sure its features
 * are in the cache, running the vision encoder only for those that are not.
 */
export async function prepareSamples(model: EngineModel, samples: readonly DatasetSample[], options: PrepareOptions): Promise<PreparedSample[]> {
  const [height, width] = imageHW(model.preprocess.size);
  const prepared: PreparedSample[] = [];
  const pending: { index: number; pixels: Float32Array }[] = [];
  const meter = new RateMeter();
  const stage = options.stage ?? 'features';
  const batchSize = options.batchSize ?? 8;
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending.splice(0, pending.length);
    const pixels = new Float32Array(batch.length * 3 * height * width);
    batch.forEach((b, i) => pixels.set(b.pixels, i * 3 * height * width));
    const input = tf.tensor4d(pixels, [batch.length, 3, height, width]);
    let features: FeatureBatch;
    try {
      features = await model.encodeVision(input);
    } finally {
      input.dispose();
    }
    if (options.counters) {
      options.counters.encoderCalls++;
      options.counters.encodedImages += batch.length;
    }
    try {
      const perImage = await splitFeatures(features, batch.length);
      for (let i = 0; i < batch.length; i++) await options.cache.put(prepared[batch[i]!.index]!.key, perImage[i]!);
    } finally {
      for (const t of features.values()) t.dispose();
    }
  };
  meter.tick(0);
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]!;
    const bytes = await readBytes(options.fs, sample.imagePath);
    const key = featureKey(bytes, model.featureKey);
    // Decode from the bytes already read for the key (the masks are read through the file system).
    const loaded = await loadSample(sample, withFile(options.fs, sample.imagePath, bytes), options.decode ? { decode: options.decode } : {});
    const mask = loaded.mask ? preprocessMask(loaded.mask, model.preprocess) : new Uint8Array(height * width);
    const decoded: DecodedSample | undefined = options.keepDecoded ? { image: loaded.image, mask: loaded.mask } : undefined;
    prepared.push({ sample, key, label: sample.label, mask, hasMask: loaded.mask !== null, ...(decoded ? { decoded } : {}) });
    if (!(await options.cache.has(key))) {
      const pixels = preprocessImage(loaded.image, model.preprocess);
      if (decoded) decoded.pixels = pixels;
      pending.push({ index: i, pixels });
      if (pending.length >= batchSize) await flush();
    }
    meter.tick(1);
    options.onProgress?.({
      type: 'items',
      stage,
      done: i + 1,
      total: samples.length,
      imagesPerSecond: meter.rate(),
      etaSeconds: meter.eta(samples.length - i - 1),
    });
  }
  await flush();
  return prepared;
}

/** A file system that serves one file from memory and everything else from `fs`. */
function withFile(fs: DatasetFileSystem, path: string, bytes: Uint8Array): DatasetFileSystem {
  return { list: (p) => fs.list(p), kind: (p) => fs.kind(p), readFile: (p) => (p === path ? Promise.resolve(bytes) : fs.readFile(p)) };
}

/** Splits a feature batch into one map of host tensors per image. */
export async function splitFeatures(features: FeatureBatch, count: number): Promise<Map<string, WritableTensor>[]> {
  const out = Array.from({ length: count }, () => new Map<string, WritableTensor>());
  for (const [name, t] of features) {
    if (t.shape[0] !== count) throw new ShapeError(`feature ${name} has batch size ${t.shape[0]}, expected ${count}`);
    const data = await t.data();
    const per = t.size / count;
    const shape = t.shape.slice(1);
    for (let i = 0; i < count; i++) {
      out[i]!.set(name, { dtype: 'F32', shape, data: Float32Array.from((data as Float32Array).subarray(i * per, (i + 1) * per)) });
    }
  }
  return out;
}

/** Reads the cached features of several samples and stacks them into a batch (the caller disposes). */
export async function loadFeatureBatch(cache: FeatureCache, samples: readonly PreparedSample[]): Promise<FeatureBatch> {
  const maps: Map<string, HostTensor>[] = [];
  for (const s of samples) {
    const m = await cache.get(s.key);
    if (!m)
      throw new InvalidFileError(
        cache.dir,
        `feature cache ${cache.dir}: no features for ${s.sample.imagePath} (key ${s.key}); the cache was changed during the run`,
      );
    maps.push(m);
  }
  const out: FeatureBatch = new Map();
  for (const name of maps[0]!.keys()) {
    const first = maps[0]!.get(name)!;
    const per = first.data.length;
    const data = new Float32Array(per * maps.length);
    maps.forEach((m, i) => {
      const t = m.get(name);
      if (!t || t.data.length !== per)
        throw new InvalidFileError(cache.dir, `feature cache ${cache.dir}: entry ${samples[i]!.key} lacks ${name} or has another shape`);
      data.set(t.data as Float32Array, i * per);
    });
    out.set(name, tf.tensor(data, [maps.length, ...first.shape], 'float32'));
  }
  return out;
}

/** Stacks masks [H * W] into a [B, H, W] float tensor (`size` the model input size). */
export function maskBatch(samples: readonly PreparedSample[], size: ImageSize): tf.Tensor3D {
  const [height, width] = imageHW(size);
  const n = height * width;
  const data = new Float32Array(samples.length * n);
  samples.forEach((s, i) => {
    if (s.mask.length !== n) throw new ShapeError(`mask of ${s.sample.imagePath} has ${s.mask.length} pixels, expected ${height} x ${width}`);
    data.set(s.mask, i * n);
  });
  return tf.tensor3d(data, [samples.length, height, width]);
}
