/**
 * The `--image-size` value: `512` for a square input, or `WIDTHxHEIGHT` (`320x240`: 320 wide, 240 high), the
 * order image tools print sizes in. The models store sizes as `[height, width]`; this is the one place that
 * turns the option's text into that form.
 */
import { imageSizeOf, type ImageSize } from '@hgm/tensor';

/** What the option accepts, for messages and help text. */
export const IMAGE_SIZE_FORMS = 'a side in pixels (512) or WIDTHxHEIGHT (320x240)';

/**
 * Parses `512`, `320x240` or `320X240` (spaces around the `x` allowed); a number passes as is. Returns the
 * canonical size (a number when square, otherwise `[height, width]`), or undefined when the text is neither
 * form. Range checks (patch multiples) are the model config's.
 */
export function parseImageSizeOption(value: unknown): ImageSize | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n > 0 ? n : undefined;
  }
  const m = /^(\d+)\s*[xX]\s*(\d+)$/.exec(text);
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  return width > 0 && height > 0 ? imageSizeOf(height, width) : undefined;
}
