/**
 * Image decoding in Node: through `sharp` (libvips, with libjpeg-turbo-compatible JPEG decoding that matches
 * PIL's output exactly) when it can be loaded, else through the pure-JS codecs. BMP always goes through the
 * pure-JS codec (libvips has no BMP loader in sharp's prebuilt binaries).
 */
import { decodeImage, sniffImageFormat } from './codecs/decode-image';
import type { DecodedImage } from './codecs/image';
import { checkPixelLimit, readImageSize, type PixelLimitOptions } from './codecs/pixel-limit';
import { ImageDecodeError } from './errors';
import type { ImageDecoder } from './load-sample';

/** The subset of sharp's API used here. */
type SharpPipeline = {
  toColourspace(space: string): SharpPipeline;
  raw(options?: { depth?: string }): {
    toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
  };
  metadata(): Promise<{ width?: number; height?: number; depth?: string; channels?: number; format?: string; space?: string }>;
};
type SharpFactory = (input: Uint8Array, options: Record<string, unknown>) => SharpPipeline;

/** Which decoder runs in this process. */
export interface ImageDecoderInfo {
  /** `sharp` (libvips) or `pure-js` (fast-png, jpeg-js and the own BMP codec). */
  decoder: 'sharp' | 'pure-js';
  /** sharp's and libvips' versions when sharp runs. */
  version?: string;
  /** Why sharp is not used, when it is not. */
  reason?: string;
}

let loaded: Promise<{ sharp: SharpFactory | null; info: ImageDecoderInfo }> | null = null;

function loadSharp(): Promise<{ sharp: SharpFactory | null; info: ImageDecoderInfo }> {
  loaded ??= (async () => {
    if (process.env['HGM_IMAGE_DECODER'] === 'pure-js') return { sharp: null, info: { decoder: 'pure-js', reason: 'HGM_IMAGE_DECODER=pure-js' } };
    try {
      const mod = (await import('sharp')) as unknown as { default?: SharpFactory & { versions?: Record<string, string> } };
      const sharp = (mod.default ?? mod) as SharpFactory & { versions?: Record<string, string> };
      const v = sharp.versions ?? {};
      return { sharp, info: { decoder: 'sharp', version: `sharp ${v['sharp'] ?? '?'}, libvips ${v['vips'] ?? '?'}` } };
    } catch (e) {
      return { sharp: null, info: { decoder: 'pure-js', reason: `sharp could not be loaded (${(e as Error).message.split('\n')[0]})` } };
    }
  })();
  return loaded;
}

/** Says which decoder {@link decodeImageNode} uses here (for `--verbose` and `hgm doctor`). */
export async function imageDecoderInfo(): Promise<ImageDecoderInfo> {
  return (await loadSharp()).info;
}

/**
 * Decodes PNG, JPEG, BMP, TIFF or WebP bytes in Node at full bit depth, with the same typed output as
 * `decodeImage`. The declared size is checked against the pixel limit before decoding.
 * @param name the file name, used in every error message
 * @throws ImageDecodeError naming the file when the bytes are not a supported, intact image
 * @throws ImageTooLargeError when the image has more than twice `options.maxPixels` pixels
 */
export async function decodeImageNode(bytes: Uint8Array, name: string, options: PixelLimitOptions = {}): Promise<DecodedImage> {
  const { sharp } = await loadSharp();
  const sniffed = sniffImageFormat(bytes);
  const isTiffOrWebp = typeof sniffed !== 'string' && /^(TIFF|WebP)/.test(sniffed.unknown);
  if (!sharp || sniffed === 'bmp' || (typeof sniffed !== 'string' && !isTiffOrWebp)) return decodeImage(bytes, name, options);
  const format = typeof sniffed === 'string' ? sniffed : sniffed.unknown.startsWith('TIFF') ? 'tiff' : 'webp';
  const declared = typeof sniffed === 'string' ? readImageSize(bytes, sniffed) : null;
  // the declared size is checked before sharp reads anything
  if (declared) checkPixelLimit(declared.width, declared.height, name, options);
  const open = () => sharp(bytes, { failOn: 'error', limitInputPixels: false, sequentialRead: true });
  try {
    const meta = await open().metadata();
    if (!declared && meta.width !== undefined && meta.height !== undefined) checkPixelLimit(meta.width, meta.height, name, options);
    if (meta.space === 'cmyk') throw new ImageDecodeError(name, `${format.toUpperCase()} in CMYK is not supported; convert it to RGB`);
    const sixteen = meta.depth === 'ushort';
    // libvips turns everything into 8-bit sRGB unless told to keep the 16-bit space
    const pipeline = sixteen && meta.space ? open().toColourspace(meta.space) : open();
    const { data: rawData, info } = await pipeline.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
    let data = rawData;
    let channels = info.channels;
    const stored = meta.channels ?? channels;
    if (stored <= 2 && channels >= 3 && !sixteen) {
      // gray (+ alpha) came back as RGB(A) with equal colour channels: keep gray and alpha
      data = grayOf(rawData, info.width * info.height, channels, stored);
      channels = stored;
    }
    if (channels < 1 || channels > 4) throw new ImageDecodeError(name, `${format.toUpperCase()} decoded to ${channels} channels, expected 1 to 4`);
    const n = info.width * info.height * channels;
    let samples: Uint8Array | Uint16Array;
    if (sixteen) {
      // copy into an aligned buffer: the Node buffer may start at an odd offset
      samples = new Uint16Array(n);
      new Uint8Array(samples.buffer).set(data.subarray(0, 2 * n));
    } else {
      samples = new Uint8Array(data.buffer, data.byteOffset, n);
    }
    if (data.length !== n * (sixteen ? 2 : 1))
      throw new ImageDecodeError(name, `${format.toUpperCase()} decoded to ${data.length} bytes, expected ${n * (sixteen ? 2 : 1)}`);
    return {
      width: info.width,
      height: info.height,
      channels: channels as 1 | 2 | 3 | 4,
      bitDepth: sixteen ? 16 : 8,
      data: samples,
      format,
    };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(name, `corrupt ${format === 'jpeg' ? 'JPEG' : format.toUpperCase()} (${(e as Error).message})`, { cause: e });
  }
}

/** Keeps channel 0 (and the last channel, the alpha, when `keep` is 2) of interleaved 8-bit samples. */
function grayOf(data: Buffer, pixels: number, channels: number, keep: number): Buffer {
  const out = Buffer.alloc(pixels * keep);
  for (let i = 0; i < pixels; i++) {
    out[i * keep] = data[i * channels]!;
    if (keep === 2) out[i * keep + 1] = data[i * channels + channels - 1]!;
  }
  return out;
}

/** An {@link ImageDecoder} for `loadSample` and the engine: {@link decodeImageNode} with a pixel limit. */
export function nodeImageDecoder(options: PixelLimitOptions = {}): ImageDecoder {
  return (bytes, name) => decodeImageNode(bytes, name, options);
}
