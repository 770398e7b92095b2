import type { Rng } from '@hgm/tensor';

/** Perlin's quintic fade curve 6t^5 - 15t^4 + 10t^3. */
function fade(t: number): number {
  return t * t * t * (t * (t * 6 - 15) + 10);
}

/**
 * 2-D Perlin gradient noise on a `width x height` grid, one lattice cell every `period` pixels (as DRAEM's
 * `rand_perlin_2d`): random unit gradients at lattice points, quintic interpolation. Values lie in about
 * [-0.7, 0.7].
 * @returns [H, W]
 */
export function perlinNoise(width: number, height: number, period: number, rng: Rng): Float32Array {
  const p = Math.max(1, period);
  const gw = Math.ceil(width / p) + 2;
  const gh = Math.ceil(height / p) + 2;
  const gx = new Float32Array(gw * gh);
  const gy = new Float32Array(gw * gh);
  for (let i = 0; i < gw * gh; i++) {
    const a = rng.uniform(0, 2 * Math.PI);
    gx[i] = Math.cos(a);
    gy[i] = Math.sin(a);
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const fy = y / p;
    const y0 = Math.floor(fy);
    const ty = fy - y0;
    const v = fade(ty);
    const row0 = y0 * gw;
    const row1 = row0 + gw;
    for (let x = 0; x < width; x++) {
      const fx = x / p;
      const x0 = Math.floor(fx);
      const tx = fx - x0;
      const u = fade(tx);
      const a = row0 + x0;
      const b = row1 + x0;
      const n00 = gx[a]! * tx + gy[a]! * ty;
      const n10 = gx[a + 1]! * (tx - 1) + gy[a + 1]! * ty;
      const n01 = gx[b]! * tx + gy[b]! * (ty - 1);
      const n11 = gx[b + 1]! * (tx - 1) + gy[b + 1]! * (ty - 1);
      const nx0 = n00 + u * (n10 - n00);
      const nx1 = n01 + u * (n11 - n01);
      out[y * width + x] = nx0 + v * (nx1 - nx0);
    }
  }
  return out;
}

/**
 * Sum of `octaves` Perlin layers, each with half the period and half the amplitude of the previous.
 * @returns [H, W]
 */
export function fractalNoise(width: number, height: number, period: number, octaves: number, rng: Rng): Float32Array {
  const out = new Float32Array(width * height);
  let amp = 1;
  let p = period;
  for (let o = 0; o < octaves; o++) {
    const layer = perlinNoise(width, height, p, rng);
    for (let i = 0; i < out.length; i++) out[i]! += amp * layer[i]!;
    amp *= 0.5;
    p = Math.max(1, p / 2);
  }
  return out;
}

/** HSV (each in [0, 1]) to RGB in [0, 1]. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const hh = ((h % 1) + 1) % 1;
  const i = Math.floor(hh * 6);
  const f = hh * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}
