import { describe, expect, it } from 'vitest';
import { encode as fastPngEncode } from 'fast-png';
import { decodePng, encodePng } from './png';
import { decodeImage } from './decode-image';
import { ImageDecodeError } from '../errors';

const W = 5;
const H = 3;

function ramp(n: number, max: number, Ctor: typeof Uint8Array | typeof Uint16Array): Uint8Array | Uint16Array {
  const out = new Ctor(n);
  for (let i = 0; i < n; i++) out[i] = Math.round((i * 7919) % (max + 1));
  // Make sure the extremes are present.
  out[0] = 0;
  out[n - 1] = max;
  return out;
}

describe('PNG round trips at full bit depth', () => {
  for (const channels of [1, 2, 3, 4] as const) {
    for (const bitDepth of [8, 16] as const) {
      it(`${channels} channel(s), ${bitDepth} bit`, () => {
        const data = ramp(W * H * channels, bitDepth === 16 ? 65535 : 255, bitDepth === 16 ? Uint16Array : Uint8Array);
        const decoded = decodeImage(encodePng({ width: W, height: H, channels, bitDepth, data }), 'x.png');
        expect(decoded).toMatchObject({ width: W, height: H, channels, bitDepth, format: 'png' });
        expect(decoded.data).toBeInstanceOf(bitDepth === 16 ? Uint16Array : Uint8Array);
        expect(Array.from(decoded.data)).toEqual(Array.from(data));
      });
    }
  }

  it('keeps small 16-bit values that an 8-bit read would lose', () => {
    const data = new Uint16Array([0, 1, 2, 255, 256, 65535]);
    const decoded = decodePng(encodePng({ width: 6, height: 1, channels: 1, bitDepth: 16, data }), 'm.png');
    expect(Array.from(decoded.data)).toEqual([0, 1, 2, 255, 256, 65535]);
  });

  it('expands an 8-bit palette to RGB', () => {
    const palette = [
      [0, 0, 0],
      [255, 0, 0],
      [10, 200, 30],
    ];
    const indices = new Uint8Array([0, 1, 2, 2, 1, 0]);
    const decoded = decodePng(encodePng({ width: 3, height: 2, channels: 1, bitDepth: 8, data: indices, palette }), 'p.png');
    expect(decoded).toMatchObject({ channels: 3, bitDepth: 8 });
    expect(Array.from(decoded.data)).toEqual([0, 0, 0, 255, 0, 0, 10, 200, 30, 10, 200, 30, 255, 0, 0, 0, 0, 0]);
  });

  it('expands a palette with transparency to RGBA', () => {
    const palette = [
      [0, 0, 0, 0],
      [9, 8, 7, 128],
    ];
    const decoded = decodePng(encodePng({ width: 2, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([1, 0]), palette }), 'p.png');
    expect(decoded.channels).toBe(4);
    expect(Array.from(decoded.data)).toEqual([9, 8, 7, 128, 0, 0, 0, 0]);
  });

  it('expands a 2-bit palette (packed rows)', () => {
    const palette = [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
      [10, 11, 12],
    ];
    // Width 5 at 2 bits: 2 bytes per row. Indices 0,1,2,3,1 then 3,3,0,0,2.
    const row = (a: number[]) => [(a[0]! << 6) | (a[1]! << 4) | (a[2]! << 2) | a[3]!, a[4]! << 6];
    const packed = new Uint8Array([...row([0, 1, 2, 3, 1]), ...row([3, 3, 0, 0, 2])]);
    const decoded = decodePng(encodePng({ width: 5, height: 2, channels: 1, bitDepth: 2, data: packed, palette }), 'p2.png');
    expect(decoded.channels).toBe(3);
    const idx = Array.from({ length: 10 }, (_, i) => decoded.data[3 * i]!);
    expect(idx).toEqual([1, 4, 7, 10, 4, 10, 10, 1, 1, 7]);
  });

  for (const depth of [1, 2, 4] as const) {
    it(`expands ${depth}-bit gray to the full 8-bit range`, () => {
      const max = (1 << depth) - 1;
      const values = [0, max, 0, max, max, 0, 1 % (max + 1), max];
      const width = values.length;
      const perByte = 8 / depth;
      const packed = new Uint8Array(Math.ceil(width / perByte));
      values.forEach((v, x) => (packed[Math.floor(x / perByte)]! |= v << (8 - depth * ((x % perByte) + 1))));
      const bytes = fastPngEncode({ width, height: 1, data: packed, depth, channels: 1 });
      const decoded = decodePng(bytes, 'low.png');
      expect(decoded).toMatchObject({ channels: 1, bitDepth: 8 });
      expect(Array.from(decoded.data)).toEqual(values.map((v) => Math.round((v * 255) / max)));
    });
  }

  it('is deterministic', () => {
    const data = ramp(W * H * 3, 255, Uint8Array);
    const a = encodePng({ width: W, height: H, channels: 3, bitDepth: 8, data });
    const b = encodePng({ width: W, height: H, channels: 3, bitDepth: 8, data });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});

describe('corrupt PNG', () => {
  const good = encodePng({ width: 8, height: 8, channels: 3, bitDepth: 8, data: new Uint8Array(8 * 8 * 3).fill(77) });

  it('truncated file names the file', () => {
    expect(() => decodeImage(good.subarray(0, good.length - 20), 'cat/test/crack/003.png')).toThrow(ImageDecodeError);
    expect(() => decodeImage(good.subarray(0, good.length - 20), 'cat/test/crack/003.png')).toThrow(/cat\/test\/crack\/003\.png: corrupt PNG/);
  });

  it('a flipped data byte fails the CRC check', () => {
    const bad = new Uint8Array(good);
    const idat = Buffer.from(bad).indexOf('IDAT');
    bad[idat + 6]! ^= 0xff;
    expect(() => decodeImage(bad, 'flip.png')).toThrow(/flip\.png: corrupt PNG/);
  });

  it('refuses inconsistent encoder input', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, bitDepth: 8, data: new Uint8Array(5) })).toThrow(/expected 2x2x3 = 12 samples, got 5/);
    expect(() => encodePng({ width: 1, height: 1, channels: 1, bitDepth: 16, data: new Uint8Array(1) })).toThrow(/Uint16Array/);
  });
});
