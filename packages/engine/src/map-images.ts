/** Turns model inputs and anomaly maps into PNG bytes: input, ground truth, heat map, overlay. */
import { encodePng } from '@hgm/data';
import { imageHW, type ImageSize } from '@hgm/tensor';
import { heatmapRgb, overlayRgb, drawMaskOutline, type Normalization } from './colormap';
import type { EnginePreprocess } from './engine-model';

/** Recovers 8-bit RGB (interleaved) from normalised planar pixels [3 * H * W] (H x W = `pre.size`). */
export function denormalize(pixels: Float32Array, pre: EnginePreprocess): Uint8Array {
  const [h, w] = imageHW(pre.size);
  const n = h * w;
  const out = new Uint8Array(n * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = (pixels[c * n + i]! * pre.std[c]! + pre.mean[c]!) * 255;
      out[3 * i + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}

/** PNG of interleaved RGB [H * W * 3] at the model input size (a side, or `[height, width]`). */
export function rgbPng(rgb: Uint8Array, size: ImageSize): Uint8Array {
  const [height, width] = imageHW(size);
  return encodePng({ width, height, channels: 3, bitDepth: 8, data: rgb });
}

/** Gray PNG of a 0/1 mask [H * W]. */
export function maskPng(mask: Uint8Array, size: ImageSize): Uint8Array {
  const [height, width] = imageHW(size);
  const gray = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) gray[i] = mask[i] ? 255 : 0;
  return encodePng({ width, height, channels: 1, bitDepth: 8, data: gray });
}

/** Heat map PNG of a map [H * W]. */
export function heatmapPng(map: Float32Array, size: ImageSize, norm?: Normalization): Uint8Array {
  return rgbPng(heatmapRgb(map, norm), size);
}

/** Overlay PNG: the heat map blended over the input, with the ground-truth outline when given. */
export function overlayPng(rgb: Uint8Array, map: Float32Array, size: ImageSize, norm?: Normalization, mask?: Uint8Array): Uint8Array {
  const [height, width] = imageHW(size);
  const over = overlayRgb(rgb, heatmapRgb(map, norm), 0.5);
  if (mask) drawMaskOutline(over, mask, width, height);
  return rgbPng(over, size);
}
