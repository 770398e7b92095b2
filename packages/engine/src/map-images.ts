/** Turns model inputs and anomaly maps into PNG bytes: input, ground truth, heat map, overlay. */
import { encodePng } from '@hgm/data';
import { heatmapRgb, overlayRgb, drawMaskOutline, type Normalization } from './colormap';
import type { EnginePreprocess } from './engine-model';

/** Recovers 8-bit RGB (interleaved) from normalised planar pixels [3 * S * S]. */
export function denormalize(pixels: Float32Array, pre: EnginePreprocess): Uint8Array {
  const n = pre.size * pre.size;
  const out = new Uint8Array(n * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = (pixels[c * n + i]! * pre.std[c]! + pre.mean[c]!) * 255;
      out[3 * i + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}

export function rgbPng(rgb: Uint8Array, size: number): Uint8Array {
  return encodePng({ width: size, height: size, channels: 3, bitDepth: 8, data: rgb });
}

export function maskPng(mask: Uint8Array, size: number): Uint8Array {
  const gray = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) gray[i] = mask[i] ? 255 : 0;
  return encodePng({ width: size, height: size, channels: 1, bitDepth: 8, data: gray });
}

/** Heat map PNG of a map [S * S]. */
export function heatmapPng(map: Float32Array, size: number, norm?: Normalization): Uint8Array {
  return rgbPng(heatmapRgb(map, norm), size);
}

/** Overlay PNG: the heat map blended over the input, with the ground-truth outline when given. */
export function overlayPng(rgb: Uint8Array, map: Float32Array, size: number, norm?: Normalization, mask?: Uint8Array): Uint8Array {
  const over = overlayRgb(rgb, heatmapRgb(map, norm), 0.5);
  if (mask) drawMaskOutline(over, mask, size, size);
  return rgbPng(over, size);
}
