import { describe, expect, it } from 'vitest';
import { decodeImage, hasImageExtension, sniffImageFormat } from './decode-image';
import { encodePng } from './png';
import { ImageDecodeError } from '../errors';

describe('decodeImage', () => {
  it('takes the format from the content, not the extension', () => {
    const png = encodePng({ width: 1, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([9]) });
    expect(decodeImage(png, 'misnamed.jpg').format).toBe('png');
  });

  it('names the file and what was found for unsupported or empty files', () => {
    expect(() => decodeImage(new Uint8Array([0x49, 0x49, 0x2a, 0, 1, 2]), 'med/scan.tif')).toThrow(/med\/scan\.tif: not a PNG, JPEG or BMP image: TIFF/);
    expect(() => decodeImage(new Uint8Array(0), 'empty.png')).toThrow(/empty\.png: .*an empty file/);
    expect(() => decodeImage(new TextEncoder().encode('hello'), 'note.png')).toThrow(ImageDecodeError);
    expect(sniffImageFormat(new TextEncoder().encode('GIF89a'))).toEqual({ unknown: 'GIF (not supported: convert to PNG)' });
  });

  it('recognises image extensions case-insensitively', () => {
    expect(['a.PNG', 'b.JPG', 'c.jpeg', 'd.bmp'].map(hasImageExtension)).toEqual([true, true, true, true]);
    expect(['a.tiff', 'b.txt', 'noext'].map(hasImageExtension)).toEqual([false, false, false]);
  });
});
