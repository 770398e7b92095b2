/**
 * Heat-map colouring of anomaly maps and overlays on the input image, on plain typed arrays (RGB, row-major).
 */
import { ShapeError } from '@hgm/tensor';

/** Control points of a perceptual blue-to-red map (close to matplotlib's "jet" as AnomalyCLIP plots, but smoother). */
const STOPS: [number, [number, number, number]][] = [
  [0.0, [48, 18, 59]],
  [0.15, [65, 69, 171]],
  [0.3, [57, 135, 246]],
  [0.45, [27, 207, 212]],
  [0.6, [97, 252, 108]],
  [0.72, [210, 233, 53]],
  [0.84, [254, 155, 45]],
  [0.93, [222, 61, 10]],
  [1.0, [122, 4, 3]],
];

/** The colour of a value in [0, 1] (clamped). */
export function colorOf(v: number): [number, number, number] {
  const x = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  for (let i = 1; i < STOPS.length; i++) {
    const [p1, c1] = STOPS[i]!;
    if (x <= p1) {
      const [p0, c0] = STOPS[i - 1]!;
      const t = (x - p0) / (p1 - p0);
      return [Math.round(c0[0] + t * (c1[0] - c0[0])), Math.round(c0[1] + t * (c1[1] - c0[1])), Math.round(c0[2] + t * (c1[2] - c0[2]))];
    }
  }
  return STOPS[STOPS.length - 1]![1];
}

/** How map values become [0, 1] before colouring. */
export interface Normalization {
  /** Value drawn at the bottom of the scale. */
  min: number;
  /** Value drawn at the top of the scale. */
  max: number;
}

/** Min-max normalisation over one map (the per-image view) — constant maps become all zero. */
export function minMax(map: ArrayLike<number>): Normalization {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max: max > min ? max : min + 1 };
}

/**
 * Colours an anomaly map.
 * @param map [H * W] values
 * @returns RGB bytes [H * W * 3]
 */
export function heatmapRgb(map: ArrayLike<number>, norm: Normalization = minMax(map)): Uint8Array {
  const out = new Uint8Array(map.length * 3);
  const span = norm.max - norm.min;
  for (let i = 0; i < map.length; i++) {
    const c = colorOf((map[i]! - norm.min) / span);
    out[3 * i] = c[0];
    out[3 * i + 1] = c[1];
    out[3 * i + 2] = c[2];
  }
  return out;
}

/**
 * Blends a heat map over an RGB image of the same size: out = (1 - alpha) image + alpha heat.
 * @param image RGB bytes [H * W * 3]
 * @param heat RGB bytes [H * W * 3]
 */
export function overlayRgb(image: Uint8Array, heat: Uint8Array, alpha = 0.5): Uint8Array {
  if (image.length !== heat.length) throw new ShapeError(`overlay: image has ${image.length} bytes, heat map has ${heat.length}`);
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.round((1 - alpha) * image[i]! + alpha * heat[i]!);
  return out;
}

/** Draws a binary mask's outline (1-pixel border of the foreground) onto an RGB image in place. */
export function drawMaskOutline(
  image: Uint8Array,
  mask: ArrayLike<number>,
  width: number,
  height: number,
  color: [number, number, number] = [255, 255, 255],
): void {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
      if (edge) {
        image[3 * i] = color[0];
        image[3 * i + 1] = color[1];
        image[3 * i + 2] = color[2];
      }
    }
  }
}
