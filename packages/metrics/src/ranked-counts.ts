/**
 * The ranking of a scored binary set, reduced to what every threshold metric needs: one entry per distinct
 * score that at least one positive has, in descending order, with the cumulative counts of positives and
 * negatives at or above it. Thresholds held only by negatives are left out: between two such entries the
 * ROC and PRO curves are flat in y, and precision/recall/F1 cannot reach a maximum there, so every metric
 * below is the same as on the full curve.
 */
export interface RankedCounts {
  /** Distinct scores held by at least one positive, descending. [m] */
  thresholds: Float64Array;
  /** Positives with score >= thresholds[j] (true positives at that threshold). [m] */
  truePositives: Float64Array;
  /** Negatives with score >= thresholds[j] (false positives at that threshold). [m] */
  falsePositives: Float64Array;
  /** Negatives with score > thresholds[j] (false positives just above it). [m] */
  falsePositivesAbove: Float64Array;
  /** Number of positives. */
  positives: number;
  /** Number of negatives. */
  negatives: number;
  /** Lowest score of the whole set (the F1-max threshold when there is no positive, as sklearn). */
  minScore: number;
  /**
   * For each entry, the number of distinct scores (of all samples) below it: the index of the threshold in
   * sklearn's ascending `precision_recall_curve` thresholds. Only set where the full ranking was built. [m]
   */
  ascendingIndex?: Float64Array;
  /** Per-region overlap sums at each entry: sum over positives >= thresholds[j] of 1 / (size of its region). [m] */
  overlapSum?: Float64Array;
}

/**
 * Ranked counts of a small set by a full sort in float64 (image-level scores). Scores must be finite and
 * labels 0/1 (checked by the caller).
 */
export function rankFullSort(labels: ArrayLike<number>, scores: ArrayLike<number>): RankedCounts {
  const n = scores.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const s = Float64Array.from(scores as ArrayLike<number>);
  order.sort((a, b) => s[b]! - s[a]!);
  // distinct values, descending
  const thresholds: number[] = [];
  const tps: number[] = [];
  const fps: number[] = [];
  const fpsAbove: number[] = [];
  const distinctRank: number[] = [];
  let tp = 0,
    fp = 0,
    positives = 0,
    distinct = 0;
  let i = 0;
  while (i < n) {
    const v = s[order[i]!]!;
    let p = 0,
      q = 0;
    while (i < n && s[order[i]!]! === v) {
      if (labels[order[i]!]) p++;
      else q++;
      i++;
    }
    if (p > 0) {
      thresholds.push(v);
      fpsAbove.push(fp);
      tp += p;
      tps.push(tp);
      fps.push(fp + q);
      distinctRank.push(distinct);
    }
    positives += p;
    fp += q;
    distinct++;
  }
  const ascendingIndex = Float64Array.from(distinctRank, (r) => distinct - 1 - r);
  return {
    thresholds: Float64Array.from(thresholds),
    truePositives: Float64Array.from(tps),
    falsePositives: Float64Array.from(fps),
    falsePositivesAbove: Float64Array.from(fpsAbove),
    positives,
    negatives: fp,
    minScore: n > 0 ? s[order[n - 1]!]! : NaN,
    ascendingIndex,
  };
}
