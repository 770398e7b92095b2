import { ConfigError } from '@hgm/tensor';

/**
 * The matrix R [outSize, inSize] of a 1-D bilinear resize with `align_corners=False` and no antialias
 * (torch `F.interpolate(mode='bilinear')`): source coordinate `(o + 0.5) * in / out - 0.5`, clamped at 0,
 * blending the two neighbouring samples (the upper one clamped to the last).
 */
export function bilinearResizeMatrix(inSize: number, outSize: number): Float64Array {
  if (!Number.isInteger(inSize) || inSize < 1 || !Number.isInteger(outSize) || outSize < 1) {
    throw new ConfigError(`bilinearResizeMatrix: sizes must be positive integers, found in ${inSize}, out ${outSize}`);
  }
  const r = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const lambda = src - i0;
    r[o * inSize + i0]! += 1 - lambda;
    r[o * inSize + i1]! += lambda;
  }
  return r;
}
