import { describe, expect, it } from 'vitest';
import { parseImageSizeOption } from './image-size-option';
import { resolveOptions, type Schema } from './config-file';

describe('--image-size', () => {
  it('reads a side, or WIDTHxHEIGHT into [height, width]; a square pair is a side', () => {
    expect(parseImageSizeOption('512')).toBe(512);
    expect(parseImageSizeOption(512)).toBe(512);
    expect(parseImageSizeOption('320x240')).toEqual([240, 320]);
    expect(parseImageSizeOption(' 320 X 240 ')).toEqual([240, 320]);
    expect(parseImageSizeOption('64x64')).toBe(64);
    for (const bad of ['', 'x', '320x', '320x240x3', '-8', '0', '0x16', '1.5', 12.5, [240, 320], null]) expect(parseImageSizeOption(bad)).toBeUndefined();
  });

  it('is validated like every option, from the command line and from a config file', () => {
    const schema: Schema = { imageSize: { type: 'image-size', min: 8, description: 'input size' } };
    expect(resolveOptions(schema, {}, undefined, undefined, { imageSize: '48x24' })).toEqual({ imageSize: [24, 48] });
    expect(resolveOptions(schema, {}, { imageSize: '48x24' }, 'run.yaml', {})).toEqual({ imageSize: [24, 48] });
    expect(resolveOptions(schema, {}, { imageSize: 32 }, 'run.yaml', {})).toEqual({ imageSize: 32 });
    expect(() => resolveOptions(schema, {}, undefined, undefined, { imageSize: '48by24' })).toThrow(
      'command line: option --image-size must be a side in pixels (512) or WIDTHxHEIGHT (320x240), found "48by24"',
    );
    expect(() => resolveOptions(schema, {}, { imageSize: '48x4' }, 'run.yaml', {})).toThrow(
      'config file run.yaml: field "imageSize" must be a side in pixels (512) or WIDTHxHEIGHT (320x240) with each side at least 8, found "48x4"',
    );
  });
});
