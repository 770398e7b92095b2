import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './codecs/decode-image';
import { DEFAULT_MAX_PIXELS, ImageTooLargeError } from './codecs/pixel-limit';
import { ImageDecodeError } from './errors';
import { decodeImageNode, imageDecoderInfo } from './node-decode';

const DIR = join(__dirname, '..', '..', '..', 'fixtures', 'decode');

interface GoldenCase {
  file: string;
  pil_mode: string;
  width: number;
  height: number;
  channels: number;
  dtype: 'uint8' | 'uint16';
}

const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as { pillow: string; cases: GoldenCase[] };

function golden(c: GoldenCase): Uint8Array | Uint16Array {
  const raw = readFileSync(join(DIR, `${c.file}.pil.bin`));
  if (c.dtype === 'uint8') return new Uint8Array(raw);
  const out = new Uint16Array(raw.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = raw.readUInt16LE(2 * i);
  return out;
}

/** PIL reads 16-bit RGB PNGs as 8-bit RGB (the high byte of each sample). */
function asPil(data: Uint8Array | Uint16Array, c: GoldenCase): Uint8Array | Uint16Array {
  if (data instanceof Uint16Array && c.dtype === 'uint8') return Uint8Array.from(data, (v) => v >> 8);
  return data;
}

function countDiffs(a: ArrayLike<number>, b: ArrayLike<number>): { count: number; max: number } {
  let count = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > 0) count++;
    if (d > max) max = d;
  }
  return { count, max };
}

describe(`decoding equals PIL ${index.pillow} (fixtures/decode)`, async () => {
  const info = await imageDecoderInfo();
  for (const c of index.cases) {
    const lossy = c.file.endsWith('.jpg');
    it(`${c.file} (PIL mode ${c.pil_mode})${lossy && info.decoder !== 'sharp' ? ': pure-JS JPEG decoding is only close' : ''}`, async () => {
      const decoded = await decodeImageNode(readFileSync(join(DIR, c.file)), c.file);
      expect([decoded.width, decoded.height]).toEqual([c.width, c.height]);
      const expected = golden(c);
      let actual = asPil(decoded.data, c);
      // jpeg-js returns gray JPEGs as RGB with equal channels
      if (decoded.channels === 3 && c.channels === 1) actual = actual.filter((_, i) => i % 3 === 0);
      expect(actual.length).toBe(expected.length);
      const diff = countDiffs(actual, expected);
      if (lossy && info.decoder !== 'sharp') expect(diff.max).toBeLessThanOrEqual(96);
      else expect(diff).toEqual({ count: 0, max: 0 });
    });
  }
});

describe('decoder in use', () => {
  it('reports sharp when it loads, else the pure-JS codecs with the reason', async () => {
    const info = await imageDecoderInfo();
    if (info.decoder === 'sharp') expect(info.version).toMatch(/^sharp \d+\.\d+\.\d+, libvips \d+/);
    else expect(info.reason).toBeTruthy();
  });

  it('names the file of a corrupt JPEG', async () => {
    const bytes = readFileSync(join(DIR, 'rgb-420.jpg'));
    await expect(decodeImageNode(bytes.subarray(0, 400), 'cam/broken.jpg')).rejects.toThrow(ImageDecodeError);
    await expect(decodeImageNode(bytes.subarray(0, 400), 'cam/broken.jpg')).rejects.toThrow(/cam\/broken\.jpg: /);
  });
});

/** A valid 8-bit gray PNG of `width x height` zeros, deflated row by row (never holds the raster). */
function hugeGrayPng(width: number, height: number): Uint8Array {
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (b: Uint8Array) => {
    let c = -1;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'ascii');
    out.set(data, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // gray
  // A few rows stand for the whole raster: the size check must come before any decoding.
  const idat = deflateSync(Buffer.alloc((width + 1) * 4));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

describe('pixel limit', () => {
  it('refuses a 20000 x 20000 PNG before decoding, naming the file, its size and the limit, without growing memory', async () => {
    const png = hugeGrayPng(20000, 20000);
    const before = process.memoryUsage().rss;
    for (const decode of [async (b: Uint8Array, n: string) => decodeImageNode(b, n), async (b: Uint8Array, n: string) => decodeImage(b, n)]) {
      const err = await decode(png, 'scans/huge.png').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageTooLargeError);
      expect((err as Error).message).toMatch(/^scans\/huge\.png: image is 20000x20000 = 400,000,000 pixels, over the limit of 178,956,970 pixels/);
    }
    // the raster alone would be 400 MB; the refusal holds nothing of it
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a 60000 x 60000 header and a JPEG header over a lowered limit', async () => {
    await expect(decodeImageNode(hugeGrayPng(60000, 60000), 'bomb.png')).rejects.toThrow(/bomb\.png: image is 60000x60000/);
    const jpeg = readFileSync(join(DIR, 'rgb-420.jpg'));
    await expect(decodeImageNode(jpeg, 'small.jpg', { maxPixels: 1000 })).rejects.toThrow(
      /small\.jpg: image is 61x48 = 2,928 pixels, over the limit of 2,000 pixels/,
    );
    expect(() => decodeImage(jpeg, 'small.jpg', { maxPixels: 1000 })).toThrow(ImageTooLargeError);
  });

  it('warns between the limit and twice the limit, and decodes', async () => {
    const warnings: string[] = [];
    const image = await decodeImageNode(readFileSync(join(DIR, 'rgb8.png')), 'mid.png', { maxPixels: 2000, onWarning: (w) => warnings.push(w) });
    expect(image.width).toBe(61);
    expect(warnings).toEqual([expect.stringMatching(/^mid\.png: image is 61x48 = 2,928 pixels, over --max-pixels 2,000/)]);
    expect(DEFAULT_MAX_PIXELS).toBe(89_478_485);
  });
});

describe('the names of @hgm/data/node', () => {
  it('decodeImage is the PIL-exact Node decoder; the pure-JS one is decodeImagePureJs', async () => {
    const node = await import('./node');
    expect(node.decodeImage).toBe(decodeImageNode);
    expect(node.decodeImagePureJs).toBe(decodeImage);
    const browserSafe = await import('./index');
    expect(browserSafe.decodeImage).toBe(decodeImage);
    // a JPEG fixture: the plain name decodes as PIL does where sharp runs
    if ((await imageDecoderInfo()).decoder === 'sharp') {
      const c = index.cases.find((x) => x.file === 'progressive-420.jpg')!;
      const decoded = await node.decodeImage(readFileSync(join(DIR, c.file)), c.file);
      expect(countDiffs(decoded.data, golden(c)).count).toBe(0);
      expect(countDiffs(node.decodeImagePureJs(readFileSync(join(DIR, c.file)), c.file).data, golden(c)).count).toBeGreaterThan(0);
    }
  });
});
