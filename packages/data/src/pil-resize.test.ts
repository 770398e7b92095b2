// Resizing and centre-cropping against PIL's own output (fixtures/resize, tools/fixtures-gen/pil_resize_golden.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from './codecs/png';
import { toPlanarRgb, type DecodedImage } from './codecs/image';
import { planResize, preprocessImage, type PreprocessConfig } from './preprocess';
import { resizePlanar, type Interpolation } from './resize';

const FIXTURES = join(__dirname, '..', '..', '..', 'fixtures');
const DIR = join(FIXTURES, 'resize');

interface ResizeCase {
  name: string;
  source: string;
  source_mode: 'RGB' | 'L';
  source_size: [number, number];
  filter: Interpolation;
  resize: [number, number];
  /** [left, top, side] of the centre crop, or null. */
  crop: [number, number, number] | null;
  pipeline: { resize: 'shortest-side-then-center-crop'; resizeSize: number; size: number } | null;
  output: [number, number];
  channels: 1 | 3;
}

const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as { pillow: string; cases: ResizeCase[] };

/** PIL's decoding of the source (fixtures/decode keeps it as raw bytes; PNG decodes exactly either way). */
function source(c: ResizeCase): DecodedImage {
  const [width, height] = c.source_size;
  const channels = c.source_mode === 'L' ? 1 : 3;
  if (c.source.startsWith('decode/')) {
    const data = new Uint8Array(readFileSync(join(FIXTURES, `${c.source}.pil.bin`)));
    expect(data.length).toBe(width * height * channels);
    return { width, height, channels, bitDepth: 8, data, format: c.source.endsWith('.jpg') ? 'jpeg' : 'png' };
  }
  const image = decodePng(new Uint8Array(readFileSync(join(FIXTURES, c.source))), c.source);
  expect([image.width, image.height, image.channels]).toEqual([width, height, channels]);
  return image;
}

/** Planar [C, H, W] float32(value / 255), the input PIL's 'F' mode resized. */
function floatPlanes(image: DecodedImage): Float32Array {
  const { width, height, channels, data } = image;
  const n = width * height;
  const out = new Float32Array(channels * n);
  for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) out[c * n + i] = Math.fround(data[i * channels + c]! / 255);
  return out;
}

/** The [side x side] window at (left, top) of planar [C, H, W] data. */
function cropPlanar(src: Float32Array, channels: number, height: number, width: number, crop: [number, number, number] | null): Float32Array {
  if (!crop) return src;
  const [left, top, side] = crop;
  const out = new Float32Array(channels * side * side);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < side; y++)
      out.set(src.subarray(c * height * width + (top + y) * width + left, c * height * width + (top + y) * width + left + side), (c * side + y) * side);
  }
  return out;
}

/**
 * Float path: resizePlanar without clamping on the same float32 input as PIL's 'F' mode. Both separate the
 * passes the same way (horizontal, then vertical) with the same coefficients; PIL keeps them in double, this
 * stores them as float32 (relative error 6e-8) and both round each pass to float32, so values in [0, 1] agree
 * to a few float32 ulps (at most 2.4e-7 on these cases): 5e-7 is 8 ulps near 1, and an error in a weight or
 * a tap would be orders of magnitude above it.
 */
const FLOAT_TOLERANCE = 5e-7;

describe(`resizing and centre-cropping equal PIL ${index.pillow} (fixtures/resize)`, () => {
  for (const c of index.cases) {
    it(`${c.name}: ${c.source} ${c.source_size.join('x')} -> ${c.resize.join('x')} ${c.filter}${c.crop ? `, crop ${c.crop[2]} at (${c.crop[0]}, ${c.crop[1]})` : ''}`, () => {
      const image = source(c);
      const [w, h] = c.source_size;
      const [rw, rh] = c.resize;
      const [ow, oh] = c.output;
      // the geometry: torchvision's Resize(r) + CenterCrop(s) sizes and offsets (Python's half-to-even round)
      if (c.pipeline)
        expect(planResize(w, h, c.pipeline)).toEqual({
          resizeWidth: rw,
          resizeHeight: rh,
          cropX: c.crop![0],
          cropY: c.crop![1],
          height: c.pipeline.size,
          width: c.pipeline.size,
        });

      // the float path against PIL's 'F' mode, channel by channel
      const pilFloat = new Float32Array(readFileSync(join(DIR, `${c.name}.f32.bin`)).buffer.slice(0));
      expect(pilFloat.length).toBe(c.channels * ow * oh);
      const ours = cropPlanar(resizePlanar(floatPlanes(image), c.channels, h, w, rh, rw, c.filter, { clamp: null }), c.channels, rh, rw, c.crop);
      let worstFloat = 0;
      for (let i = 0; i < ours.length; i++) worstFloat = Math.max(worstFloat, Math.abs(ours[i]! - pilFloat[i]!));
      expect(worstFloat, 'max |ours - PIL F|').toBeLessThanOrEqual(FLOAT_TOLERANCE);

      // the 8-bit path the reference pipelines take (PIL resizes the RGB image, rounding and clipping to 0..255
      // after each pass; this keeps floats, clamped to [0, 1] after each pass): ours rounded to 8 bits is within
      // one level. PIL's intermediate rounding moves a value by at most 0.5 level times the sum of the second
      // pass's |weights| (below 1.25 for Keys cubic), so the unrounded difference stays under 1.2 levels and the
      // rounded one under 2; the test holds it to 1.
      const pil8 = new Uint8Array(readFileSync(join(DIR, `${c.name}.u8.bin`)));
      expect(pil8.length).toBe(c.channels * ow * oh);
      const config: PreprocessConfig | null = c.pipeline
        ? {
            size: c.pipeline.size,
            resize: 'shortest-side-then-center-crop',
            resizeSize: c.pipeline.resizeSize,
            interpolation: c.filter,
            mean: [0, 0, 0],
            std: [1, 1, 1],
          }
        : rw === rh
          ? { size: rw, resize: 'squash', interpolation: c.filter, mean: [0, 0, 0], std: [1, 1, 1] }
          : null;
      // preprocessImage where the case is a pipeline's geometry, resizePlanar with its default clamp otherwise
      const pipeline = config ? preprocessImage(image, config) : resizePlanar(toPlanarRgb(image), 3, h, w, rh, rw, c.filter);
      let worst8 = 0;
      let exact = 0;
      const n = ow * oh;
      for (let ch = 0; ch < 3; ch++) {
        for (let i = 0; i < n; i++) {
          const want = pil8[i * c.channels + (c.channels === 1 ? 0 : ch)]!;
          const d = Math.abs(Math.round(pipeline[ch * n + i]! * 255) - want);
          worst8 = Math.max(worst8, d);
          if (d === 0) exact++;
        }
      }
      if (process.env.HGM_VERBOSE)
        console.log(`${c.name}: float max |diff| ${worstFloat.toExponential(2)}, 8-bit max |diff| ${worst8}, equal ${((100 * exact) / (3 * n)).toFixed(1)}%`);
      expect(worst8, 'max |round(255 ours) - PIL 8-bit|').toBeLessThanOrEqual(1);
      // PIL's rounding between the passes (uniform in +-0.5 level, spread by the second pass's weights) puts
      // about one value in five on the neighbouring level (78-87% equal on the noisy 61 x 48 image, 91-94% on
      // the smoother 300 x 260 one); a shifted tap or weight would move most values.
      expect(exact / (3 * n), 'share of 8-bit values equal to PIL').toBeGreaterThan(0.7);
    });
  }
});
