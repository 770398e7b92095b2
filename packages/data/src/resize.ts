import type { Mask } from './mask';

/** Resampling filter for images (masks always use nearest neighbour). */
export type Interpolation = 'bicubic' | 'bilinear';

interface Filter {
  support: number;
  weight(x: number): number;
}

/** Keys cubic with a = -0.5, as PIL's BICUBIC (torchvision's bicubic on PIL images). */
const BICUBIC: Filter = {
  support: 2,
  weight(x) {
    const a = -0.5;
    const t = Math.abs(x);
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
    return 0;
  },
};

/** Triangle filter, as PIL's BILINEAR. */
const BILINEAR: Filter = {
  support: 1,
  weight(x) {
    const t = Math.abs(x);
    return t < 1 ? 1 - t : 0;
  },
};

/** Per-output-pixel source window and normalised weights along one axis. */
interface AxisCoefficients {
  /** First source index of each output pixel. */
  start: Int32Array;
  /** Number of source pixels of each output pixel. */
  count: Int32Array;
  /** [outSize, taps] weights, zero-padded. */
  weights: Float32Array;
  taps: number;
}

/**
 * PIL's separable resampling coefficients: when shrinking, the filter is widened by the scale factor
 * (antialiasing), so every source pixel contributes.
 */
function axisCoefficients(inSize: number, outSize: number, filter: Filter): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const n = hi - lo;
    for (let k = 0; k < n; k++) {
      const w = filter.weight((k + lo - center + 0.5) / filterScale);
      weights[o * taps + k] = w;
      total += w;
    }
    if (total !== 0) for (let k = 0; k < n; k++) weights[o * taps + k]! /= total;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, taps };
}

/**
 * Resizes planar float images as PIL's `Image.resize` does (the reference pipelines resize PIL images):
 * separable convolution, horizontal pass then vertical, with antialiasing when shrinking. Each pass clamps to
 * [lo, hi] as PIL's 8-bit passes clip to 0..255 (pass `clamp: null` to keep bicubic overshoot). PIL rounds
 * to 8 bits after each pass; this keeps float precision, so results rounded to 8 bits are within one level of
 * PIL's, and without clamping they equal PIL's float mode 'F' to a few float32 ulps (fixtures/resize).
 * @param src [C, H, W]
 * @returns [C, outHeight, outWidth]
 */
export function resizePlanar(
  src: Float32Array,
  channels: number,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
  interpolation: Interpolation,
  options: { clamp?: [number, number] | null } = {},
): Float32Array {
  if (src.length !== channels * height * width) {
    throw new RangeError(`resizePlanar: source has ${src.length} values, expected ${channels}x${height}x${width}`);
  }
  if (!(Number.isInteger(outHeight) && Number.isInteger(outWidth) && outHeight > 0 && outWidth > 0)) {
    throw new RangeError(`resizePlanar: output size must be positive integers, got ${outWidth}x${outHeight}`);
  }
  const filter = interpolation === 'bicubic' ? BICUBIC : BILINEAR;
  const clamp = options.clamp === undefined ? ([0, 1] as [number, number]) : options.clamp;
  const lo = clamp ? clamp[0] : -Infinity;
  const hi = clamp ? clamp[1] : Infinity;

  // Horizontal pass: [C, H, W] -> [C, H, outW].
  let horizontal = src;
  if (outWidth !== width) {
    const { start, count, weights, taps } = axisCoefficients(width, outWidth, filter);
    horizontal = new Float32Array(channels * height * outWidth);
    for (let row = 0; row < channels * height; row++) {
      const inRow = row * width;
      const outRow = row * outWidth;
      for (let o = 0; o < outWidth; o++) {
        const base = inRow + start[o]!;
        const n = count[o]!;
        const wOff = o * taps;
        let acc = 0;
        for (let k = 0; k < n; k++) acc += src[base + k]! * weights[wOff + k]!;
        horizontal[outRow + o] = acc < lo ? lo : acc > hi ? hi : acc;
      }
    }
  }
  if (outHeight === height) return horizontal === src ? new Float32Array(src) : horizontal;

  // Vertical pass: [C, H, outW] -> [C, outH, outW].
  const cy = axisCoefficients(height, outHeight, filter);
  const out = new Float32Array(channels * outHeight * outWidth);
  const acc = new Float64Array(outWidth);
  for (let c = 0; c < channels; c++) {
    const inPlane = c * height * outWidth;
    const outPlane = c * outHeight * outWidth;
    for (let o = 0; o < outHeight; o++) {
      const s = cy.start[o]!;
      const n = cy.count[o]!;
      const wOff = o * cy.taps;
      const outRow = outPlane + o * outWidth;
      // Row-wise accumulation keeps the reads contiguous.
      acc.fill(0);
      for (let k = 0; k < n; k++) {
        const w = cy.weights[wOff + k]!;
        const inRow = inPlane + (s + k) * outWidth;
        for (let x = 0; x < outWidth; x++) acc[x]! += horizontal[inRow + x]! * w;
      }
      for (let x = 0; x < outWidth; x++) {
        const v = acc[x]!;
        out[outRow + x] = v < lo ? lo : v > hi ? hi : v;
      }
    }
  }
  return out;
}

/**
 * Nearest-neighbour resize of a mask as PIL's NEAREST: output pixel o takes source pixel
 * `floor((o + 0.5) * in / out)`. Values stay exactly 0/1.
 */
export function resizeMaskNearest(mask: Mask, outWidth: number, outHeight: number): Mask {
  const { width, height, data } = mask;
  if (outWidth === width && outHeight === height) return { width, height, data: new Uint8Array(data) };
  const xs = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) xs[x] = Math.min(Math.floor(((x + 0.5) * width) / outWidth), width - 1);
  const out = new Uint8Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(Math.floor(((y + 0.5) * height) / outHeight), height - 1);
    const inRow = sy * width;
    const outRow = y * outWidth;
    for (let x = 0; x < outWidth; x++) out[outRow + x] = data[inRow + xs[x]!]!;
  }
  return { width: outWidth, height: outHeight, data: out };
}
