import { describe, expect, it } from 'vitest';
import { decodeJpeg, encodeJpeg } from './jpeg';
import { decodeImage } from './decode-image';

function gradient(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = Math.round((x / (width - 1)) * 255);
      data[o + 1] = Math.round((y / (height - 1)) * 255);
      data[o + 2] = 128;
    }
  }
  return data;
}

describe('JPEG', () => {
  it('round-trips a smooth image within lossy tolerance', () => {
    const data = gradient(40, 24);
    const bytes = encodeJpeg({ width: 40, height: 24, channels: 3, data }, 95);
    expect(Array.from(bytes.subarray(0, 3))).toEqual([0xff, 0xd8, 0xff]);
    const decoded = decodeImage(bytes, 'g.jpg');
    expect(decoded).toMatchObject({ width: 40, height: 24, channels: 3, bitDepth: 8, format: 'jpeg' });
    let max = 0;
    let sum = 0;
    for (let i = 0; i < data.length; i++) {
      const d = Math.abs(decoded.data[i]! - data[i]!);
      max = Math.max(max, d);
      sum += d;
    }
    expect(sum / data.length).toBeLessThan(2);
    expect(max).toBeLessThan(16);
  });

  it('accepts RGBA input (alpha ignored)', () => {
    const rgba = new Uint8Array(8 * 8 * 4).fill(200);
    const decoded = decodeJpeg(encodeJpeg({ width: 8, height: 8, channels: 4, data: rgba }, 90), 'a.jpg');
    expect(decoded.channels).toBe(3);
    for (const v of decoded.data) expect(Math.abs(v - 200)).toBeLessThanOrEqual(2);
  });

  it('a truncated file fails naming the file', () => {
    const bytes = encodeJpeg({ width: 16, height: 16, channels: 3, data: gradient(16, 16) }, 90);
    expect(() => decodeImage(bytes.subarray(0, 40), 'visa/candle/000.JPG')).toThrow(/visa\/candle\/000\.JPG: corrupt JPEG/);
  });

  it('checks encoder input', () => {
    expect(() => encodeJpeg({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) })).toThrow(/expected 2x2x3/);
    expect(() => encodeJpeg({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }, 0)).toThrow(/quality/);
  });
});
