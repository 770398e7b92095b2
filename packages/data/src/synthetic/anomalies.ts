import type { Rng } from '@hgm/tensor';
import type { NormalRender } from './domains';
import { hsvToRgb, perlinNoise } from './noise';
import { ConfigError } from '@hgm/tensor';

/** Kinds of synthetic defects. */
export type AnomalyKind = 'scratch' | 'crack' | 'stain' | 'cut-paste' | 'color-shift' | 'missing';

export const ANOMALY_KINDS: readonly AnomalyKind[] = ['scratch', 'crack', 'stain', 'cut-paste', 'color-shift', 'missing'];

/** A defect before the contrast guarantee: the pixels it covers and their new colours. */
export interface AnomalyEdit {
  /** [H, W] 1 where the defect is. */
  region: Uint8Array;
  /** [H, W, 3] RGB in [0, 1]; only read inside `region`. */
  colors: Float32Array;
  /** Whether the defect darkens (-1) or brightens (+1) the surface, for the contrast guarantee. */
  direction: 1 | -1;
}

interface Context {
  size: number;
  normal: Float32Array;
  render: NormalRender;
  rng: Rng;
}

function randomForegroundPoint(ctx: Context): [number, number] {
  const { size, render, rng } = ctx;
  for (let tries = 0; tries < 10_000; tries++) {
    const x = rng.int(size);
    const y = rng.int(size);
    if (render.foreground[y * size + x]) return [x + 0.5, y + 0.5];
  }
  return [size / 2, size / 2];
}

function luminance(c: Float32Array, i: number): number {
  return 0.299 * c[3 * i]! + 0.587 * c[3 * i + 1]! + 0.114 * c[3 * i + 2]!;
}

/** Mean luminance of the normal image inside a region. */
function meanLuminance(ctx: Context, region: Uint8Array): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < region.length; i++) {
    if (!region[i]) continue;
    sum += luminance(ctx.normal, i);
    n++;
  }
  return n ? sum / n : 0.5;
}

function stamp(region: Uint8Array, size: number, x: number, y: number, width: number): void {
  const r = Math.floor(width / 2);
  const cx = Math.floor(x);
  const cy = Math.floor(y);
  for (let dy = -r; dy <= width - 1 - r; dy++) {
    for (let dx = -r; dx <= width - 1 - r; dx++) {
      const px = cx + dx;
      const py = cy + dy;
      if (px >= 0 && py >= 0 && px < size && py < size) region[py * size + px] = 1;
    }
  }
}

function intersectForeground(ctx: Context, region: Uint8Array): Uint8Array {
  for (let i = 0; i < region.length; i++) region[i]! &= ctx.render.foreground[i]!;
  return region;
}

function lineWidth(size: number): number {
  return Math.max(1, Math.round(size / 48));
}

/** Brightening or darkening edit of every region pixel, away from the surface's mean luminance. */
function shadeEdit(ctx: Context, region: Uint8Array, preferDark: boolean): AnomalyEdit {
  const lum = meanLuminance(ctx, region);
  const dark = lum > 0.75 ? true : lum < 0.3 ? false : preferDark;
  const colors = new Float32Array(ctx.normal);
  for (let i = 0; i < region.length; i++) {
    if (!region[i]) continue;
    for (let c = 0; c < 3; c++) {
      const v = ctx.normal[3 * i + c]!;
      colors[3 * i + c] = dark ? v * 0.3 : v + (1 - v) * 0.75;
    }
  }
  return { region, colors, direction: dark ? -1 : 1 };
}

function scratch(ctx: Context): AnomalyEdit {
  const { size, rng } = ctx;
  const region = new Uint8Array(size * size);
  const [x0, y0] = randomForegroundPoint(ctx);
  const theta = rng.uniform(0, 2 * Math.PI);
  const length = size * rng.uniform(0.3, 0.55);
  const x2 = x0 + length * Math.cos(theta);
  const y2 = y0 + length * Math.sin(theta);
  const bend = rng.uniform(-0.15, 0.15) * length;
  const x1 = (x0 + x2) / 2 - bend * Math.sin(theta);
  const y1 = (y0 + y2) / 2 + bend * Math.cos(theta);
  const steps = Math.ceil(length * 3);
  const width = lineWidth(size);
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    const a = (1 - t) * (1 - t);
    const b = 2 * (1 - t) * t;
    const c = t * t;
    stamp(region, size, a * x0 + b * x1 + c * x2, a * y0 + b * y1 + c * y2, width);
  }
  return shadeEdit(ctx, intersectForeground(ctx, region), rng.uniform() < 0.3);
}

