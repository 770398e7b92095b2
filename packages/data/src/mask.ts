import { colorChannels, type DecodedImage } from './codecs/image';
import { DataError } from './errors';

/** A binary mask: `data[y * width + x]` is 1 for an anomalous pixel, 0 otherwise. */
export interface Mask {
  width: number;
  height: number;
  /** [H, W] of 0/1. */
  data: Uint8Array;
}

/**
 * Threshold for masks stored as JPEG: lossy compression leaves small non-zero values around edges and in
 * flat black areas, so a JPEG mask pixel counts as anomalous only from half the range up.
 */
export const LOSSY_MASK_THRESHOLD = 128;

/**
 * Binarises a decoded mask image, read at its full bit depth.
 *
 * Rule: a pixel is anomalous when any colour channel is above 0 (alpha is ignored). A 16-bit mask whose
 * defect pixels hold 1 (of 65535) therefore counts them, as does a VisA-style mask that stores small class ids
 * (1, 2, ...) instead of 255. Masks stored as JPEG (lossy) use `value >= 128` of 255 instead, since the
 * codec smears values near 0.
 */
export function binarizeMask(image: DecodedImage): Mask {
  const { width, height, channels, data } = image;
  const n = width * height;
  const out = new Uint8Array(n);
  const colors = colorChannels(image);
  const threshold = image.format === 'jpeg' ? LOSSY_MASK_THRESHOLD - 1 : 0;
  for (let i = 0; i < n; i++) {
    const o = i * channels;
    let on = data[o]! > threshold;
    if (!on && colors === 3) on = data[o + 1]! > threshold || data[o + 2]! > threshold;
    out[i] = on ? 1 : 0;
  }
  return { width, height, data: out };
}

/**
 * Union of several masks of one image (MVTec LOCO stores one file per defect).
 * @param names the files the masks came from, for the error when sizes differ
 */
export function unionMasks(masks: Mask[], names: string[]): Mask {
  const first = masks[0];
  if (!first) throw new RangeError('unionMasks: no masks');
  const out = new Uint8Array(first.data);
  masks.forEach((m, k) => {
    if (m.width !== first.width || m.height !== first.height) {
      throw new DataError(names[k] ?? `mask ${k}`, `mask is ${m.width}x${m.height}, but ${names[0] ?? 'the first mask'} is ${first.width}x${first.height}`);
    }
    for (let i = 0; i < out.length; i++) out[i] = out[i]! | m.data[i]!;
  });
  return { width: first.width, height: first.height, data: out };
}

/** Number of anomalous pixels. */
export function countMaskPixels(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i]!;
  return n;
}
