import { describe, expect, it } from 'vitest';
import { decodeBmp, encodeBmp } from './bmp';
import { decodeImage } from './decode-image';

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 37 + seed * 11) % 256;
  return out;
}

/** A BMP with an info header built by hand, for encodings the encoder does not write. */
function rawBmp(opts: {
  width: number;
  height: number;
  bpp: number;
  compression?: number;
  palette?: number[][];
  masks?: number[];
  rows: number[][];
}): Uint8Array {
  const { width, height, bpp, compression = 0, palette = [], masks = [], rows } = opts;
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  const offset = 14 + 40 + masks.length * 4 + palette.length * 4;
  const out = new Uint8Array(offset + rowBytes * Math.abs(height));
  const v = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  v.setUint32(2, out.length, true);
  v.setUint32(10, offset, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, bpp, true);
  v.setUint32(30, compression, true);
  v.setUint32(46, palette.length, true);
  masks.forEach((m, i) => v.setUint32(54 + 4 * i, m, true));
  palette.forEach((c, i) => {
    const o = 54 + masks.length * 4 + 4 * i;
    out[o] = c[2]!;
    out[o + 1] = c[1]!;
    out[o + 2] = c[0]!;
  });
  // rows are given top row first; stored bottom-up for positive height.
  rows.forEach((r, y) => out.set(r, offset + (height > 0 ? height - 1 - y : y) * rowBytes));
  return out;
}

describe('BMP round trips', () => {
  for (const topDown of [false, true]) {
    for (const width of [5, 6, 7, 8]) {
      it(`24-bit ${topDown ? 'top-down' : 'bottom-up'} width ${width} (row padding)`, () => {
        const data = pattern(width * 3 * 3, width);
        const decoded = decodeImage(encodeBmp({ width, height: 3, channels: 3, data, topDown }), 'x.bmp');
        expect(decoded).toMatchObject({ width, height: 3, channels: 3, bitDepth: 8, format: 'bmp' });
        expect(Array.from(decoded.data)).toEqual(Array.from(data));
      });
    }
  }

  it('32-bit with alpha bit field', () => {
    const data = pattern(4 * 3 * 4, 2);
    const decoded = decodeBmp(encodeBmp({ width: 4, height: 3, channels: 4, data }), 'a.bmp');
    expect(decoded.channels).toBe(4);
    expect(Array.from(decoded.data)).toEqual(Array.from(data));
  });

  it('8-bit gray palette decodes to one channel', () => {
    const data = pattern(7 * 2, 3);
    for (const topDown of [false, true]) {
      const decoded = decodeBmp(encodeBmp({ width: 7, height: 2, channels: 1, data, topDown }), 'g.bmp');
      expect(decoded.channels).toBe(1);
      expect(Array.from(decoded.data)).toEqual(Array.from(data));
    }
  });

  it('8-bit colour palette decodes to RGB', () => {
    const palette = [
      [0, 0, 0],
      [250, 10, 20],
      [3, 4, 5],
    ];
    const decoded = decodeBmp(encodeBmp({ width: 3, height: 1, channels: 1, data: new Uint8Array([2, 0, 1]), palette }), 'p.bmp');
    expect(decoded.channels).toBe(3);
    expect(Array.from(decoded.data)).toEqual([3, 4, 5, 0, 0, 0, 250, 10, 20]);
  });

  it('1-bit and 4-bit palettes', () => {
    const one = rawBmp({
      width: 3,
      height: 2,
      bpp: 1,
      palette: [
        [0, 0, 0],
        [255, 255, 255],
      ],
      rows: [[0b10100000], [0b01000000]],
    });
    expect(Array.from(decodeBmp(one, '1.bmp').data)).toEqual([255, 0, 255, 0, 255, 0]);
    const four = rawBmp({
      width: 3,
      height: 1,
      bpp: 4,
      palette: [
        [0, 0, 0],
        [10, 20, 30],
        [40, 50, 60],
      ],
      rows: [[0x21, 0x00]],
    });
    expect(Array.from(decodeBmp(four, '4.bmp').data)).toEqual([40, 50, 60, 10, 20, 30, 0, 0, 0]);
  });

  it('16-bit 5-5-5 and 32-bit BI_RGB (padding byte, no alpha)', () => {
    // 16 bit: pure red (0x7c00) and pure blue (0x001f), little endian.
    const b16 = rawBmp({ width: 2, height: 1, bpp: 16, rows: [[0x00, 0x7c, 0x1f, 0x00]] });
    expect(Array.from(decodeBmp(b16, '16.bmp').data)).toEqual([255, 0, 0, 0, 0, 255]);
    const b32 = rawBmp({ width: 1, height: -1, bpp: 32, rows: [[30, 20, 10, 0]] });
    const d32 = decodeBmp(b32, '32.bmp');
    expect(d32.channels).toBe(3);
    expect(Array.from(d32.data)).toEqual([10, 20, 30]);
  });

  it('refuses RLE and truncated files, naming the file', () => {
    const rle = rawBmp({ width: 2, height: 1, bpp: 8, compression: 1, palette: [[0, 0, 0]], rows: [[0, 0]] });
    expect(() => decodeImage(rle, 'btad/03/ground_truth/ko/0000.bmp')).toThrow(/btad\/03\/ground_truth\/ko\/0000\.bmp: BMP compression 1/);
    const good = encodeBmp({ width: 8, height: 8, channels: 3, data: new Uint8Array(192) });
    expect(() => decodeImage(good.subarray(0, 100), 'short.bmp')).toThrow(/short\.bmp: corrupt BMP \(pixel data needs/);
    const badIndex = rawBmp({ width: 1, height: 1, bpp: 8, palette: [[0, 0, 0]], rows: [[5]] });
    expect(() => decodeBmp(badIndex, 'idx.bmp')).toThrow(/idx\.bmp: corrupt BMP \(pixel \(0, 0\) uses palette index 5/);
  });
});
