import { decode as fastPngDecode, encode as fastPngEncode, convertIndexedToRgb, type DecodedPng } from 'fast-png';
import { ImageDecodeError } from '../errors';
import { checkRaster, type DecodedImage } from './image';

/**
 * Decodes a PNG at its full bit depth: 8- and 16-bit gray, gray + alpha, RGB and RGBA keep their depth;
 * palette images become 8-bit RGB (or RGBA when the palette has a tRNS chunk); 1/2/4-bit gray becomes 8-bit
 * gray scaled to the full range. A tRNS colour key on gray/RGB images is ignored (the colour data is kept).
 * @param name the file name, used in error messages
 */
export function decodePng(bytes: Uint8Array, name: string): DecodedImage {
  let png: DecodedPng;
  try {
    png = fastPngDecode(bytes, { checkCrc: true });
  } catch (e) {
    throw new ImageDecodeError(name, `corrupt PNG (${(e as Error).message})`, { cause: e });
  }
  const { width, height, depth, channels } = png;
  if (width <= 0 || height <= 0) throw new ImageDecodeError(name, `PNG has an empty raster (${width}x${height})`);
  if (png.palette) {
    let rgb: Uint8Array;
    try {
      rgb = convertIndexedToRgb(png);
    } catch (e) {
      throw new ImageDecodeError(name, `corrupt palette PNG (${(e as Error).message})`, { cause: e });
    }
    const paletteChannels = rgb.length / (width * height);
    if (paletteChannels !== 3 && paletteChannels !== 4) {
      throw new ImageDecodeError(name, `palette PNG expands to ${paletteChannels} channels, expected 3 or 4`);
    }
    return { width, height, channels: paletteChannels, bitDepth: 8, data: rgb, format: 'png' };
  }
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new ImageDecodeError(name, `PNG has ${channels} channels, expected 1 to 4`);
  }
  if (depth === 16) {
    const data = png.data instanceof Uint16Array ? png.data : null;
    if (!data || data.length !== width * height * channels) {
      throw new ImageDecodeError(name, `16-bit PNG decoded to ${png.data.length} samples, expected ${width * height * channels}`);
    }
    return { width, height, channels, bitDepth: 16, data, format: 'png' };
  }
  if (depth === 8) {
    const data = png.data instanceof Uint8Array ? png.data : new Uint8Array(png.data);
    if (data.length !== width * height * channels) {
      throw new ImageDecodeError(name, `PNG decoded to ${data.length} samples, expected ${width * height * channels}`);
    }
    return { width, height, channels, bitDepth: 8, data, format: 'png' };
  }
  // 1, 2 or 4 bit: only gray is allowed by the PNG specification (palette was handled above).
  if (channels !== 1) throw new ImageDecodeError(name, `PNG with bit depth ${depth} has ${channels} channels, expected 1`);
  return { width, height, channels: 1, bitDepth: 8, data: unpackLowBitGray(png.data as Uint8Array, width, height, depth), format: 'png' };
}

/** Expands byte-aligned rows of 1/2/4-bit samples to 8 bits, scaling the maximum to 255. */
function unpackLowBitGray(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const maxValue = (1 << depth) - 1;
  const scale = 255 / maxValue;
  const perByte = 8 / depth;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = packed[y * rowBytes + Math.floor(x / perByte)]!;
      const shift = 8 - depth * ((x % perByte) + 1);
      out[y * width + x] = Math.round(((byte >> shift) & maxValue) * scale);
    }
  }
  return out;
}

/** What {@link encodePng} writes. */
export interface PngEncodeInput {
  width: number;
  height: number;
  /** 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA (ignored when `palette` is given: the data holds indices). */
  channels: 1 | 2 | 3 | 4;
  /** 8 (Uint8Array) or 16 (Uint16Array); 1, 2 and 4 are allowed for gray and palette data already packed per row. */
  bitDepth: 1 | 2 | 4 | 8 | 16;
  data: Uint8Array | Uint16Array;
  /** Palette colours ([r, g, b] or [r, g, b, a]); `data` then holds one index per pixel (packed for depth < 8). */
  palette?: number[][];
}

/** Encodes a PNG without loss (deterministic: the same input gives the same bytes). */
export function encodePng(image: PngEncodeInput): Uint8Array {
  const { width, height, bitDepth, data, palette } = image;
  const channels = palette ? 1 : image.channels;
  if (bitDepth >= 8) {
    checkRaster('encodePng', width, height, channels, data.length);
    if (bitDepth === 16 && !(data instanceof Uint16Array)) throw new TypeError('encodePng: 16-bit data must be a Uint16Array');
    if (bitDepth === 8 && !(data instanceof Uint8Array)) throw new TypeError('encodePng: 8-bit data must be a Uint8Array');
  } else if (channels !== 1) {
    throw new RangeError(`encodePng: bit depth ${bitDepth} needs 1 channel (gray or palette), got ${channels}`);
  }
  return fastPngEncode({ width, height, data, depth: bitDepth, channels, ...(palette ? { palette } : {}) });
}
