import { MetricError } from './errors';
import { keyToFloat, keysToFloats } from './float-key';
import { labelRegions } from './connected-components';
import { radixSortKeys } from './radix-sort';
import type { RankedCounts } from './ranked-counts';

/** The pixels of a set of anomaly maps, kept as sortable float32 keys, split by ground truth. */
export interface PixelData {
  /** Keys of the anomalous pixels, ascending. [P] */
  positiveKeys: Uint32Array;
  /** Region id (0-based, over all images, in image order then raster order) of each anomalous pixel. [P] */
  positiveRegions: Uint32Array;
  /** Pixels per region. [R] */
  regionSizes: Uint32Array;
  /** Lowest and highest key per region. [R] */
  regionMinKey: Uint32Array;
  regionMaxKey: Uint32Array;
  /** Keys of the normal pixels, per image, unsorted. */
  negativeChunks: Uint32Array[];
  negatives: number;
  positives: number;
  /** Lowest and highest key of all pixels, and of the normal pixels. */
  minKey: number;
  maxKey: number;
  negativeMinKey: number;
  negativeMaxKey: number;
}

/** Image index and shape of an added map. */
export interface MapShape {
  height: number;
  width: number;
}

/**
 * Streaming accumulator of pixel-level scores: add one anomaly map and its ground-truth mask at a time, then
 * ask for any pixel metric. Memory: 4 bytes per normal pixel and 8 per anomalous pixel (sortable float32
 * keys, never a float64 copy). Maps are read as float32, which is what every reference computes on.
 */
/**
 * What a {@link PixelSet} has accumulated, as plain arrays of sortable float32 keys ({@link PixelSet.toState}).
 * Region ids in `positiveRegions` index `regionSizes`.
 */
export interface PixelSetState {
  images: number;
  negativeKeys: Uint32Array;
  positiveKeys: Uint32Array;
  positiveRegions: Uint32Array;
  regionSizes: Uint32Array;
  regionMinKey: Uint32Array;
  regionMaxKey: Uint32Array;
  minKey: number;
  maxKey: number;
  negativeMinKey: number;
  negativeMaxKey: number;
}

export class PixelSet {
  private readonly negChunks: Uint32Array[] = [];
  private readonly posKeyChunks: Uint32Array[] = [];
  private readonly posRegionChunks: Uint32Array[] = [];
  private readonly regionSizes: number[] = [];
  private readonly regionMin: number[] = [];
  private readonly regionMax: number[] = [];
  private nNeg = 0;
  private nPos = 0;
  private images = 0;
  private minKey = 0xffffffff;
  private maxKey = 0;
  private negMin = 0xffffffff;
  private negMax = 0;
  private cache: { data?: PixelData; ranked?: RankedCounts; sortedNegatives?: Uint32Array } = {};

  constructor(readonly name = 'pixel set') {}

  /** Number of maps added. */
  get imageCount(): number {
    return this.images;
  }
  /** Number of pixels added. */
  get pixelCount(): number {
    return this.nNeg + this.nPos;
  }
  /** Number of anomalous pixels. */
  get positiveCount(): number {
    return this.nPos;
  }
  /** Number of ground-truth regions (8-connected) over all masks. */
  get regionCount(): number {
    return this.regionSizes.length;
  }

