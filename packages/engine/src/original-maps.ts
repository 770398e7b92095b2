/**
 * Anomaly maps at the original image's size and aspect: the model's H x W map is carried back through the
 * resize/crop geometry of the pre-processing, pixels the crop removed are marked as not evaluated, and the
 * heat map and overlay are drawn there, with the threshold contour and the ground-truth outline.
 */
import { encodePng, planResize, type DecodedImage, type Mask } from '@hgm/data';
import { colorOf, drawMaskOutline, heatmapRgb, type Normalization } from './colormap';
import type { EnginePreprocess } from './engine-model';
import { formatScaleValue } from './map-scale';

/** A model map carried back to the original image. */
export interface OriginalMap {
  width: number;
  height: number;
  /** Map values [H * W] (bilinear between the model's map pixels); 0 where not evaluated. */
  values: Float32Array;
  /** 1 where the model saw the pixel, 0 where the centre crop removed it. */
  evaluated: Uint8Array;
}

/**
 * Samples a model map [H * W] (the model input size) at every pixel of a `width x height` image, undoing `planResize`: original
 * pixel centre (x + 0.5) maps to (x + 0.5) * resizeWidth / width - 0.5 - cropX on the map.
 */
export function mapToOriginal(map: Float32Array, width: number, height: number, pre: Pick<EnginePreprocess, 'size' | 'resize'>): OriginalMap {
  const plan = planResize(width, height, pre);
  const { height: H, width: W } = plan;
  if (map.length !== H * W) throw new RangeError(`mapToOriginal: map has ${map.length} values, expected ${H}x${W} = ${H * W} (height x width)`);
  const values = new Float32Array(width * height);
  const evaluated = new Uint8Array(width * height);
  const sx = plan.resizeWidth / width;
  const sy = plan.resizeHeight / height;
  const xs = new Float64Array(width);
  for (let x = 0; x < width; x++) xs[x] = (x + 0.5) * sx - 0.5 - plan.cropX;
  for (let y = 0; y < height; y++) {
    const my = (y + 0.5) * sy - 0.5 - plan.cropY;
    if (my < -0.5 || my > H - 0.5) continue;
    const cy = Math.min(H - 1, Math.max(0, my));
    const y0 = Math.floor(cy);
    const y1 = Math.min(H - 1, y0 + 1);
    const fy = cy - y0;
    for (let x = 0; x < width; x++) {
      const mx = xs[x]!;
      if (mx < -0.5 || mx > W - 0.5) continue;
      const cx = Math.min(W - 1, Math.max(0, mx));
      const x0 = Math.floor(cx);
      const x1 = Math.min(W - 1, x0 + 1);
      const fx = cx - x0;
      const top = map[y0 * W + x0]! * (1 - fx) + map[y0 * W + x1]! * fx;
      const bottom = map[y1 * W + x0]! * (1 - fx) + map[y1 * W + x1]! * fx;
      values[y * width + x] = top * (1 - fy) + bottom * fy;
      evaluated[y * width + x] = 1;
    }
  }
  return { width, height, values, evaluated };
}

/** 8-bit RGB (interleaved) of a decoded image at its own size: gray replicated, alpha dropped, 16 bit scaled. */
export function imageRgb8(image: DecodedImage): Uint8Array {
  const { width, height, channels, data } = image;
  const n = width * height;
  const out = new Uint8Array(3 * n);
  const scale = image.bitDepth === 16 ? 255 / 65535 : 1;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = channels <= 2 ? data[i * channels]! : data[i * channels + c]!;
      out[3 * i + c] = scale === 1 ? v : Math.round(v * scale);
    }
  }
  return out;
}

/** Gray diagonal hatching for pixels the model did not see. */
function notEvaluated(x: number, y: number): [number, number, number] {
  return (x + y) % 8 < 2 ? [90, 90, 90] : [160, 160, 160];
}

/** Options of {@link originalMapPngs}. */
export interface OriginalMapOptions {
  norm: Normalization;
  /** Pixels at or above it get a contour (black and white dashes). */
  threshold?: number;
  /** The ground-truth mask at the image's size: outlined in green. */
  mask?: Mask | null;
}

