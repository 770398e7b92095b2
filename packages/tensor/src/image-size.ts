/**
 * Model input sizes. A size is one number for a square image (the form every square configuration and
 * checkpoint has always used) or `[height, width]` for any other; {@link imageHW} turns either into a pair,
 * and {@link imageSizeOf} turns a pair back into the canonical form (a number when square), so that a
 * square size has one spelling in saved configs, cache keys and comparisons.
 */

/** Input size in pixels: `n` for n x n, or `[height, width]`. */
export type ImageSize = number | readonly [number, number];

/** `[height, width]` of a size. */
export function imageHW(size: ImageSize): [number, number] {
  return typeof size === 'number' ? [size, size] : [size[0], size[1]];
}

/** The canonical form of `height x width`: a number when square, otherwise `[height, width]`. */
export function imageSizeOf(height: number, width: number): ImageSize {
  return height === width ? height : [height, width];
}

/** The canonical form of a size (`[n, n]` becomes `n`; a pair is copied). */
export function canonicalImageSize(size: ImageSize): ImageSize {
  const [h, w] = imageHW(size);
  return imageSizeOf(h, w);
}

/** Whether two sizes describe the same height and width (`32` and `[32, 32]` do). */
export function sameImageSize(a: ImageSize, b: ImageSize): boolean {
  const [ah, aw] = imageHW(a);
  const [bh, bw] = imageHW(b);
  return ah === bh && aw === bw;
}

/** For messages: `512` for a square size, `height 240 x width 320` otherwise. */
export function formatImageSize(size: ImageSize): string {
  const [h, w] = imageHW(size);
  return h === w ? String(h) : `height ${h} x width ${w}`;
}

/**
 * The problems of a size field (none when valid): it must be a positive integer or a pair of them, and
 * each side a multiple of `multiple` (the patch size). Each problem names the field, the side, what was
 * expected and the nearest valid values.
 */
export function imageSizeProblems(field: string, size: unknown, multiple: number): string[] {
  const pair = typeof size === 'number' ? [size, size] : Array.isArray(size) && size.length === 2 ? size : null;
  if (!pair) return [`${field}: expected a number (square side) or [height, width], found ${JSON.stringify(size)}`];
  const sides =
    typeof size === 'number'
      ? [['', size]]
      : [
          ['[0] (height)', pair[0]],
          ['[1] (width)', pair[1]],
        ];
  const problems: string[] = [];
  for (const [label, v] of sides as [string, unknown][]) {
    const name = `${field}${label}`;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      problems.push(`${name}: expected a multiple of the patch size ${multiple}, found ${JSON.stringify(v)}`);
      continue;
    }
    if (Number.isInteger(v) && v >= multiple && v % multiple === 0) continue;
    const lower = Math.max(multiple, Math.floor(v / multiple) * multiple);
    problems.push(`${name}: expected a multiple of the patch size ${multiple}, found ${v} (the nearest multiples are ${lower} and ${lower + multiple})`);
  }
  return problems;
}
