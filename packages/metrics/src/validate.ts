import { MetricError } from './errors';

/** Labels: 0 = normal, 1 = anomalous. Booleans are accepted. */
export type Labels = ArrayLike<number> | ArrayLike<boolean>;

/** Checks labels (0/1) and scores (finite, same length, not empty); returns labels as 0/1 numbers. */
export function checkLabelsAndScores(labels: Labels, scores: ArrayLike<number>, what: string): Uint8Array {
  if (labels.length !== scores.length) {
    throw new MetricError('length-mismatch', `${what}: labels have ${labels.length} entries, scores ${scores.length}; expected the same length`);
  }
  if (scores.length === 0) throw new MetricError('empty', `${what}: no sample (labels and scores are empty)`);
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number | boolean;
    if (l === 1 || l === true) out[i] = 1;
    else if (l !== 0 && l !== false) {
      throw new MetricError('invalid-label', `${what}: labels[${i}] is ${String(l)}, expected 0 or 1`);
    }
    const s = scores[i]!;
    if (!Number.isFinite(s)) {
      throw new MetricError('non-finite', `${what}: scores[${i}] is ${s}, expected a finite number (sklearn raises "Input contains NaN")`);
    }
  }
  return out;
}
