/**
 * Sum of `values[start, end)` by pairwise (cascade) summation with blocks of 8, the scheme numpy's `np.sum`
 * uses on float64 arrays. Its rounding error grows like O(log n) instead of O(n), and results agree with
 * numpy's to the last bits in practice.
 */
export function pairwiseSum(values: ArrayLike<number>, start = 0, end = values.length): number {
  const n = end - start;
  if (n < 8) {
    let s = -0;
    for (let i = start; i < end; i++) s += values[i]!;
    return n === 0 ? 0 : s;
  }
  if (n <= 128) {
    let r0 = values[start]!,
      r1 = values[start + 1]!,
      r2 = values[start + 2]!,
      r3 = values[start + 3]!;
    let r4 = values[start + 4]!,
      r5 = values[start + 5]!,
      r6 = values[start + 6]!,
      r7 = values[start + 7]!;
    let i = start + 8;
    const stop = end - (n % 8);
    for (; i < stop; i += 8) {
      r0 += values[i]!;
      r1 += values[i + 1]!;
      r2 += values[i + 2]!;
      r3 += values[i + 3]!;
      r4 += values[i + 4]!;
      r5 += values[i + 5]!;
      r6 += values[i + 6]!;
      r7 += values[i + 7]!;
    }
    let s = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < end; i++) s += values[i]!;
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(values, start, start + n2) + pairwiseSum(values, start + n2, end);
}
