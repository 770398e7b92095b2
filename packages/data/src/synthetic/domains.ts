import type { Rng } from '@hgm/tensor';
import { fractalNoise, hsvToRgb, perlinNoise } from './noise';

/** Visual domains of the synthetic sets: four texture families and three objects on a background. */
export type SyntheticDomain = 'wood' | 'weave' | 'carpet' | 'metal' | 'cap' | 'screw' | 'pill';

export const SYNTHETIC_DOMAINS: readonly SyntheticDomain[] = ['wood', 'weave', 'carpet', 'metal', 'cap', 'screw', 'pill'];

/** Texture domains (the whole image is the surface); the others are objects on a background. */
export const TEXTURE_DOMAINS: readonly SyntheticDomain[] = ['wood', 'weave', 'carpet', 'metal'];

/** A rendered normal image before quantisation. */
export interface NormalRender {
  /** [H, W, 3] RGB in [0, 1]. */
  image: Float32Array;
  /** [H, W] 1 where the inspected surface is (all ones for textures, the object for objects). */
  foreground: Uint8Array;
  /** [H, W, 3] the background alone (objects only): what shows where a part is missing. */
  background: Float32Array | null;
}

type Rgb = [number, number, number];

function fill(size: number, f: (x: number, y: number) => Rgb): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const c = f(x, y);
      const o = (y * size + x) * 3;
      out[o] = c[0];
      out[o + 1] = c[1];
      out[o + 2] = c[2];
    }
  }
  return out;
}

const scale = (c: Rgb, k: number): Rgb => [c[0] * k, c[1] * k, c[2] * k];

function wood(size: number, rng: Rng): NormalRender {
  const base = hsvToRgb(rng.uniform(0.06, 0.1), rng.uniform(0.5, 0.7), rng.uniform(0.6, 0.75));
  const angle = rng.uniform(-0.25, 0.25);
  const rings = rng.uniform(5, 8);
  const warp = perlinNoise(size, size, size / 2, rng);
  const fine = perlinNoise(size, size, Math.max(2, size / 24), rng);
  const sin = Math.sin(angle);
  const cos = Math.cos(angle);
  const image = fill(size, (x, y) => {
    const i = y * size + x;
    const t = ((x * sin + y * cos) / size) * rings + warp[i]! * 1.2;
    const g = 0.5 + 0.5 * Math.sin(2 * Math.PI * t);
    return scale(base, 0.72 + 0.35 * g * g * g + 0.08 * fine[i]!);
  });
  return { image, foreground: new Uint8Array(size * size).fill(1), background: null };
}

function weave(size: number, rng: Rng): NormalRender {
  const hue = rng.uniform(0, 1);
  const warpColor = hsvToRgb(hue, rng.uniform(0.2, 0.5), rng.uniform(0.65, 0.8));
  const weftColor = hsvToRgb(hue + rng.uniform(-0.05, 0.05), rng.uniform(0.2, 0.5), rng.uniform(0.55, 0.7));
  const period = Math.max(4, Math.round(size / rng.uniform(8, 11)));
  const offX = rng.int(period);
  const offY = rng.int(period);
  const noise = perlinNoise(size, size, Math.max(2, size / 16), rng);
  const image = fill(size, (x, y) => {
    const cx = Math.floor((x + offX) / period);
    const cy = Math.floor((y + offY) / period);
    const fx = ((x + offX) % period) / period;
    const fy = ((y + offY) % period) / period;
    const horizontal = (cx + cy) % 2 === 0;
    const across = horizontal ? fy : fx;
    const shade = 0.62 + 0.38 * Math.sin(Math.PI * across) + 0.06 * noise[y * size + x]!;
    return scale(horizontal ? warpColor : weftColor, shade);
  });
  return { image, foreground: new Uint8Array(size * size).fill(1), background: null };
}

function carpet(size: number, rng: Rng): NormalRender {
  const hue = rng.uniform(0, 1);
  const base = hsvToRgb(hue, rng.uniform(0.35, 0.6), rng.uniform(0.5, 0.65));
  const alt = hsvToRgb(hue + rng.uniform(0.04, 0.1), rng.uniform(0.35, 0.6), rng.uniform(0.5, 0.65));
  const n = fractalNoise(size, size, Math.max(4, size / 4), 3, rng);
  const mix = perlinNoise(size, size, Math.max(4, size / 3), rng);
  const image = fill(size, (x, y) => {
    const i = y * size + x;
    const grain = rng.uniform(-0.07, 0.07);
    const k = 0.85 + 0.3 * n[i]! + grain;
    const m = Math.min(1, Math.max(0, 0.5 + mix[i]!));
    return [(base[0] * (1 - m) + alt[0] * m) * k, (base[1] * (1 - m) + alt[1] * m) * k, (base[2] * (1 - m) + alt[2] * m) * k];
  });
  return { image, foreground: new Uint8Array(size * size).fill(1), background: null };
}

function metal(size: number, rng: Rng): NormalRender {
  const v = rng.uniform(0.55, 0.7);
  const tint = rng.uniform(0, 0.04);
  const angle = rng.uniform(0, Math.PI);
  const streakLength = size * 3;
  const raw = rng.normalArray(streakLength);
  const streak = new Float32Array(streakLength);
  for (let i = 0; i < streakLength; i++) streak[i] = (raw[Math.max(0, i - 1)]! + raw[i]! + raw[Math.min(streakLength - 1, i + 1)]!) / 3;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const gradient = rng.uniform(-0.08, 0.08);
  const image = fill(size, (x, y) => {
    const across = Math.floor(-x * s + y * c + size * 1.5);
    const k = v + 0.05 * streak[Math.min(streakLength - 1, Math.max(0, across))]! + gradient * ((x * c + y * s) / size - 0.5) + rng.uniform(-0.015, 0.015);
    return [k, k + tint * 0.5, k + tint];
  });
  return { image, foreground: new Uint8Array(size * size).fill(1), background: null };
}

