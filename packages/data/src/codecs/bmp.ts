import { ImageDecodeError } from '../errors';
import { checkRaster, type DecodedImage } from './image';

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/**
 * Decodes a Windows BMP: 1/4/8-bit palette, 16-bit (5-5-5 or bit fields), 24-bit BGR and 32-bit (BGRx, or
 * bit fields with alpha), stored bottom-up (positive height) or top-down (negative height), with the core
 * (OS/2 1.x), info, V4 and V5 headers. RLE-compressed files are refused with a clear error.
 *
 * Palette images whose colours are all gray come back as 1-channel gray, others as RGB. 32-bit images
 * without an alpha mask come back as RGB (their fourth byte is padding in most writers).
 * @param name the file name, used in error messages
 */
export function decodeBmp(bytes: Uint8Array, name: string): DecodedImage {
  const fail = (msg: string): never => {
    throw new ImageDecodeError(name, `corrupt BMP (${msg})`);
  };
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) fail('no BM signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = BI_RGB;
  let colorsUsed = 0;
  let paletteEntryBytes = 4;
  let masks: [number, number, number, number] | null = null;
  if (headerSize === 12) {
    width = view.getUint16(18, true);
    height = view.getInt16(20, true);
    bpp = view.getUint16(24, true);
    paletteEntryBytes = 3;
  } else if (headerSize >= 40) {
    if (bytes.length < 14 + 40) fail('file shorter than its header');
    width = view.getInt32(18, true);
    height = view.getInt32(22, true);
    bpp = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    colorsUsed = view.getUint32(46, true);
    if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
      // V4/V5 carry the masks inside the header; the info header has them right after it.
      const at = 14 + 40;
      const withAlpha = headerSize >= 56 || compression === BI_ALPHABITFIELDS;
      if (bytes.length < at + (withAlpha ? 16 : 12)) fail('file ends inside the bit-field masks');
      masks = [view.getUint32(at, true), view.getUint32(at + 4, true), view.getUint32(at + 8, true), withAlpha ? view.getUint32(at + 12, true) : 0];
    } else if (headerSize >= 56) {
      // V4/V5 with BI_RGB: masks present but unused.
    }
  } else {
    return fail(`unknown header size ${headerSize}`);
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw new ImageDecodeError(name, `BMP compression ${compression} (RLE/JPEG/PNG inside BMP) is not supported; save it uncompressed`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) fail(`empty raster ${width}x${height}`);
  if (width * height > 200e6) fail(`raster ${width}x${height} is too large`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail(`unsupported bits per pixel ${bpp}`);

  // Palette.
  let palette: Uint8Array | null = null; // [n, 3] RGB
  if (bpp <= 8) {
    const count = colorsUsed > 0 ? colorsUsed : 1 << bpp;
    if (count > 1 << bpp) fail(`palette of ${count} colours for ${bpp}-bit pixels`);
    let at = 14 + headerSize;
    if (headerSize === 40 && masks) at += 12;
    if (at + count * paletteEntryBytes > bytes.length) fail('file ends inside the palette');
    palette = new Uint8Array(count * 3);
    for (let i = 0; i < count; i++) {
      const o = at + i * paletteEntryBytes;
      palette[3 * i] = bytes[o + 2]!;
      palette[3 * i + 1] = bytes[o + 1]!;
      palette[3 * i + 2] = bytes[o]!;
    }
  }

  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + rowBytes * (height - 1) + Math.ceil((width * bpp) / 8) > bytes.length) {
    fail(`pixel data needs ${rowBytes * height} bytes from offset ${dataOffset}, file has ${bytes.length - dataOffset}`);
  }
  const rowStart = (y: number): number => dataOffset + (topDown ? y : height - 1 - y) * rowBytes;

  if (palette) {
    const count = palette.length / 3;
    let gray = true;
    for (let i = 0; i < count; i++) {
      if (palette[3 * i] !== palette[3 * i + 1] || palette[3 * i] !== palette[3 * i + 2]) gray = false;
    }
    const channels = gray ? 1 : 3;
    const out = new Uint8Array(width * height * channels);
    const perByte = 8 / bpp;
    const indexMask = (1 << bpp) - 1;
    for (let y = 0; y < height; y++) {
      const row = rowStart(y);
      for (let x = 0; x < width; x++) {
        let index: number;
        if (bpp === 8) index = bytes[row + x]!;
        else {
          const byte = bytes[row + Math.floor(x / perByte)]!;
          index = (byte >> (8 - bpp * ((x % perByte) + 1))) & indexMask;
        }
        if (index >= count) fail(`pixel (${x}, ${y}) uses palette index ${index}, palette has ${count} colours`);
        const o = (y * width + x) * channels;
        if (gray) out[o] = palette[3 * index]!;
        else {
          out[o] = palette[3 * index]!;
          out[o + 1] = palette[3 * index + 1]!;
          out[o + 2] = palette[3 * index + 2]!;
        }
      }
    }
    return { width, height, channels, bitDepth: 8, data: out, format: 'bmp' };
  }

  if (bpp === 24) {
    const out = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      const row = rowStart(y);
      for (let x = 0; x < width; x++) {
        const i = row + 3 * x;
        const o = (y * width + x) * 3;
        out[o] = bytes[i + 2]!;
        out[o + 1] = bytes[i + 1]!;
        out[o + 2] = bytes[i]!;
      }
    }
    return { width, height, channels: 3, bitDepth: 8, data: out, format: 'bmp' };
  }

  // 16 and 32 bit: bit fields (defaults: 5-5-5 for 16 bit, 8-8-8 for 32 bit).
  const [rMask, gMask, bMask, aMask] = masks ?? (bpp === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0x00ff0000, 0x0000ff00, 0x000000ff, 0]);
  const channels = aMask !== 0 ? 4 : 3;
  const fields = [rMask, gMask, bMask, aMask].slice(0, channels).map(maskField);
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = rowStart(y);
    for (let x = 0; x < width; x++) {
      const px = bpp === 16 ? view.getUint16(row + 2 * x, true) : view.getUint32(row + 4 * x, true);
      const o = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) out[o + c] = fields[c]!(px);
    }
  }
  return { width, height, channels, bitDepth: 8, data: out, format: 'bmp' };
}

