import { Rng } from '@hgm/tensor';
import { makeAnomaly, ANOMALY_KINDS, type AnomalyKind } from './anomalies';
import { renderNormal, SYNTHETIC_DOMAINS, type SyntheticDomain } from './domains';

/** `good` for a normal image, or a defect kind. */
export type SyntheticKind = 'good' | AnomalyKind;

/**
 * Smallest per-channel change (of 255) of every defect pixel: defects stay visible against the texture, and
 * the mask is exactly the set of pixels that differ from the normal image.
 */
export const MIN_DEFECT_CONTRAST = 40;

/** One generated image. */
export interface SyntheticSample {
  domain: SyntheticDomain;
  kind: SyntheticKind;
  width: number;
  height: number;
  /** [H, W, 3] 8-bit RGB. */
  image: Uint8Array;
  /** [H, W] 0/1; 1 exactly where `image` differs from `normal`. */
  mask: Uint8Array;
  /** [H, W, 3] the same image before the defect (equal to `image` for `good`). */
  normal: Uint8Array;
}

/** Options of {@link generateSample}. */
export interface GenerateSampleOptions {
  /** Image side in pixels (default 64). */
  size?: number;
}

/**
 * Generates one image of a domain, normal or with a defect, as a pure function of (domain, kind, seed, size):
 * same arguments, same bytes, on every platform.
 */
export function generateSample(domain: SyntheticDomain, kind: SyntheticKind, seed: number | string, options: GenerateSampleOptions = {}): SyntheticSample {
  const size = options.size ?? 64;
  if (!Number.isInteger(size) || size < 16 || size > 1024) throw new RangeError(`synthetic size must be an integer in [16, 1024], got ${size}`);
  if (!SYNTHETIC_DOMAINS.includes(domain)) throw new RangeError(`unknown synthetic domain '${domain}' (expected one of ${SYNTHETIC_DOMAINS.join(', ')})`);
  if (kind !== 'good' && !ANOMALY_KINDS.includes(kind))
    throw new RangeError(`unknown synthetic kind '${kind}' (expected good or one of ${ANOMALY_KINDS.join(', ')})`);
  const rng = new Rng(`hgm-synthetic/${domain}/${kind}/${seed}/${size}`);
  const render = renderNormal(domain, size, rng);
  const n = size * size;
  const normal = new Uint8Array(n * 3);
  for (let i = 0; i < n * 3; i++) normal[i] = quantize(render.image[i]!);
  const mask = new Uint8Array(n);
  if (kind === 'good') return { domain, kind, width: size, height: size, image: normal, mask, normal: new Uint8Array(normal) };

  const normalFloat = new Float32Array(n * 3);
  for (let i = 0; i < n * 3; i++) normalFloat[i] = normal[i]! / 255;
  const minPixels = Math.max(6, Math.round(n * 0.003));
  const edit = makeAnomaly(kind, size, normalFloat, render, rng, minPixels);
  const image = new Uint8Array(normal);
  for (let i = 0; i < n; i++) {
    if (!edit.region[i]) continue;
    let changed = 0;
    for (let c = 0; c < 3; c++) {
      const v = quantize(edit.colors[3 * i + c]!);
      image[3 * i + c] = v;
      changed = Math.max(changed, Math.abs(v - normal[3 * i + c]!));
    }
    if (changed < MIN_DEFECT_CONTRAST) {
      // Push the pixel's brightness in the defect's direction (or the other way where there is no room).
      for (let c = 0; c < 3; c++) {
        const v = normal[3 * i + c]!;
        const up = v + MIN_DEFECT_CONTRAST <= 255;
        const down = v - MIN_DEFECT_CONTRAST >= 0;
        image[3 * i + c] = (edit.direction > 0 ? up || !down : !down && up) ? v + MIN_DEFECT_CONTRAST : v - MIN_DEFECT_CONTRAST;
      }
    }
    mask[i] = 1;
  }
  return { domain, kind, width: size, height: size, image, mask, normal };
}

function quantize(v: number): number {
  return Math.round(Math.min(1, Math.max(0, v)) * 255);
}
