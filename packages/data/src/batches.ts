import * as tf from '@tensorflow/tfjs-core';
import { Rng, imageHW } from '@hgm/tensor';
import { DataError, type DatasetIssue } from './errors';
import type { DatasetFileSystem } from './file-system';
import { loadSample, type ImageDecoder } from './load-sample';
import { preprocessImage, preprocessMask, resolvePreprocessConfig, type PreprocessConfig } from './preprocess';
import type { DatasetSample } from './sample';

/** Options of {@link createBatchStream}. */
export interface BatchOptions {
  fs: DatasetFileSystem;
  /** The backbone's preprocessing (an encoder's `info.preprocess`). */
  preprocess: PreprocessConfig;
  batchSize: number;
  /** Shuffle the order with a seeded RNG (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffle; with `epoch`, the order is a pure function of both (default 0). */
  seed?: number | string;
  /** Epoch number, mixed into the shuffle seed so every epoch has its own order (default 0). */
  epoch?: number;
  /** Drop a last batch smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** Batches decoded ahead of the consumer, at most (default 2). Bounds memory: at most this many host batches wait. */
  prefetch?: number;
  /**
   * Skip images or masks that cannot be read or decoded, each reported through `onSkip` and counted in
   * `stats.skipped` (default false: the stream fails naming the file). Size and label mismatches always fail.
   */
  skipCorrupt?: boolean;
  onSkip?: (issue: DatasetIssue) => void;
  /** Image decoder (default: the JavaScript decoders; `decodeImageInBrowser` in a browser). */
  decode?: ImageDecoder;
}

/** One batch. The caller owns (and disposes) `images` and `masks`. */
export interface Batch {
  /** Normalised images [B, 3, H, W] float32 (H x W the preprocess size). */
  images: tf.Tensor4D;
  /** Masks [B, H, W] float32 of 0/1; all zero where `hasMask` is false. */
  masks: tf.Tensor3D;
  /** [B] image labels, 0 normal, 1 anomalous. */
  labels: Int32Array;
  /** Whether each sample had a mask (an anomalous image without one must not count as all-normal pixels). */
  hasMask: boolean[];
  samples: DatasetSample[];
}

/** Counters of a stream, complete once it has ended. */
export interface BatchStats {
  batches: number;
  samples: number;
  skipped: DatasetIssue[];
}

/** An async iterable of batches with its counters. */
export interface BatchStream extends AsyncIterable<Batch> {
  readonly stats: BatchStats;
  /** Samples per epoch, in the order they will be served (after shuffling). */
  readonly order: readonly DatasetSample[];
}

interface HostBatch {
  images: Float32Array;
  masks: Float32Array;
  labels: Int32Array;
  hasMask: boolean[];
  samples: DatasetSample[];
}