/** Extracts one bit field and scales it to 0..255. */
function maskField(mask: number): (px: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1) bits++;
  const max = 2 ** bits - 1;
  return (px) => Math.round((((px & mask) >>> shift) * 255) / max);
}

/** What {@link encodeBmp} writes. */
export interface BmpEncodeInput {
  width: number;
  height: number;
  /** 1 gray (8-bit gray palette), 3 RGB (24 bit), 4 RGBA (32 bit with an alpha bit field, V4 header). */
  channels: 1 | 3 | 4;
  /** 8-bit samples [H, W, channels]; with `palette`, one palette index per pixel. */
  data: Uint8Array;
  /** Write rows top-down (negative height) instead of the usual bottom-up. */
  topDown?: boolean;
  /** Colour palette ([r, g, b] each, at most 256) for 8-bit indexed images (`channels` must be 1). */
  palette?: number[][];
}

/** Encodes an uncompressed BMP (used to build test data and by users exporting masks). */
export function encodeBmp(image: BmpEncodeInput): Uint8Array {
  const { width, height, channels, data, topDown = false, palette } = image;
  checkRaster('encodeBmp', width, height, channels, data.length);
  if (palette && channels !== 1) throw new RangeError('encodeBmp: a palette needs channels = 1 (one index per pixel)');
  if (palette && (palette.length === 0 || palette.length > 256)) throw new RangeError(`encodeBmp: palette must have 1..256 colours, got ${palette.length}`);
  const bpp = channels === 1 ? 8 : channels * 8;
  const headerSize = channels === 4 ? 108 : 40;
  const colors = channels === 1 ? (palette ?? Array.from({ length: 256 }, (_, i) => [i, i, i])) : [];
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  const dataOffset = 14 + headerSize + colors.length * 4;
  const size = dataOffset + rowBytes * height;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, size, true);
  view.setUint32(10, dataOffset, true);
  view.setUint32(14, headerSize, true);
  view.setInt32(18, width, true);
  view.setInt32(22, topDown ? -height : height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bpp, true);
  view.setUint32(30, channels === 4 ? BI_BITFIELDS : BI_RGB, true);
  view.setUint32(34, rowBytes * height, true);
  view.setInt32(38, 2835, true);
  view.setInt32(42, 2835, true);
  view.setUint32(46, colors.length, true);
  if (channels === 4) {
    view.setUint32(54, 0x00ff0000, true);
    view.setUint32(58, 0x0000ff00, true);
    view.setUint32(62, 0x000000ff, true);
    view.setUint32(66, 0xff000000, true);
    view.setUint32(70, 0x73524742, true); // 'sRGB'
  }
  colors.forEach((c, i) => {
    const o = 14 + headerSize + 4 * i;
    out[o] = c[2] ?? 0;
    out[o + 1] = c[1] ?? 0;
    out[o + 2] = c[0] ?? 0;
  });
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      if (channels === 1) {
        if (palette && data[i]! >= palette.length)
          throw new RangeError(`encodeBmp: pixel (${x}, ${y}) has index ${data[i]}, palette has ${palette.length} colours`);
        out[row + x] = data[i]!;
      } else {
        const o = row + x * channels;
        out[o] = data[i + 2]!;
        out[o + 1] = data[i + 1]!;
        out[o + 2] = data[i]!;
        if (channels === 4) out[o + 3] = data[i + 3]!;
      }
    }
  }
  return out;
}
