/** Container formats the decoders understand (TIFF and WebP only through sharp in Node). */
export type ImageFormat = 'png' | 'jpeg' | 'bmp' | 'tiff' | 'webp';

/**
 * A decoded raster at its full bit depth, interleaved and row-major: pixel (x, y) channel c is
 * `data[(y * width + x) * channels + c]`.
 *
 * - channels 1: gray; 2: gray + alpha; 3: RGB; 4: RGBA.
 * - bitDepth 8: `Uint8Array` (0..255); 16: `Uint16Array` (0..65535). Palette images are expanded to RGB(A);
 *   1/2/4-bit gray is expanded to 8 bit with the full range kept (a 1-bit 1 becomes 255).
 */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  bitDepth: 8 | 16;
  data: Uint8Array | Uint16Array;
  /** The container the pixels came from (masks in lossy JPEG get a different binarisation rule). */
  format: ImageFormat;
}

/** Largest sample value of an image (255 or 65535). */
export function maxSampleValue(image: Pick<DecodedImage, 'bitDepth'>): number {
  return image.bitDepth === 16 ? 65535 : 255;
}

/** Number of colour channels, alpha excluded (1 for gray, 3 for RGB). */
export function colorChannels(image: Pick<DecodedImage, 'channels'>): 1 | 3 {
  return image.channels <= 2 ? 1 : 3;
}

/**
 * The image as planar RGB float32 in [0, 1]: `out[c * H * W + y * W + x]`. Gray is replicated to the three
 * channels; alpha is dropped (pixels are taken as stored, not composited), as PIL's `convert('RGB')` does.
 * @returns [3, H, W]
 */
export function toPlanarRgb(image: DecodedImage): Float32Array {
  const { width, height, channels, data } = image;
  const n = width * height;
  const out = new Float32Array(3 * n);
  const scale = 1 / maxSampleValue(image);
  if (channels <= 2) {
    for (let i = 0; i < n; i++) {
      const v = data[i * channels]! * scale;
      out[i] = v;
      out[n + i] = v;
      out[2 * n + i] = v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const o = i * channels;
      out[i] = data[o]! * scale;
      out[n + i] = data[o + 1]! * scale;
      out[2 * n + i] = data[o + 2]! * scale;
    }
  }
  return out;
}

/** An 8-bit RGB image (interleaved), as the synthetic generator and encoders use. */
export interface Rgb8Image {
  width: number;
  height: number;
  /** [H, W, 3] interleaved. */
  data: Uint8Array;
}

/** Checks that `data` has `width * height * channels` samples; throws naming `what` otherwise. */
export function checkRaster(what: string, width: number, height: number, channels: number, length: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (length !== width * height * channels) {
    throw new RangeError(`${what}: expected ${width}x${height}x${channels} = ${width * height * channels} samples, got ${length}`);
  }
}
