import { describe, expect, it } from 'vitest';
import {
  planResize,
  preprocessImage,
  preprocessMask,
  resolvePreprocessConfig,
  DEFAULT_PREPROCESS_CONFIG,
  CLIP_MEAN,
  CLIP_STD,
  type PreprocessConfig,
} from './preprocess';
import type { DecodedImage } from './codecs/image';

describe('planResize (torchvision Resize(size) + CenterCrop(size))', () => {
  const crop = { size: 224, resize: 'shortest-side-then-center-crop' as const };
  it('scales the shorter side and floors the longer', () => {
    expect(planResize(640, 480, crop)).toEqual({ resizeWidth: 298, resizeHeight: 224, cropX: 37, cropY: 0, height: 224, width: 224 });
    expect(planResize(480, 640, crop)).toEqual({ resizeWidth: 224, resizeHeight: 298, cropX: 0, cropY: 37, height: 224, width: 224 });
    expect(planResize(224, 224, crop)).toEqual({ resizeWidth: 224, resizeHeight: 224, cropX: 0, cropY: 0, height: 224, width: 224 });
  });
  it('rounds crop offsets half to even, as Python round()', () => {
    // 301x200 -> 337x224; (337 - 224) / 2 = 56.5 -> 56.
    expect(planResize(301, 200, crop).cropX).toBe(56);
    // 7x4 at size 4 -> 7x4; (7 - 4) / 2 = 1.5 -> 2.
    expect(planResize(7, 4, { size: 4, resize: 'shortest-side-then-center-crop' }).cropX).toBe(2);
    // 9x4 at size 4 -> 9x4; 2.5 -> 2.
    expect(planResize(9, 4, { size: 4, resize: 'shortest-side-then-center-crop' }).cropX).toBe(2);
  });
  it('squash resizes to size x size', () => {
    expect(planResize(640, 480, { size: 518, resize: 'squash' })).toEqual({ resizeWidth: 518, resizeHeight: 518, cropX: 0, cropY: 0, height: 518, width: 518 });
  });
});

describe('non-square sizes [height, width]', () => {
  it('squash resizes to width x height; the centre crop takes a height x width window', () => {
    expect(planResize(640, 480, { size: [24, 40], resize: 'squash' })).toEqual({
      resizeWidth: 40,
      resizeHeight: 24,
      cropX: 0,
      cropY: 0,
      height: 24,
      width: 40,
    });
    // shorter side to the larger side of the size (40): 640x480 -> 53x40, then a 40 x 24 window at the centre.
    expect(planResize(640, 480, { size: [24, 40], resize: 'shortest-side-then-center-crop' })).toEqual({
      resizeWidth: 53,
      resizeHeight: 40,
      cropX: 6,
      cropY: 8,
      height: 24,
      width: 40,
    });
  });

  it('lays out images [3, H, W] and masks [H, W] row-major, the same geometry for both', () => {
    const cfg: PreprocessConfig = { size: [4, 8], mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', resize: 'squash' };
    // 16 x 8 image: the left half white, the right half black; the mask marks the left half too.
    const image: DecodedImage = { width: 16, height: 8, channels: 3, bitDepth: 8, data: new Uint8Array(16 * 8 * 3), format: 'png' };
    const mask = { width: 16, height: 8, data: new Uint8Array(16 * 8) };
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) {
        image.data.set([255, 255, 255], 3 * (y * 16 + x));
        mask.data[y * 16 + x] = 1;
      }
    const px = preprocessImage(image, cfg);
    const m = preprocessMask(mask, cfg);
    expect(px.length).toBe(3 * 4 * 8);
    expect(m.length).toBe(4 * 8);
    for (let y = 0; y < 4; y++) {
      expect(Array.from(m.subarray(y * 8, y * 8 + 8))).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
      expect(px[y * 8]).toBeCloseTo(1, 5);
      expect(px[y * 8 + 7]).toBeCloseTo(0, 5);
    }
  });

  it('validates both sides and a resizeSize below the larger side', () => {
    expect(resolvePreprocessConfig({ size: [240, 320] }).size).toEqual([240, 320]);
    expect(() => resolvePreprocessConfig({ size: [240, 0] })).toThrow(/preprocess\.size must be a positive integer or \[height, width\].*\[240,0\]/);
    expect(() => resolvePreprocessConfig({ size: [240, 320], resizeSize: 300 })).toThrow(
      'preprocess.resizeSize must be an integer of at least the larger side of size (320), got 300',
    );
  });
});

