import { describe, expect, it } from 'vitest';
import { binarizeMask, countMaskPixels, unionMasks } from './mask';
import type { DecodedImage } from './codecs/image';
import { decodeImage } from './codecs/decode-image';
import { encodePng } from './codecs/png';
import { encodeJpeg } from './codecs/jpeg';

const img = (channels: 1 | 2 | 3 | 4, bitDepth: 8 | 16, values: number[], format: DecodedImage['format'] = 'png'): DecodedImage => ({
  width: values.length / channels,
  height: 1,
  channels,
  bitDepth,
  data: bitDepth === 16 ? new Uint16Array(values) : new Uint8Array(values),
  format,
});

describe('binarizeMask: anomalous where any colour channel > 0 at full depth', () => {
  it('counts 16-bit values of 1 (an 8-bit read would drop them)', () => {
    const bytes = encodePng({ width: 4, height: 1, channels: 1, bitDepth: 16, data: new Uint16Array([0, 1, 255, 65535]) });
    expect(Array.from(binarizeMask(decodeImage(bytes, 'm16.png')).data)).toEqual([0, 1, 1, 1]);
  });

  it('counts small class ids (VisA-style masks hold 1, 2, ...)', () => {
    expect(Array.from(binarizeMask(img(1, 8, [0, 1, 2, 0])).data)).toEqual([0, 1, 1, 0]);
  });

  it('looks at every colour channel and ignores alpha', () => {
    expect(Array.from(binarizeMask(img(3, 8, [0, 0, 0, 0, 0, 9, 9, 0, 0])).data)).toEqual([0, 1, 1]);
    expect(Array.from(binarizeMask(img(4, 8, [0, 0, 0, 255, 0, 7, 0, 0])).data)).toEqual([0, 1]);
    expect(Array.from(binarizeMask(img(2, 16, [0, 65535, 3, 0])).data)).toEqual([0, 1]);
  });

  it('uses >= 128 for lossy JPEG masks', () => {
    expect(Array.from(binarizeMask(img(3, 8, [3, 3, 3, 127, 0, 0, 128, 0, 0], 'jpeg')).data)).toEqual([0, 0, 1]);
    const data = new Uint8Array(16 * 16 * 3);
    for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) data.fill(255, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
    const mask = binarizeMask(decodeImage(encodeJpeg({ width: 16, height: 16, channels: 3, data }, 75), 'm.jpg'));
    const expected = 64;
    expect(Math.abs(countMaskPixels(mask) - expected)).toBeLessThanOrEqual(8);
  });

  it('unites several masks and refuses different sizes naming the file', () => {
    const a = binarizeMask(img(1, 8, [1, 0, 0]));
    const b = binarizeMask(img(1, 8, [0, 0, 5]));
    expect(Array.from(unionMasks([a, b], ['a.png', 'b.png']).data)).toEqual([1, 0, 1]);
    const c = binarizeMask(img(1, 8, [0, 0]));
    expect(() => unionMasks([a, c], ['gt/000.png', 'gt/001.png'])).toThrow(/gt\/001\.png: mask is 2x1, but gt\/000\.png is 3x1/);
  });
});
