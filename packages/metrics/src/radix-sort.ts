/**
 * Sorts uint32 keys ascending (LSD radix sort, 3 passes of 11 bits), in place, carrying an optional payload.
 * Stable. O(n) time, one scratch copy of the keys (and of the payload).
 */
import { MetricError } from './errors';

export function radixSortKeys(keys: Uint32Array, payload?: Uint32Array): void {
  const n = keys.length;
  if (n < 2) return;
  if (payload && payload.length !== n) throw new MetricError('length-mismatch', `radixSortKeys: payload has ${payload.length} entries, keys ${n}`);
  if (n < 256) {
    insertionSort(keys, payload);
    return;
  }
  const h0 = new Uint32Array(2048),
    h1 = new Uint32Array(2048),
    h2 = new Uint32Array(1024);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    h0[k & 2047]!++;
    h1[(k >>> 11) & 2047]!++;
    h2[k >>> 22]!++;
  }
  let src: Uint32Array = keys,
    dst: Uint32Array = new Uint32Array(n);
  let psrc: Uint32Array | undefined = payload,
    pdst: Uint32Array | undefined = payload ? new Uint32Array(n) : undefined;
  const passes: [Uint32Array, number, number][] = [
    [h0, 0, 2047],
    [h1, 11, 2047],
    [h2, 22, 1023],
  ];
  for (const [h, shift, mask] of passes) {
    if (h[(src[0]! >>> shift) & mask] === n) continue; // every key has the same digit
    let sum = 0;
    for (let b = 0; b < h.length; b++) {
      const c = h[b]!;
      h[b] = sum;
      sum += c;
    }
    if (psrc && pdst) {
      for (let i = 0; i < n; i++) {
        const k = src[i]!;
        const pos = h[(k >>> shift) & mask]!++;
        dst[pos] = k;
        pdst[pos] = psrc[i]!;
      }
      [psrc, pdst] = [pdst, psrc];
    } else {
      for (let i = 0; i < n; i++) {
        const k = src[i]!;
        dst[h[(k >>> shift) & mask]!++] = k;
      }
    }
    [src, dst] = [dst, src];
  }
  if (src !== keys) keys.set(src);
  if (payload && psrc && psrc !== payload) payload.set(psrc);
}

function insertionSort(keys: Uint32Array, payload?: Uint32Array): void {
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    const p = payload ? payload[i]! : 0;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      if (payload) payload[j + 1] = payload[j]!;
      j--;
    }
    keys[j + 1] = k;
    if (payload) payload[j + 1] = p;
  }
}
