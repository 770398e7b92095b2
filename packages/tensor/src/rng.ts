import * as tf from '@tensorflow/tfjs-core';

/**
 * A seeded pseudo-random generator (xoshiro128**, seeded through splitmix32). No global state: every
 * consumer owns its generator, and the same seed gives the same stream on every platform.
 *
 * @example
 * const rng = new Rng(111);
 * rng.uniform();            // in [0, 1)
 * rng.normal(0, 0.02);
 * rng.tensorNormal([16, 768], 0, 0.02);
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  /** @param seed an integer or a string (hashed); the stream is a pure function of it. */
  constructor(seed: number | string) {
    let h: number;
    if (typeof seed === 'string') {
      h = 0x811c9dc5;
      for (let i = 0; i < seed.length; i++) {
        h ^= seed.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
      }
    } else {
      if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
      // Mix both halves of a (possibly large) integer seed.
      const hi = Math.floor(seed / 4294967296) >>> 0;
      h = (seed >>> 0) ^ Math.imul(hi, 0x9e3779b1);
    }
    const next = (): number => {
      h = (h + 0x9e3779b9) >>> 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [low, high) with 53 bits of resolution. */
  uniform(low = 0, high = 1): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    const u = (a * 67108864 + b) / 9007199254740992;
    return low + (high - low) * u;
  }

  /** An integer uniform in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** A normal sample (Box-Muller, both values used). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** A normal sample redrawn until it lies within [mean - 2 std, mean + 2 std] (timm's trunc_normal_ default bounds, relative). */
  truncatedNormal(mean = 0, std = 1, low = mean - 2 * std, high = mean + 2 * std): number {
    if (!(low < high)) throw new RangeError(`Rng.truncatedNormal: low (${low}) must be below high (${high})`);
    for (let i = 0; i < 1000; i++) {
      const x = this.normal(mean, std);
      if (x >= low && x <= high) return x;
    }
    return Math.min(high, Math.max(low, mean));
  }

  /** A standard Gumbel sample: -log(-log(u)). */
  gumbel(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return -Math.log(-Math.log(u));
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  /** Shuffles an array in place and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** A new generator whose stream is derived from this one (for independent sub-streams). */
  fork(): Rng {
    return new Rng(this.nextUint32() * 4294967296 + this.nextUint32());
  }

  /** Float32Array of uniform samples. */
  uniformArray(size: number, low = 0, high = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = this.uniform(low, high);
    return out;
  }

  /** Float32Array of normal samples. */
  normalArray(size: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Float32Array of standard Gumbel samples. */
  gumbelArray(size: number): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = this.gumbel();
    return out;
  }

  /** A float32 tensor of uniform samples. */
  tensorUniform(shape: number[], low = 0, high = 1): tf.Tensor {
    return tf.tensor(this.uniformArray(sizeOf(shape), low, high), shape, 'float32');
  }

  /** A float32 tensor of normal samples. */
  tensorNormal(shape: number[], mean = 0, std = 1): tf.Tensor {
    return tf.tensor(this.normalArray(sizeOf(shape), mean, std), shape, 'float32');
  }

  /** A float32 tensor of truncated-normal samples (bounds mean ± 2 std). */
  tensorTruncatedNormal(shape: number[], mean = 0, std = 1): tf.Tensor {
    const n = sizeOf(shape);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.truncatedNormal(mean, std);
    return tf.tensor(out, shape, 'float32');
  }

  /** A float32 tensor of standard Gumbel samples. */
  tensorGumbel(shape: number[]): tf.Tensor {
    return tf.tensor(this.gumbelArray(sizeOf(shape)), shape, 'float32');
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function sizeOf(shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid tensor shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

/**
 * The noise of rows `offset .. offset + rows - 1` of a batch of `batch` rows: each `tensorGumbel([rows, ...])`
 * draws `[batch, ...]` from the same stream as an {@link Rng} of the same seed would and returns those rows. A
 * batch cut into micro-batches (gradient accumulation) so gets the noise that the whole batch gets from one
 * `Rng(seed)`, draw by draw. Only `tensorGumbel` is offered (the noise of a training forward pass); other draws throw.
 */
export class BatchRowsRng extends Rng {
  constructor(
    seed: number | string,
    readonly batch: number,
    readonly offset: number,
    readonly rows: number,
  ) {
    super(seed);
    if (!Number.isInteger(offset) || !Number.isInteger(rows) || offset < 0 || rows < 1 || offset + rows > batch)
      throw new RangeError(`BatchRowsRng: rows ${offset}..${offset + rows - 1} are outside a batch of ${batch}`);
  }

  override tensorGumbel(shape: number[]): tf.Tensor {
    if (shape[0] !== this.rows) throw new RangeError(`BatchRowsRng: asked for ${shape[0]} rows, this micro-batch has ${this.rows}`);
    const per = sizeOf(shape.slice(1));
    const all = this.gumbelArray(this.batch * per);
    return tf.tensor(all.subarray(this.offset * per, (this.offset + this.rows) * per), shape, 'float32');
  }

  override tensorNormal(): tf.Tensor {
    throw new RangeError('BatchRowsRng offers tensorGumbel only');
  }

  override tensorUniform(): tf.Tensor {
    throw new RangeError('BatchRowsRng offers tensorGumbel only');
  }

  override tensorTruncatedNormal(): tf.Tensor {
    throw new RangeError('BatchRowsRng offers tensorGumbel only');
  }
}
