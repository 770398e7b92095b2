import { ImageDecodeError } from '../errors';
import { decodeBmp } from './bmp';
import type { DecodedImage, ImageFormat } from './image';
import { decodeJpeg } from './jpeg';
import { decodePng } from './png';
import { checkPixelLimit, readImageSize, type PixelLimitOptions } from './pixel-limit';

/** File name extensions the readers treat as images (lower case, without the dot). */
export const IMAGE_EXTENSIONS: readonly string[] = ['png', 'jpg', 'jpeg', 'bmp'];

/** True when a file name has one of {@link IMAGE_EXTENSIONS} (case-insensitive). */
export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.includes(name.slice(dot + 1).toLowerCase());
}

/** The container format from the first bytes (the extension is not trusted), or a description of what was found. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | { unknown: string } {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length === 0) return { unknown: 'an empty file' };
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a))) {
    return { unknown: 'TIFF (not supported: convert to PNG)' };
  }
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[8] === 0x57 && b[9] === 0x45) return { unknown: 'WebP (not supported: convert to PNG)' };
  if (b.length >= 3 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return { unknown: 'GIF (not supported: convert to PNG)' };
  const head = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return { unknown: `unknown bytes ${head}` };
}

/**
 * Decodes PNG, JPEG or BMP bytes (format taken from the content) at full bit depth, with the pure-JS codecs.
 * The size the header declares is checked against the pixel limit first (see `checkPixelLimit`).
 * @param name the file name, used in every error message
 * @throws ImageDecodeError naming the file when the bytes are not a supported, intact image
 * @throws ImageTooLargeError when the image has more than twice `options.maxPixels` pixels
 */
export function decodeImage(bytes: Uint8Array, name: string, options: PixelLimitOptions = {}): DecodedImage {
  const format = sniffImageFormat(bytes);
  if (typeof format !== 'string') throw new ImageDecodeError(name, `not a PNG, JPEG or BMP image: ${format.unknown}`);
  const size = readImageSize(bytes, format);
  if (size) checkPixelLimit(size.width, size.height, name, options);
  switch (format) {
    case 'png':
      return decodePng(bytes, name);
    case 'jpeg':
      return decodeJpeg(bytes, name);
    case 'bmp':
      return decodeBmp(bytes, name);
    default:
      throw new ImageDecodeError(name, `${format.toUpperCase()} is decoded only through sharp (in Node); convert it to PNG`);
  }
}
