import { decodeImage } from './codecs/decode-image';
import type { DecodedImage } from './codecs/image';
import { DataError } from './errors';
import type { DatasetFileSystem } from './file-system';
import { binarizeMask, countMaskPixels, unionMasks, type Mask } from './mask';
import type { DatasetSample } from './sample';

/** A sample with its pixels. */
export interface LoadedSample {
  sample: DatasetSample;
  image: DecodedImage;
  /** The binarised (united) mask, or null when the dataset has no mask for this image. */
  mask: Mask | null;
}

/** Decodes image bytes; `name` is used in error messages. The default is {@link decodeImage}. */
export type ImageDecoder = (bytes: Uint8Array, name: string) => DecodedImage | Promise<DecodedImage>;

/** Options of {@link loadSample}. */
export interface LoadSampleOptions {
  /** The decoder (e.g. `decodeImageInBrowser` from `@hgm/data/browser`). */
  decode?: ImageDecoder;
}

/** Reads a file, turning a read failure into a {@link DataError} that names it. */
export async function readBytes(fs: DatasetFileSystem, path: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(path);
  } catch (e) {
    if (e instanceof DataError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new DataError(path, `cannot read (${err.code ?? err.message})`, { cause: e, kind: 'missing-file' });
  }
}

/**
 * Decodes a sample's image and masks and checks them: every mask has its image's size, an anomalous image's
 * mask has a positive pixel, a normal image's mask has none.
 * @throws DataError naming the offending file (`kind` tells corrupt, size-mismatch or label-mismatch apart)
 */
export async function loadSample(sample: DatasetSample, fs: DatasetFileSystem, options: LoadSampleOptions = {}): Promise<LoadedSample> {
  const decode = options.decode ?? decodeImage;
  const image = await decode(await readBytes(fs, sample.imagePath), sample.imagePath);
  if (sample.maskPaths.length === 0) return { sample, image, mask: null };
  const masks: Mask[] = [];
  for (const path of sample.maskPaths) {
    const mask = binarizeMask(await decode(await readBytes(fs, path), path));
    if (mask.width !== image.width || mask.height !== image.height) {
      throw new DataError(path, `mask is ${mask.width}x${mask.height}, but its image ${sample.imagePath} is ${image.width}x${image.height}`, {
        kind: 'size-mismatch',
      });
    }
    masks.push(mask);
  }
  const mask = masks.length === 1 ? masks[0]! : unionMasks(masks, sample.maskPaths);
  const positive = countMaskPixels(mask);
  if (sample.label === 1 && positive === 0) {
    throw new DataError(sample.maskPaths[0]!, `mask is empty, but its image ${sample.imagePath} is labelled anomalous (${sample.defectType})`, {
      kind: 'label-mismatch',
    });
  }
  if (sample.label === 0 && positive > 0) {
    throw new DataError(sample.maskPaths[0]!, `mask has ${positive} anomalous pixels, but its image ${sample.imagePath} is labelled normal`, {
      kind: 'label-mismatch',
    });
  }
  return { sample, image, mask };
}