function crack(ctx: Context): AnomalyEdit {
  const { size, rng } = ctx;
  const region = new Uint8Array(size * size);
  const width = lineWidth(size);
  const walk = (x: number, y: number, theta: number, steps: number, depth: number) => {
    for (let s = 0; s < steps; s++) {
      stamp(region, size, x, y, width);
      theta += rng.normal(0, 0.35);
      x += Math.cos(theta);
      y += Math.sin(theta);
      if (depth < 2 && rng.uniform() < 0.05) walk(x, y, theta + (rng.uniform() < 0.5 ? -0.9 : 0.9), Math.floor((steps - s) / 2), depth + 1);
    }
  };
  const [x0, y0] = randomForegroundPoint(ctx);
  walk(x0, y0, rng.uniform(0, 2 * Math.PI), Math.round(size * rng.uniform(0.35, 0.6)), 0);
  return shadeEdit(ctx, intersectForeground(ctx, region), true);
}

function ellipseRegion(ctx: Context, rx: number, ry: number, angle: number, cx: number, cy: number): Uint8Array {
  const { size } = ctx;
  const region = new Uint8Array(size * size);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const u = (dx * c + dy * s) / rx;
      const v = (-dx * s + dy * c) / ry;
      if (u * u + v * v <= 1) region[y * size + x] = 1;
    }
  }
  return region;
}

function stain(ctx: Context): AnomalyEdit {
  const { size, rng } = ctx;
  const [cx, cy] = randomForegroundPoint(ctx);
  const region = ellipseRegion(ctx, size * rng.uniform(0.12, 0.2), size * rng.uniform(0.12, 0.2), rng.uniform(0, Math.PI), cx, cy);
  const noise = perlinNoise(size, size, size / rng.uniform(5, 9), rng);
  for (let i = 0; i < region.length; i++) if (noise[i]! < -0.02) region[i] = 0;
  intersectForeground(ctx, region);
  const lum = meanLuminance(ctx, region);
  const dark = lum > 0.35;
  const tint = hsvToRgb(rng.uniform(0, 1), rng.uniform(0.6, 0.9), dark ? rng.uniform(0.12, 0.25) : rng.uniform(0.8, 0.95));
  const opacity = rng.uniform(0.7, 0.85);
  const colors = new Float32Array(ctx.normal);
  for (let i = 0; i < region.length; i++) {
    if (!region[i]) continue;
    for (let c = 0; c < 3; c++) colors[3 * i + c] = ctx.normal[3 * i + c]! * (1 - opacity) + tint[c]! * opacity;
  }
  return { region, colors, direction: dark ? -1 : 1 };
}

function cutPaste(ctx: Context): AnomalyEdit {
  const { size, rng, normal } = ctx;
  const side = Math.max(3, Math.round(size * rng.uniform(0.18, 0.28)));
  const [cx, cy] = randomForegroundPoint(ctx);
  const x0 = Math.min(size - side, Math.max(0, Math.round(cx - side / 2)));
  const y0 = Math.min(size - side, Math.max(0, Math.round(cy - side / 2)));
  let sx = 0;
  let sy = 0;
  for (let tries = 0; tries < 100; tries++) {
    sx = rng.int(size - side + 1);
    sy = rng.int(size - side + 1);
    if (Math.abs(sx - x0) + Math.abs(sy - y0) >= side / 2) break;
  }
  const bright = rng.uniform() < 0.5;
  const gain = bright ? rng.uniform(1.25, 1.4) : rng.uniform(0.6, 0.72);
  const region = new Uint8Array(size * size);
  const colors = new Float32Array(normal);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      // Source pixel of the patch rotated by 90 degrees.
      const src = (sy + x) * size + (sx + side - 1 - y);
      const dst = (y0 + y) * size + (x0 + x);
      region[dst] = 1;
      for (let c = 0; c < 3; c++) colors[3 * dst + c] = Math.min(1, normal[3 * src + c]! * gain);
    }
  }
  return { region, colors, direction: bright ? 1 : -1 };
}