function plainBackground(size: number, rng: Rng, value: number, hue: number, sat: number): Float32Array {
  const base = hsvToRgb(hue, sat, value);
  const n = perlinNoise(size, size, Math.max(4, size / 3), rng);
  return fill(size, (x, y) => scale(base, 1 + 0.08 * n[y * size + x]!));
}

function objectRender(size: number, background: Float32Array, paint: (x: number, y: number) => Rgb | null): NormalRender {
  const image = new Float32Array(background);
  const foreground = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const c = paint(x, y);
      if (!c) continue;
      const i = y * size + x;
      foreground[i] = 1;
      image[3 * i] = c[0];
      image[3 * i + 1] = c[1];
      image[3 * i + 2] = c[2];
    }
  }
  return { image, foreground, background };
}

/**
 * An object centred in the image, painted in its own frame: `along` the axis at `angle` and `across` it,
 * measured from the image centre to the pixel centre.
 */
function centredObject(size: number, background: Float32Array, angle: number, paint: (along: number, across: number) => Rgb | null): NormalRender {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const centre = size / 2;
  return objectRender(size, background, (x, y) => {
    const dx = x + 0.5 - centre;
    const dy = y + 0.5 - centre;
    return paint(dx * c + dy * s, -dx * s + dy * c);
  });
}

function cap(size: number, rng: Rng): NormalRender {
  const background = plainBackground(size, rng, rng.uniform(0.18, 0.26), rng.uniform(0.2, 0.45), 0.25);
  const color = hsvToRgb(rng.uniform(0, 1), rng.uniform(0.45, 0.7), rng.uniform(0.7, 0.85));
  const cx = size / 2 + rng.uniform(-0.03, 0.03) * size;
  const cy = size / 2 + rng.uniform(-0.03, 0.03) * size;
  const r = size * rng.uniform(0.32, 0.37);
  const ridges = 2 * Math.round(rng.uniform(16, 22));
  return objectRender(size, background, (x, y) => {
    const dx = x + 0.5 - cx;
    const dy = y + 0.5 - cy;
    const d = Math.hypot(dx, dy);
    if (d > r) return null;
    const t = d / r;
    let k = 1 - 0.3 * t * t - 0.12 * ((dx + dy) / (2 * r));
    if (t > 0.82) k *= 0.82 + 0.13 * Math.sin(Math.atan2(dy, dx) * ridges);
    return scale(color, k);
  });
}

function screw(size: number, rng: Rng): NormalRender {
  const background = plainBackground(size, rng, rng.uniform(0.78, 0.86), 0.1, 0.05);
  const angle = rng.uniform(0, Math.PI);
  const half = size * rng.uniform(0.33, 0.37);
  const width = size * rng.uniform(0.055, 0.07);
  const pitch = Math.max(2.5, size / 20);
  const steel = rng.uniform(0.38, 0.48);
  return centredObject(size, background, angle, (along, across) => {
    if (along < -half || along > half) return null;
    const head = along > half * 0.72;
    const w = head ? width * 1.9 : width;
    if (Math.abs(across) > w) return null;
    const round = 1 - 0.35 * (across / w) ** 2;
    const thread = head ? 1 : 0.78 + 0.22 * Math.sin((2 * Math.PI * along) / pitch);
    const k = steel * round * thread + 0.1;
    return [k, k, k * 1.04];
  });
}

function pill(size: number, rng: Rng): NormalRender {
  const background = plainBackground(size, rng, rng.uniform(0.15, 0.22), rng.uniform(0, 1), 0.15);
  const angle = rng.uniform(0, Math.PI);
  const halfLength = size * rng.uniform(0.2, 0.24);
  const radius = size * rng.uniform(0.15, 0.18);
  const body = hsvToRgb(rng.uniform(0.08, 0.15), rng.uniform(0.05, 0.15), rng.uniform(0.85, 0.93));
  const speckles: [number, number][] = [];
  const count = 3 + rng.int(4);
  for (let i = 0; i < count; i++) speckles.push([rng.uniform(-halfLength, halfLength), rng.uniform(-radius * 0.6, radius * 0.6)]);
  const speckleColor = hsvToRgb(0.0, 0.6, 0.75);
  return centredObject(size, background, angle, (along, across) => {
    const clamped = Math.max(-halfLength, Math.min(halfLength, along));
    const d = Math.hypot(along - clamped, across);
    if (d > radius) return null;
    const k = 1 - 0.25 * (d / radius) ** 2;
    if (Math.abs(along) < 0.6) return scale(body, k * 0.7);
    for (const [sa, sc] of speckles) if (Math.hypot(along - sa, across - sc) < 0.9) return scale(speckleColor, k);
    return scale(body, k);
  });
}

const RENDERERS: Record<SyntheticDomain, (size: number, rng: Rng) => NormalRender> = { wood, weave, carpet, metal, cap, screw, pill };

/** Renders one normal image of a domain; every choice comes from `rng`. */
export function renderNormal(domain: SyntheticDomain, size: number, rng: Rng): NormalRender {
  const render = RENDERERS[domain];
  if (!render) throw new RangeError(`unknown synthetic domain '${domain}' (expected one of ${SYNTHETIC_DOMAINS.join(', ')})`);
  return render(size, rng);
}