  /**
   * Adds one anomaly map and its mask.
   * @param map anomaly scores, finite (read as float32). [H * W] row-major
   * @param mask 0 = normal, 1 = anomalous (booleans accepted). [H * W]
   * @throws MetricError `length-mismatch`, `empty`, `invalid-label`, `non-finite`
   */
  add(map: ArrayLike<number>, mask: ArrayLike<number> | ArrayLike<boolean>, shape: MapShape): this {
    const { height, width } = shape;
    const what = `${this.name}, map ${this.images}`;
    if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
      throw new MetricError('empty', `${what}: shape is [${height}, ${width}], expected positive integers`);
    }
    const n = height * width;
    if (map.length !== n || mask.length !== n) {
      throw new MetricError(
        'length-mismatch',
        `${what}: map has ${map.length} values and mask ${mask.length}, expected ${n} each (shape [${height}, ${width}])`,
      );
    }
    const m01 = new Uint8Array(n);
    let nPos = 0;
    for (let i = 0; i < n; i++) {
      const v = mask[i] as number | boolean;
      if (v === 1 || v === true) {
        m01[i] = 1;
        nPos++;
      } else if (v !== 0 && v !== false) {
        throw new MetricError('invalid-label', `${what}: mask[${i}] is ${String(v)}, expected 0 or 1 (binarise masks first, e.g. 255 -> 1)`);
      }
    }
    const f32 = map instanceof Float32Array ? map : Float32Array.from(map as ArrayLike<number>);
    const bits = new Uint32Array(f32.buffer, f32.byteOffset, n);
    const { labels, count, sizes } = nPos > 0 ? labelRegions(m01, height, width) : { labels: undefined, count: 0, sizes: new Uint32Array(0) };
    const rMin = new Uint32Array(count).fill(0xffffffff);
    const rMax = new Uint32Array(count);
    const regionBase = this.regionSizes.length;
    const neg = new Uint32Array(n - nPos);
    const posKeys = new Uint32Array(nPos);
    const posRegions = new Uint32Array(nPos);
    let a = 0,
      b = 0;
    let mn = this.minKey,
      mx = this.maxKey,
      nmn = this.negMin,
      nmx = this.negMax;
    for (let i = 0; i < n; i++) {
      const x = bits[i]!;
      if ((x & 0x7f800000) === 0x7f800000) {
        throw new MetricError('non-finite', `${what}: map[${i}] is ${f32[i]}, expected a finite score`);
      }
      const k = x === 0x80000000 ? 0x80000000 : x & 0x80000000 ? ~x >>> 0 : (x | 0x80000000) >>> 0;
      if (k < mn) mn = k;
      if (k > mx) mx = k;
      if (m01[i]) {
        const r = labels![i]! - 1;
        posKeys[b] = k;
        posRegions[b++] = regionBase + r;
        if (k < rMin[r]!) rMin[r] = k;
        if (k > rMax[r]!) rMax[r] = k;
      } else {
        neg[a++] = k;
        if (k < nmn) nmn = k;
        if (k > nmx) nmx = k;
      }
    }
    for (let r = 0; r < count; r++) {
      this.regionSizes.push(sizes[r]!);
      this.regionMin.push(rMin[r]!);
      this.regionMax.push(rMax[r]!);
    }
    this.minKey = mn;
    this.maxKey = mx;
    this.negMin = nmn;
    this.negMax = nmx;
    if (a > 0) this.negChunks.push(neg);
    if (b > 0) {
      this.posKeyChunks.push(posKeys);
      this.posRegionChunks.push(posRegions);
    }
    this.nNeg += a;
    this.nPos += b;
    this.images++;
    this.cache = {};
    return this;
  }

  /**
   * Adds a batch of maps.
   * @param maps [N, H, W] row-major
   * @param masks [N, H, W]
   */
  addBatch(maps: ArrayLike<number>, masks: ArrayLike<number> | ArrayLike<boolean>, shape: readonly [number, number, number]): this {
    const [N, H, W] = shape;
    const per = H * W;
    if (maps.length !== N * per || masks.length !== N * per) {
      throw new MetricError(
        'length-mismatch',
        `${this.name}: maps have ${maps.length} values and masks ${masks.length}, expected ${N * per} each (shape [${N}, ${H}, ${W}])`,
      );
    }
    for (let i = 0; i < N; i++) {
      const map = 'subarray' in maps ? (maps as Float32Array).subarray(i * per, (i + 1) * per) : Array.prototype.slice.call(maps, i * per, (i + 1) * per);
      const mask = 'subarray' in masks ? (masks as Uint8Array).subarray(i * per, (i + 1) * per) : Array.prototype.slice.call(masks, i * per, (i + 1) * per);
      this.add(map as ArrayLike<number>, mask as ArrayLike<number>, { height: H, width: W });
    }
    return this;
  }

  /**
   * Adds every map of another set after this set's own, as if they had been added here one by one: shards
   * of an evaluation merged in shard order give exactly the single-process numbers (the same sorted keys,
   * counts and region overlaps, so every metric is equal bit for bit). The other set is not changed.
   */
  merge(other: PixelSet): this {
    return this.mergeState(other.toState());
  }

  /** The accumulated state as plain arrays, e.g. to send a shard's accumulator to the process that merges. */
  toState(): PixelSetState {
    return {
      images: this.images,
      negativeKeys: concat(this.negChunks, this.nNeg),
      positiveKeys: concat(this.posKeyChunks, this.nPos),
      positiveRegions: concat(this.posRegionChunks, this.nPos),
      regionSizes: Uint32Array.from(this.regionSizes),
      regionMinKey: Uint32Array.from(this.regionMin),
      regionMaxKey: Uint32Array.from(this.regionMax),
      minKey: this.minKey,
      maxKey: this.maxKey,
      negativeMinKey: this.negMin,
      negativeMaxKey: this.negMax,
    };
  }

  /** A set holding a state written by {@link toState}. */
  static fromState(state: PixelSetState, name?: string): PixelSet {
    return new PixelSet(name).mergeState(state);
  }

  /**
   * Adds a state written by {@link toState} after this set's own maps.
   * @throws MetricError `length-mismatch` when the state's arrays do not agree with each other
   */
  mergeState(state: PixelSetState): this {
    const R = state.regionSizes.length;
    const what = `${this.name}: merged state`;
    if (state.positiveRegions.length !== state.positiveKeys.length || state.regionMinKey.length !== R || state.regionMaxKey.length !== R) {
      throw new MetricError(
        'length-mismatch',
        `${what}: ${state.positiveKeys.length} anomalous keys with ${state.positiveRegions.length} region ids, ${R} region sizes with ${state.regionMinKey.length} minima and ${state.regionMaxKey.length} maxima, expected equal pairs`,
      );
    }
    if (!(Number.isInteger(state.images) && state.images >= 0))
      throw new MetricError('length-mismatch', `${what}: images is ${state.images}, expected a count`);
    if (state.images === 0) return this;
    const base = this.regionSizes.length;
    const regions = new Uint32Array(state.positiveRegions.length);
    for (let i = 0; i < regions.length; i++) {
      const r = state.positiveRegions[i]!;
      if (r >= R) throw new MetricError('length-mismatch', `${what}: anomalous pixel ${i} is in region ${r}, but the state has ${R} regions`);
      regions[i] = base + r;
    }
    for (let r = 0; r < R; r++) {
      this.regionSizes.push(state.regionSizes[r]!);
      this.regionMin.push(state.regionMinKey[r]!);
      this.regionMax.push(state.regionMaxKey[r]!);
    }
    if (state.negativeKeys.length > 0) this.negChunks.push(state.negativeKeys.slice());
    if (state.positiveKeys.length > 0) {
      this.posKeyChunks.push(state.positiveKeys.slice());
      this.posRegionChunks.push(regions);
    }
    this.nNeg += state.negativeKeys.length;
    this.nPos += state.positiveKeys.length;
    this.images += state.images;
    this.minKey = Math.min(this.minKey, state.minKey);
    this.maxKey = Math.max(this.maxKey, state.maxKey);
    this.negMin = Math.min(this.negMin, state.negativeMinKey);
    this.negMax = Math.max(this.negMax, state.negativeMaxKey);
    this.cache = {};
    return this;
  }

  /** @throws MetricError `empty` when no map was added. */
  private checkNotEmpty(): void {
    if (this.images === 0) throw new MetricError('empty', `${this.name}: no map was added`);
  }

  /** The accumulated pixels, with the anomalous ones sorted (computed once per state). */
  data(): PixelData {
    this.checkNotEmpty();
    if (this.cache.data) return this.cache.data;
    const positiveKeys = concat(this.posKeyChunks, this.nPos);
    const positiveRegions = concat(this.posRegionChunks, this.nPos);
    radixSortKeys(positiveKeys, positiveRegions);
    const data: PixelData = {
      positiveKeys,
      positiveRegions,
      regionSizes: Uint32Array.from(this.regionSizes),
      regionMinKey: Uint32Array.from(this.regionMin),
      regionMaxKey: Uint32Array.from(this.regionMax),
      negativeChunks: this.negChunks,
      negatives: this.nNeg,
      positives: this.nPos,
      minKey: this.minKey,
      maxKey: this.maxKey,
      negativeMinKey: this.negMin,
      negativeMaxKey: this.negMax,
    };
    this.cache.data = data;
    return data;
  }

  /** The normal pixels' keys, sorted ascending (computed once per state; 4 more bytes per normal pixel). */
  sortedNegatives(): Uint32Array {
    const d = this.data();
    if (!this.cache.sortedNegatives) {
      const keys = concat(d.negativeChunks, d.negatives);
      radixSortKeys(keys);
      this.cache.sortedNegatives = keys;
    }
    return this.cache.sortedNegatives;
  }

  /** Ranked counts at every distinct anomalous-pixel score, with per-region overlap sums. */
  ranked(): RankedCounts {
    if (this.cache.ranked) return this.cache.ranked;
    const r = rankPixels(this.data());
    this.cache.ranked = r;
    return r;
  }
}