/** Resolves and checks batch options; throws naming the field. */
function checkOptions(o: BatchOptions): Required<Omit<BatchOptions, 'onSkip' | 'fs' | 'decode'>> {
  if (!Number.isInteger(o.batchSize) || o.batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${o.batchSize}`);
  const prefetch = o.prefetch ?? 2;
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`prefetch must be an integer >= 1, got ${prefetch}`);
  const epoch = o.epoch ?? 0;
  if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  return {
    preprocess: resolvePreprocessConfig(o.preprocess),
    batchSize: o.batchSize,
    shuffle: o.shuffle ?? false,
    seed: o.seed ?? 0,
    epoch,
    dropLast: o.dropLast ?? false,
    prefetch,
    skipCorrupt: o.skipCorrupt ?? false,
  };
}

/**
 * Batches of preprocessed samples, decoded ahead of the consumer: a producer loads up to `prefetch` batches
 * (file reads are asynchronous and overlap the consumer's compute) and waits while the queue is full.
 * Tensors are created only when a batch is handed out, so abandoning the stream (`break`) leaks nothing.
 *
 * @example
 * for await (const batch of createBatchStream(index.samples, { fs, preprocess, batchSize: 8, shuffle: true, seed: 1 })) {
 *   train(batch.images, batch.masks);
 *   batch.images.dispose(); batch.masks.dispose();
 * }
 */
export function createBatchStream(samples: readonly DatasetSample[], options: BatchOptions): BatchStream {
  const o = checkOptions(options);
  const order = [...samples];
  if (o.shuffle) new Rng(`${o.seed}/epoch-${o.epoch}`).shuffle(order);
  const groups: DatasetSample[][] = [];
  for (let i = 0; i < order.length; i += o.batchSize) {
    const group = order.slice(i, i + o.batchSize);
    if (group.length < o.batchSize && o.dropLast) break;
    groups.push(group);
  }
  const stats: BatchStats = { batches: 0, samples: 0, skipped: [] };

  const loadGroup = async (group: DatasetSample[]): Promise<HostBatch | null> => {
    const loaded = await Promise.all(
      group.map(async (sample) => {
        try {
          const { image, mask } = await loadSample(sample, options.fs, options.decode ? { decode: options.decode } : {});
          return { sample, image: preprocessImage(image, o.preprocess), mask: mask ? preprocessMask(mask, o.preprocess) : null };
        } catch (e) {
          if (o.skipCorrupt && e instanceof DataError && (e.kind === 'corrupt' || e.kind === 'missing-file')) {
            const issue: DatasetIssue = { path: e.path, kind: 'skipped-corrupt', message: `${e.detail}; sample ${sample.imagePath} skipped` };
            stats.skipped.push(issue);
            options.onSkip?.(issue);
            return null;
          }
          throw e;
        }
      }),
    );
    const kept = loaded.filter((x) => x !== null);
    if (kept.length === 0) return null;
    const [H, W] = imageHW(o.preprocess.size);
    const B = kept.length;
    const images = new Float32Array(B * 3 * H * W);
    const masks = new Float32Array(B * H * W);
    const labels = new Int32Array(B);
    kept.forEach((k, b) => {
      images.set(k.image, b * 3 * H * W);
      if (k.mask) masks.set(k.mask, b * H * W);
      labels[b] = k.sample.label;
    });
    return { images, masks, labels, hasMask: kept.map((k) => k.mask !== null), samples: kept.map((k) => k.sample) };
  };

  async function* iterate(): AsyncGenerator<Batch> {
    const queue: HostBatch[] = [];
    let producerDone = false;
    let producerError: unknown = null;
    let cancelled = false;
    let wakeConsumer: (() => void) | null = null;
    let wakeProducer: (() => void) | null = null;
    const signal = (which: 'consumer' | 'producer') => {
      const f = which === 'consumer' ? wakeConsumer : wakeProducer;
      if (which === 'consumer') wakeConsumer = null;
      else wakeProducer = null;
      f?.();
    };
    const producer = (async () => {
      try {
        for (const group of groups) {
          while (queue.length >= o.prefetch && !cancelled) await new Promise<void>((r) => (wakeProducer = r));
          if (cancelled) return;
          const host = await loadGroup(group);
          if (host) queue.push(host);
          signal('consumer');
        }
      } catch (e) {
        producerError = e;
      } finally {
        producerDone = true;
        signal('consumer');
      }
    })();
    try {
      for (;;) {
        const host = queue.shift();
        if (host) {
          signal('producer');
          const B = host.labels.length;
          const [H, W] = imageHW(o.preprocess.size);
          stats.batches++;
          stats.samples += B;
          yield {
            images: tf.tensor4d(host.images, [B, 3, H, W], 'float32'),
            masks: tf.tensor3d(host.masks, [B, H, W], 'float32'),
            labels: host.labels,
            hasMask: host.hasMask,
            samples: host.samples,
          };
          continue;
        }
        if (producerError !== null) throw producerError;
        if (producerDone) return;
        await new Promise<void>((r) => (wakeConsumer = r));
      }
    } finally {
      cancelled = true;
      signal('producer');
      await producer;
    }
  }

  return {
    stats,
    order,
    [Symbol.asyncIterator]: () => iterate(),
  };
}