describe('preprocessImage / preprocessMask', () => {
  const config: PreprocessConfig = { ...DEFAULT_PREPROCESS_CONFIG, size: 16 };

  it('normalises with the backbone mean/std', () => {
    const image: DecodedImage = { width: 20, height: 12, channels: 3, bitDepth: 8, data: new Uint8Array(20 * 12 * 3), format: 'png' };
    for (let i = 0; i < 240; i++) image.data.set([51, 102, 204], 3 * i);
    const out = preprocessImage(image, config);
    expect(out.length).toBe(3 * 16 * 16);
    const rgb = [51 / 255, 102 / 255, 204 / 255];
    for (let c = 0; c < 3; c++) {
      const expected = (rgb[c]! - CLIP_MEAN[c]!) / CLIP_STD[c]!;
      for (let i = 0; i < 256; i++) expect(out[c * 256 + i]).toBeCloseTo(expected, 5);
    }
  });

  it('reads 16-bit and gray images at full depth', () => {
    const image: DecodedImage = { width: 16, height: 16, channels: 1, bitDepth: 16, data: new Uint16Array(256).fill(32768), format: 'png' };
    const out = preprocessImage(image, { ...config, mean: [0, 0, 0], std: [1, 1, 1] });
    for (const v of out) expect(v).toBeCloseTo(32768 / 65535, 6);
  });

  it('keeps masks aligned with their images through resize and crop', () => {
    for (const resize of ['shortest-side-then-center-crop', 'squash'] as const) {
      const W = 48;
      const H = 32;
      const image: DecodedImage = { width: W, height: H, channels: 3, bitDepth: 8, data: new Uint8Array(W * H * 3), format: 'png' };
      const mask = { width: W, height: H, data: new Uint8Array(W * H) };
      for (let y = 10; y < 22; y++) {
        for (let x = 20; x < 32; x++) {
          image.data.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
          mask.data[y * W + x] = 1;
        }
      }
      const cfg = {
        ...config,
        resize,
        mean: [0, 0, 0] as [number, number, number],
        std: [1, 1, 1] as [number, number, number],
        interpolation: 'bilinear' as const,
      };
      const px = preprocessImage(image, cfg);
      const m = preprocessMask(mask, cfg);
      let agree = 0;
      for (let i = 0; i < 256; i++) if ((px[i]! > 0.5 ? 1 : 0) === m[i]) agree++;
      expect(agree).toBeGreaterThanOrEqual(250);
      expect(m.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }
  });

  it('validates the config naming the field', () => {
    expect(resolvePreprocessConfig({ size: 336 }).size).toBe(336);
    expect(() => resolvePreprocessConfig({ size: 0 })).toThrow(/preprocess\.size/);
    expect(() => resolvePreprocessConfig({ std: [1, 0, 1] })).toThrow(/preprocess\.std must be positive/);
    expect(() => resolvePreprocessConfig({ interpolation: 'nearest' as never })).toThrow(/preprocess\.interpolation/);
    expect(() => resolvePreprocessConfig({ resize: 'crop' as never })).toThrow(/preprocess\.resize/);
  });
});

describe('resize size different from the crop (DINOv2: Resize(256) + CenterCrop(224))', () => {
  it('resizes the shorter side to resizeSize, then crops size at the centre', () => {
    expect(planResize(640, 480, { size: 224, resize: 'shortest-side-then-center-crop', resizeSize: 256 })).toEqual({
      resizeWidth: 341,
      resizeHeight: 256,
      cropX: 58,
      cropY: 16,
      height: 224,
      width: 224,
    });
    expect(planResize(256, 256, { size: 224, resize: 'shortest-side-then-center-crop', resizeSize: 256 })).toEqual({
      resizeWidth: 256,
      resizeHeight: 256,
      cropX: 16,
      cropY: 16,
      height: 224,
      width: 224,
    });
  });

  it('refuses a resizeSize below the crop or with squash, naming the field', () => {
    expect(() => resolvePreprocessConfig({ size: 224, resizeSize: 200 })).toThrow('preprocess.resizeSize must be an integer of at least size (224), got 200');
    expect(() => resolvePreprocessConfig({ size: 224, resizeSize: 256, resize: 'squash' })).toThrow(
      /resizeSize applies only to resize 'shortest-side-then-center-crop', found resize "squash"/,
    );
    expect(resolvePreprocessConfig({ size: 224, resizeSize: 256 }).resizeSize).toBe(256);
  });
});
