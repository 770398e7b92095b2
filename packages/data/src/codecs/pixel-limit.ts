import { ImageDecodeError } from '../errors';
import type { ImageFormat } from './image';

/**
 * PIL's `Image.MAX_IMAGE_PIXELS`: images with more pixels get a warning (a possible decompression bomb),
 * images with more than twice as many are refused before any pixel is decoded.
 */
export const DEFAULT_MAX_PIXELS = 89_478_485;

/** How large an image may be (see {@link DEFAULT_MAX_PIXELS}). */
export interface PixelLimitOptions {
  /** Warn above this many pixels, refuse above twice as many (default {@link DEFAULT_MAX_PIXELS}). */
  maxPixels?: number;
  /** Receives the warning for an image between the limit and twice the limit (default: no warning). */
  onWarning?: (message: string) => void;
}

/** An image whose header claims more pixels than allowed; refused before decoding. */
export class ImageTooLargeError extends ImageDecodeError {
  constructor(
    path: string,
    readonly width: number,
    readonly height: number,
    /** The pixel count above which images are refused (twice the warning limit). */
    readonly limit: number,
  ) {
    super(
      path,
      `image is ${width}x${height} = ${fmt(width * height)} pixels, over the limit of ${fmt(limit)} pixels (twice --max-pixels ${fmt(limit / 2)}); refused before decoding (raise --max-pixels to allow it)`,
    );
    this.name = 'ImageTooLargeError';
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * Checks an image's size against the limit: throws {@link ImageTooLargeError} above twice `maxPixels`, warns
 * above `maxPixels`.
 */
export function checkPixelLimit(width: number, height: number, name: string, options: PixelLimitOptions = {}): void {
  const max = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(max > 0)) throw new RangeError(`maxPixels must be a positive number, got ${max}`);
  const pixels = width * height;
  if (pixels > 2 * max) throw new ImageTooLargeError(name, width, height, 2 * max);
  if (pixels > max) {
    options.onWarning?.(
      `${name}: image is ${width}x${height} = ${fmt(pixels)} pixels, over --max-pixels ${fmt(max)} (a possible decompression bomb); decoding it anyway (refused above ${fmt(2 * max)})`,
    );
  }
}

/**
 * The width and height a PNG, JPEG or BMP header declares, read without decoding any pixel; null when the
 * header cannot be found (the decoder then reports the corruption).
 */
export function readImageSize(bytes: Uint8Array, format: ImageFormat): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'png') {
    if (bytes.length < 24) return null;
    return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
  }
  if (format === 'bmp') {
    if (bytes.length < 26) return null;
    const header = view.getUint32(14, true);
    if (header === 12) return { width: view.getUint16(18, true), height: Math.abs(view.getInt16(20, true)) };
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  // JPEG: walk the marker segments up to the first start-of-frame.
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = view.getUint16(at + 2, false);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 9 > bytes.length) return null;
      return { width: view.getUint16(at + 7, false), height: view.getUint16(at + 5, false) };
    }
    if (marker === 0xd9 || marker === 0xda) return null;
    at += 2 + length;
  }
  return null;
}
