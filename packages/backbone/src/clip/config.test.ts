import { describe, it, expect } from 'vitest';
import { CLIP_CONFIGS, CLIP_MEAN, CLIP_STD, clipConfigFromConstructorArgs, resolveClipConfig } from './config';
import { clipParameterShapes } from './parameters';
import { vvBlocksFromDpamLayer } from './types';

describe('CLIP configs', () => {
  it('hold the real openai sizes', () => {
    expect(CLIP_CONFIGS['ViT-B/16']).toMatchObject({
      embedDim: 512,
      vision: { imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12 },
      text: { width: 512, heads: 8, layers: 12, vocabSize: 49408, contextLength: 77 },
    });
    expect(CLIP_CONFIGS['ViT-L/14']).toMatchObject({
      embedDim: 768,
      vision: { imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16 },
      text: { width: 768, heads: 12, layers: 12 },
    });
    expect(CLIP_CONFIGS['ViT-L/14@336px']).toMatchObject({ embedDim: 768, vision: { imageSize: 336, patchSize: 14, width: 1024, layers: 24, heads: 16 } });
    for (const c of Object.values(CLIP_CONFIGS)) {
      expect(c.preprocess).toMatchObject({ size: c.vision.imageSize, mean: CLIP_MEAN, std: CLIP_STD, interpolation: 'bicubic' });
    }
  });

  it('count the real number of parameters (ViT-B/16: 149.6 M; ViT-L/14@336: 427.9 M)', () => {
    const count = (name: keyof typeof CLIP_CONFIGS) => clipParameterShapes(CLIP_CONFIGS[name]).reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
    expect(count('ViT-B/16')).toBe(149620737);
    expect(count('ViT-L/14@336px')).toBe(427944193);
  });

  it('resolveClipConfig applies overrides and explains every invalid field', () => {
    expect(resolveClipConfig({ vision: { imageSize: 518 } }).vision).toMatchObject({ imageSize: 518, patchSize: 14 });
    expect(() => resolveClipConfig({ vision: { imageSize: 500, heads: 7 }, embedDim: 0 })).toThrow(
      /embedDim must be a positive integer.*vision\.width 1024 is not divisible by vision\.heads 7.*imageSize 500 is not a multiple of vision\.patchSize 14/,
    );
    expect(() => resolveClipConfig({}, 'ViT-H/99' as never)).toThrow(/unknown base architecture/);
  });

  it('builds from openai constructor arguments with vision heads = width / 64', () => {
    const c = clipConfigFromConstructorArgs({
      embed_dim: 32,
      image_resolution: 32,
      vision_layers: 3,
      vision_width: 128,
      vision_patch_size: 8,
      context_length: 77,
      vocab_size: 49408,
      transformer_width: 48,
      transformer_heads: 4,
      transformer_layers: 3,
    });
    expect(c.vision).toEqual({ imageSize: 32, patchSize: 8, width: 128, layers: 3, heads: 2 });
    expect(c.text).toEqual({ contextLength: 77, vocabSize: 49408, width: 48, heads: 4, layers: 3 });
    expect(() => clipConfigFromConstructorArgs({ vision_layers: [3, 4, 6, 3] } as never)).toThrow(/ResNet/);
  });

  it('maps AnomalyCLIP DPAM_layer to the number of V-V blocks', () => {
    expect(vvBlocksFromDpamLayer(20)).toBe(19);
    expect(vvBlocksFromDpamLayer(null)).toBe(0);
    expect(() => vvBlocksFromDpamLayer(0)).toThrow(/positive integer/);
  });
});
