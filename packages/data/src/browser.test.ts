import { afterEach, describe, expect, it } from 'vitest';
import { decodeImageInBrowser, pickedFilesFileSystem } from './browser';
import { encodePng } from './codecs/png';
import { encodeJpeg } from './codecs/jpeg';

const g = globalThis as Record<string, unknown>;
afterEach(() => {
  delete g.createImageBitmap;
  delete g.OffscreenCanvas;
});

/** Minimal stand-ins for the platform decoder: a 2x1 bitmap whose pixels are fixed RGBA values. */
function fakePlatform(fail = false): void {
  g.createImageBitmap = async () => {
    if (fail) throw new Error('decode failed');
    return { width: 2, height: 1, close() {} };
  };
  g.OffscreenCanvas = class {
    getContext() {
      return { drawImage() {}, getImageData: () => ({ data: new Uint8ClampedArray([1, 2, 3, 255, 4, 5, 6, 128]) }) };
    }
  };
}

describe('decodeImageInBrowser', () => {
  const jpeg = encodeJpeg({ width: 2, height: 1, channels: 3, data: new Uint8Array(6).fill(9) });

  it('routes JPEG through createImageBitmap + OffscreenCanvas, dropping alpha', async () => {
    fakePlatform();
    const decoded = await decodeImageInBrowser(jpeg, 'a.jpg');
    expect(decoded).toMatchObject({ width: 2, height: 1, channels: 3, bitDepth: 8, format: 'jpeg' });
    expect(Array.from(decoded.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('keeps PNG on the exact decoder (16-bit masks stay 16-bit)', async () => {
    fakePlatform();
    const png = encodePng({ width: 2, height: 1, channels: 1, bitDepth: 16, data: new Uint16Array([1, 65535]) });
    const decoded = await decodeImageInBrowser(png, 'm.png');
    expect(decoded.bitDepth).toBe(16);
    expect(Array.from(decoded.data)).toEqual([1, 65535]);
  });

  it('names the file when the platform fails, and falls back without a platform decoder', async () => {
    fakePlatform(true);
    await expect(decodeImageInBrowser(jpeg, 'x/broken.jpg')).rejects.toThrow(/x\/broken\.jpg: corrupt JPEG \(the browser cannot decode it: decode failed\)/);
    delete g.createImageBitmap;
    const decoded = await decodeImageInBrowser(jpeg, 'a.jpg');
    expect(decoded.width).toBe(2);
  });

  it('serves picked files by their relative path', async () => {
    const file = new File([new Uint8Array([1, 2, 3])], 'a.png');
    Object.defineProperty(file, 'webkitRelativePath', { value: 'set/good/a.png' });
    const fs = pickedFilesFileSystem([file]);
    expect(await fs.kind('set/good')).toBe('directory');
    expect(Array.from(await fs.readFile('set/good/a.png'))).toEqual([1, 2, 3]);
  });
});
