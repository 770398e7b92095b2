import { decode as jpegDecode, encode as jpegEncode } from 'jpeg-js';
import { ImageDecodeError } from '../errors';
import { checkRaster, type DecodedImage } from './image';

/** Largest JPEG the decoder accepts, in megapixels (guards against decompression bombs). */
export const MAX_JPEG_MEGAPIXELS = 200;

/**
 * Decodes a baseline or progressive JPEG to 8-bit RGB (gray JPEGs come back as RGB with equal channels).
 * @param name the file name, used in error messages
 */
export function decodeJpeg(bytes: Uint8Array, name: string): DecodedImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpegDecode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_JPEG_MEGAPIXELS,
      maxMemoryUsageInMB: 2048,
    });
  } catch (e) {
    throw new ImageDecodeError(name, `corrupt JPEG (${(e as Error).message ?? String(e)})`, { cause: e });
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new ImageDecodeError(name, `JPEG decoded to ${data.length} samples for ${width}x${height}, expected ${width * height * 3}`);
  }
  return { width, height, channels: 3, bitDepth: 8, data: new Uint8Array(data.buffer, data.byteOffset, data.length), format: 'jpeg' };
}

/**
 * Encodes 8-bit RGB (or RGBA, alpha ignored) as a baseline JPEG.
 * @param quality 1..100
 */
export function encodeJpeg(image: { width: number; height: number; channels: 3 | 4; data: Uint8Array }, quality = 90): Uint8Array {
  const { width, height, channels, data } = image;
  checkRaster('encodeJpeg', width, height, channels, data.length);
  if (!(quality >= 1 && quality <= 100)) throw new RangeError(`encodeJpeg: quality must be in [1, 100], got ${quality}`);
  let rgba: Uint8Array = data;
  if (channels === 3) {
    rgba = new Uint8Array(width * height * 4);
    for (let i = 0, n = width * height; i < n; i++) {
      rgba[4 * i] = data[3 * i]!;
      rgba[4 * i + 1] = data[3 * i + 1]!;
      rgba[4 * i + 2] = data[3 * i + 2]!;
      rgba[4 * i + 3] = 255;
    }
  }
  const out = jpegEncode({ width, height, data: rgba }, quality).data;
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