/** The heat map and the overlay PNGs at the image's size (see {@link mapToOriginal}). */
export function originalMapPngs(
  image: DecodedImage,
  map: Float32Array,
  pre: Pick<EnginePreprocess, 'size' | 'resize'>,
  options: OriginalMapOptions,
): { heatmap: Uint8Array; overlay: Uint8Array } {
  const m = mapToOriginal(map, image.width, image.height, pre);
  const { width, height } = m;
  const heat = heatmapRgb(m.values, options.norm);
  const over = imageRgb8(image);
  for (let i = 0; i < width * height; i++) {
    if (m.evaluated[i]) {
      for (let c = 0; c < 3; c++) over[3 * i + c] = Math.round(0.5 * over[3 * i + c]! + 0.5 * heat[3 * i + c]!);
    } else {
      const h = notEvaluated(i % width, Math.floor(i / width));
      for (let c = 0; c < 3; c++) {
        heat[3 * i + c] = h[c]!;
        over[3 * i + c] = Math.round(0.35 * over[3 * i + c]! + 0.65 * h[c]!);
      }
    }
  }
  if (options.threshold !== undefined) {
    const above = new Uint8Array(width * height);
    for (let i = 0; i < above.length; i++) above[i] = m.evaluated[i] && m.values[i]! >= options.threshold ? 1 : 0;
    drawMaskOutline(over, above, width, height, [255, 255, 255]);
    drawMaskOutline(heat, above, width, height, [255, 255, 255]);
  }
  if (options.mask) {
    if (options.mask.width !== width || options.mask.height !== height) {
      throw new RangeError(`ground-truth mask is ${options.mask.width}x${options.mask.height}, its image ${width}x${height}`);
    }
    drawMaskOutline(over, options.mask.data, width, height, [0, 255, 0]);
  }
  return {
    heatmap: encodePng({ width, height, channels: 3, bitDepth: 8, data: heat }),
    overlay: encodePng({ width, height, channels: 3, bitDepth: 8, data: over }),
  };
}

/** 3 x 5 pixel glyphs of the characters tick labels use. */
const GLYPHS: Record<string, string> = {
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '111001111100111',
  '3': '111001111001111',
  '4': '101101111001001',
  '5': '111100111001111',
  '6': '111100111101111',
  '7': '111001001001001',
  '8': '111101111101111',
  '9': '111101111001111',
  '.': '000000000000010',
  '-': '000000111000000',
  '+': '000010111010000',
  e: '000111101110011',
};

function drawText(rgb: Uint8Array, width: number, text: string, x0: number, y0: number, scale: number): void {
  let x = x0;
  for (const ch of text) {
    const g = GLYPHS[ch];
    if (g) {
      for (let gy = 0; gy < 5; gy++) {
        for (let gx = 0; gx < 3; gx++) {
          if (g[gy * 3 + gx] !== '1') continue;
          for (let dy = 0; dy < scale; dy++) {
            for (let dx = 0; dx < scale; dx++) {
              const o = 3 * ((y0 + gy * scale + dy) * width + x + gx * scale + dx);
              rgb[o] = rgb[o + 1] = rgb[o + 2] = 0;
            }
          }
        }
      }
    }
    x += 4 * scale;
  }
}

/**
 * A vertical colour bar for the heat maps: the colour scale from `norm.min` (bottom) to `norm.max` (top) with
 * five labelled ticks (as {@link formatScaleValue} writes them), on white.
 */
export function colorBarPng(norm: Normalization, ticks = 5): Uint8Array {
  const scale = 2;
  const barW = 24;
  const barH = 256;
  const pad = 12;
  const labels = Array.from({ length: ticks }, (_, k) => norm.min + ((norm.max - norm.min) * k) / (ticks - 1));
  const texts = labels.map(formatScaleValue);
  const textW = Math.max(...texts.map((t) => t.length)) * 4 * scale;
  const width = pad + barW + 6 + 4 + textW + pad;
  const height = barH + 2 * pad;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < barH; y++) {
    const c = colorOf(1 - y / (barH - 1));
    for (let x = 0; x < barW; x++) {
      const o = 3 * ((pad + y) * width + pad + x);
      rgb[o] = c[0];
      rgb[o + 1] = c[1];
      rgb[o + 2] = c[2];
    }
  }
  texts.forEach((t, k) => {
    const y = pad + Math.round((barH - 1) * (1 - k / (ticks - 1)));
    for (let x = pad + barW; x < pad + barW + 6; x++) {
      const o = 3 * (y * width + x);
      rgb[o] = rgb[o + 1] = rgb[o + 2] = 0;
    }
    const ty = Math.min(height - 5 * scale, Math.max(0, y - Math.floor((5 * scale) / 2)));
    drawText(rgb, width, t, pad + barW + 10, ty, scale);
  });
  return encodePng({ width, height, channels: 3, bitDepth: 8, data: rgb });
}