function concat(chunks: Uint32Array[], total: number): Uint32Array {
  if (chunks.length === 1 && chunks[0]!.length === total) return chunks[0]!.slice();
  const out = new Uint32Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Ranked counts of a pixel set. The anomalous pixels are sorted; each normal pixel is only located among the
 * distinct anomalous scores (a lookup table on the top key bits, then a short binary search), so the normal
 * pixels are never sorted.
 */
export function rankPixels(d: PixelData): RankedCounts {
  const pk = d.positiveKeys;
  const P = pk.length;
  // distinct anomalous keys, ascending, with cumulative counts and overlap sums taken from the top
  let m = 0;
  for (let i = 0; i < P; i++) if (i === 0 || pk[i] !== pk[i - 1]) m++;
  const K = new Uint32Array(m);
  for (let i = 0, a = 0; i < P; i++) if (i === 0 || pk[i] !== pk[i - 1]) K[a++] = pk[i]!;
  const descKeys = new Uint32Array(m);
  const truePositives = new Float64Array(m);
  const overlapSum = new Float64Array(m);
  const inv = Float64Array.from(d.regionSizes, (s) => 1 / s);
  // descending walk: j = m - 1 - ascending index; cumulative sums pixel by pixel, as MVTec's cumsum
  let cum = 0;
  let j = 0;
  for (let i = P - 1; i >= 0; i--) {
    cum += inv[d.positiveRegions[i]!]!;
    if (i === 0 || pk[i - 1] !== pk[i]) {
      descKeys[j] = pk[i]!;
      truePositives[j] = P - i;
      overlapSum[j] = cum;
      j++;
    }
  }
  const thresholds = Float64Array.from(keysToFloats(descKeys));
  // locate the normal pixels among the distinct anomalous keys
  const eq = new Float64Array(m);
  const between = new Float64Array(m + 1); // between[a]: keys in (K[a-1], K[a])
  const bitsB = Math.max(8, Math.min(21, Math.ceil(Math.log2(m + 1)) + 4));
  const shift = 32 - bitsB;
  const table = new Uint32Array((1 << bitsB) + 1);
  {
    let a = 0;
    for (let b = 0; b < 1 << bitsB; b++) {
      while (a < m && K[a]! >>> shift < b) a++;
      table[b] = a;
    }
    table[1 << bitsB] = m;
  }
  for (const chunk of d.negativeChunks) {
    for (let i = 0; i < chunk.length; i++) {
      const k = chunk[i]!;
      const b = k >>> shift;
      let lo = table[b]!;
      let hi = table[b + 1]!;
      if (lo === hi) {
        between[lo]!++;
        continue;
      }
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (K[mid]! < k) lo = mid + 1;
        else hi = mid;
      }
      if (lo < m && K[lo] === k) eq[lo]!++;
      else between[lo]!++;
    }
  }
  const falsePositives = new Float64Array(m);
  const falsePositivesAbove = new Float64Array(m);
  let fp = between[m]!;
  for (let a = m - 1, jj = 0; a >= 0; a--, jj++) {
    falsePositivesAbove[jj] = fp;
    fp += eq[a]!;
    falsePositives[jj] = fp;
    fp += between[a]!;
  }
  return {
    thresholds,
    truePositives,
    falsePositives,
    falsePositivesAbove,
    positives: P,
    negatives: d.negatives,
    minScore: keyToFloat(d.minKey),
    overlapSum,
  };
}