function colorShift(ctx: Context): AnomalyEdit {
  const { size, rng, normal } = ctx;
  const [cx, cy] = randomForegroundPoint(ctx);
  const region = intersectForeground(ctx, ellipseRegion(ctx, size * rng.uniform(0.1, 0.17), size * rng.uniform(0.1, 0.17), rng.uniform(0, Math.PI), cx, cy));
  const tint = hsvToRgb(rng.uniform(0, 1), 1, 1);
  const colors = new Float32Array(normal);
  for (let i = 0; i < region.length; i++) {
    if (!region[i]) continue;
    const lum = luminance(normal, i);
    for (let c = 0; c < 3; c++) colors[3 * i + c] = 0.3 * normal[3 * i + c]! + 0.7 * tint[c]! * (0.45 + 0.75 * lum);
  }
  return { region, colors, direction: meanLuminance(ctx, region) > 0.5 ? -1 : 1 };
}

function missing(ctx: Context): AnomalyEdit {
  const { size, rng, render, normal } = ctx;
  const colors = new Float32Array(normal);
  if (render.background) {
    // Bite out of the object: a disc centred on its border, replaced by the background.
    const border: number[] = [];
    for (let y = 1; y < size - 1; y++) {
      for (let x = 1; x < size - 1; x++) {
        const i = y * size + x;
        if (render.foreground[i] && (!render.foreground[i - 1] || !render.foreground[i + 1] || !render.foreground[i - size] || !render.foreground[i + size]))
          border.push(i);
      }
    }
    const at = border[rng.int(border.length)] ?? (size * size) / 2;
    const r = size * rng.uniform(0.12, 0.18);
    const region = intersectForeground(ctx, ellipseRegion(ctx, r, r, 0, (at % size) + 0.5, Math.floor(at / size) + 0.5));
    for (let i = 0; i < region.length; i++) if (region[i]) for (let c = 0; c < 3; c++) colors[3 * i + c] = render.background[3 * i + c]!;
    return { region, colors, direction: meanLuminance(ctx, region) > 0.4 ? -1 : 1 };
  }
  // Hole in a texture: the dark backing shows through.
  const [cx, cy] = randomForegroundPoint(ctx);
  const region = ellipseRegion(ctx, size * rng.uniform(0.08, 0.14), size * rng.uniform(0.08, 0.14), rng.uniform(0, Math.PI), cx, cy);
  const noise = perlinNoise(size, size, Math.max(2, size / 10), rng);
  for (let i = 0; i < region.length; i++) if (region[i]) for (let c = 0; c < 3; c++) colors[3 * i + c] = 0.06 + 0.04 * noise[i]!;
  return { region, colors, direction: -1 };
}

const MAKERS: Record<AnomalyKind, (ctx: Context) => AnomalyEdit> = {
  scratch,
  crack,
  stain,
  'cut-paste': cutPaste,
  'color-shift': colorShift,
  missing,
};

/**
 * Draws one defect of `kind` on a normal render, retrying (from the same stream) until it covers at least
 * `minPixels` of the surface.
 * @param normal [H, W, 3] the quantised normal image, back in [0, 1]
 */
export function makeAnomaly(kind: AnomalyKind, size: number, normal: Float32Array, render: NormalRender, rng: Rng, minPixels: number): AnomalyEdit {
  const make = MAKERS[kind];
  if (!make) throw new RangeError(`unknown anomaly kind '${kind}' (expected one of ${ANOMALY_KINDS.join(', ')})`);
  const ctx: Context = { size, normal, render, rng };
  for (let attempt = 0; attempt < 50; attempt++) {
    const edit = make(ctx);
    let n = 0;
    for (let i = 0; i < edit.region.length; i++) n += edit.region[i]!;
    if (n >= minPixels) return edit;
  }
  throw new ConfigError(`synthetic ${kind}: could not place a defect of at least ${minPixels} pixels on a ${size}x${size} image`);
}
