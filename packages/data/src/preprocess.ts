import { imageHW, type ImageSize } from '@hgm/tensor';
import { toPlanarRgb, type DecodedImage } from './codecs/image';
import type { Mask } from './mask';
import { resizeMaskNearest, resizePlanar, type Interpolation } from './resize';

/**
 * How images are prepared for a backbone. Structurally the same as `PreprocessConfig` of `@hgm/backbone`
 * (an encoder's `info.preprocess` can be passed as is).
 */
export interface PreprocessConfig {
  /** Model input size in pixels: a square side (e.g. 224, 336, 518) or `[height, width]`. */
  size: ImageSize;
  /** Per-channel mean of [0, 1] RGB. */
  mean: [number, number, number];
  /** Per-channel std of [0, 1] RGB. */
  std: [number, number, number];
  /** Resize filter the reference uses (bicubic for CLIP and DINO). */
  interpolation: Interpolation;
  /** `shortest-side-then-center-crop` (CLIP, DINOv2 eval) or `squash` (DINOv3, AnomalyCLIP: resize to height x width, whatever the aspect). */
  resize: 'shortest-side-then-center-crop' | 'squash';
  /**
   * Side the shorter edge is resized to before the centre crop to `size` (default: the larger side of
   * `size`): DINOv2's evaluation resizes to 256 and crops 224. Only for `shortest-side-then-center-crop`.
   */
  resizeSize?: number;
}

/** OpenAI CLIP's normalisation. */
export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** ImageNet normalisation (DINOv2, DINOv3). */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** CLIP's own pipeline: bicubic resize of the shortest side, centre crop, CLIP mean/std. */
export const DEFAULT_PREPROCESS_CONFIG: PreprocessConfig = {
  size: 224,
  mean: CLIP_MEAN,
  std: CLIP_STD,
  interpolation: 'bicubic',
  resize: 'shortest-side-then-center-crop',
};

/** Fills defaults and validates; throws naming the field, what was expected and what was found. */
export function resolvePreprocessConfig(config: Partial<PreprocessConfig> = {}): PreprocessConfig {
  const c: PreprocessConfig = { ...DEFAULT_PREPROCESS_CONFIG, ...config };
  const sizeOk = typeof c.size === 'number' || (Array.isArray(c.size) && c.size.length === 2);
  if (!sizeOk || imageHW(c.size).some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new RangeError(`preprocess.size must be a positive integer or [height, width] of positive integers, got ${JSON.stringify(c.size)}`);
  }
  const [height, width] = imageHW(c.size);
  for (const key of ['mean', 'std'] as const) {
    const v = c[key];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => !Number.isFinite(x))) {
      throw new RangeError(`preprocess.${key} must be 3 finite numbers, got ${JSON.stringify(v)}`);
    }
  }
  if (c.std.some((s) => s <= 0)) throw new RangeError(`preprocess.std must be positive, got ${JSON.stringify(c.std)}`);
  if (c.interpolation !== 'bicubic' && c.interpolation !== 'bilinear') {
    throw new RangeError(`preprocess.interpolation must be 'bicubic' or 'bilinear', got ${JSON.stringify(c.interpolation)}`);
  }
  if (c.resize !== 'shortest-side-then-center-crop' && c.resize !== 'squash') {
    throw new RangeError(`preprocess.resize must be 'shortest-side-then-center-crop' or 'squash', got ${JSON.stringify(c.resize)}`);
  }
  if (c.resizeSize !== undefined) {
    if (c.resize !== 'shortest-side-then-center-crop')
      throw new RangeError(`preprocess.resizeSize applies only to resize 'shortest-side-then-center-crop', found resize ${JSON.stringify(c.resize)}`);
    const side = Math.max(height, width);
    if (!Number.isInteger(c.resizeSize) || c.resizeSize < side)
      throw new RangeError(
        `preprocess.resizeSize must be an integer of at least ${height === width ? 'size' : 'the larger side of size'} (${side}), got ${c.resizeSize}`,
      );
  }
  return c;
}

/**
 * Where an image of a given size goes: resized to `resizeWidth x resizeHeight`, then a `width x height`
 * window cropped at (`cropX`, `cropY`).
 */
export interface ResizePlan {
  resizeWidth: number;
  resizeHeight: number;
  cropX: number;
  cropY: number;
  /** Model input height in pixels. */
  height: number;
  /** Model input width in pixels. */
  width: number;
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop offsets use it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The geometry torchvision applies: `Resize(r)` makes the shorter side `r` (`resizeSize`, default the larger
 * side of `size`) and the longer `floor(r * long / short)`; `CenterCrop((height, width))` starts at
 * `round((dim - side) / 2)`. `squash` resizes to `height x width` with no crop.
 */
export function planResize(width: number, height: number, config: Pick<PreprocessConfig, 'size' | 'resize' | 'resizeSize'>): ResizePlan {
  const [outH, outW] = imageHW(config.size);
  if (config.resize === 'squash') return { resizeWidth: outW, resizeHeight: outH, cropX: 0, cropY: 0, height: outH, width: outW };
  const side = config.resizeSize ?? Math.max(outH, outW);
  let resizeWidth: number;
  let resizeHeight: number;
  if (width <= height) {
    resizeWidth = side;
    resizeHeight = Math.floor((side * height) / width);
  } else {
    resizeHeight = side;
    resizeWidth = Math.floor((side * width) / height);
  }
  return {
    resizeWidth,
    resizeHeight,
    cropX: roundHalfEven((resizeWidth - outW) / 2),
    cropY: roundHalfEven((resizeHeight - outH) / 2),
    height: outH,
    width: outW,
  };
}

/**
 * Resizes, crops and normalises one image: `(rgb / max - mean) / std` per channel.
 * @returns [3, H, W] float32 (H x W the model input size)
 */
export function preprocessImage(image: DecodedImage, config: PreprocessConfig): Float32Array {
  const plan = planResize(image.width, image.height, config);
  const resized = resizePlanar(toPlanarRgb(image), 3, image.height, image.width, plan.resizeHeight, plan.resizeWidth, config.interpolation);
  const { height: H, width: W } = plan;
  const out = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) {
    const mean = config.mean[c]!;
    const inv = 1 / config.std[c]!;
    const inPlane = c * plan.resizeHeight * plan.resizeWidth;
    const outPlane = c * H * W;
    for (let y = 0; y < H; y++) {
      const inRow = inPlane + (y + plan.cropY) * plan.resizeWidth + plan.cropX;
      const outRow = outPlane + y * W;
      for (let x = 0; x < W; x++) out[outRow + x] = (resized[inRow + x]! - mean) * inv;
    }
  }
  return out;
}

/**
 * The mask through the same geometry as its image, with nearest-neighbour resizing (values stay 0/1).
 * @returns [H, W] of 0/1
 */
export function preprocessMask(mask: Mask, config: Pick<PreprocessConfig, 'size' | 'resize'>): Uint8Array {
  const plan = planResize(mask.width, mask.height, config);
  const resized = resizeMaskNearest(mask, plan.resizeWidth, plan.resizeHeight);
  const { height: H, width: W } = plan;
  const out = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    const inRow = (y + plan.cropY) * plan.resizeWidth + plan.cropX;
    out.set(resized.data.subarray(inRow, inRow + W), y * W);
  }
  return out;
}
