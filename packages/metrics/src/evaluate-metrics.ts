import { MetricError, isMetricError } from './errors';
import { aupro } from './aupro';
import { parseMetricName } from './metric-names';
import type { PixelSet } from './pixel-set';
import type { RankedCounts } from './ranked-counts';
import { rankScores } from './image-metrics';
import { aurocFromCounts, averagePrecisionFromCounts, f1MaxFromCounts, type F1Max } from './threshold-metrics';
import type { Labels } from './validate';

/** What a set of metrics is computed on: image-level labels and scores, and/or a pixel set. */
export interface MetricInputs {
  image?: { labels: Labels; scores: ArrayLike<number> };
  pixels?: PixelSet;
}

/** One computed metric: a number, or the typed error saying why it is undefined for this input. */
export type MetricOutcome = { value: number } | { error: MetricError };

/**
 * Computes metrics by name (see `parseMetricName`), sharing the ranking between them. Degenerate input gives
 * `{ error }` for the metrics it affects (never NaN); an unknown name throws.
 */
export function evaluateMetrics(names: readonly string[], inputs: MetricInputs): Map<string, MetricOutcome> {
  const specs = names.map((n) => [n, parseMetricName(n)] as const);
  const out = new Map<string, MetricOutcome>();
  let imageRank: RankedCounts | MetricError | undefined;
  let f1: { image?: F1Max | MetricError; pixel?: F1Max | MetricError } = {};
  const ranked = (level: 'image' | 'pixel'): RankedCounts => {
    if (level === 'image') {
      if (!inputs.image) throw new MetricError('empty', 'image-level metrics need image labels and scores, none given');
      if (imageRank === undefined) {
        try {
          imageRank = rankScores(inputs.image.labels, inputs.image.scores);
        } catch (e) {
          if (!isMetricError(e)) throw e;
          imageRank = e;
        }
      }
      if (imageRank instanceof MetricError) throw imageRank;
      return imageRank;
    }
    if (!inputs.pixels) throw new MetricError('empty', 'pixel-level metrics need a pixel set, none given');
    return inputs.pixels.ranked();
  };
  const f1Of = (level: 'image' | 'pixel'): F1Max => {
    if (f1[level] === undefined) f1 = { ...f1, [level]: f1MaxFromCounts(ranked(level)) };
    return f1[level] as F1Max;
  };
  for (const [name, spec] of specs) {
    try {
      let value: number;
      if (spec.metric === 'aupro') {
        if (!inputs.pixels) throw new MetricError('empty', `${name}: needs a pixel set, none given`);
        value = aupro(inputs.pixels, { variant: spec.variant, fprLimit: spec.fprLimit });
      } else if (spec.metric === 'auroc') value = aurocFromCounts(ranked(spec.level), `${name}`);
      else if (spec.metric === 'ap') value = averagePrecisionFromCounts(ranked(spec.level));
      else if (spec.metric === 'f1_max') value = f1Of(spec.level).f1;
      else if (spec.metric === 'f1_max_threshold') value = f1Of(spec.level).threshold;
      else value = f1Of('image').index!;
      out.set(name, { value });
    } catch (e) {
      if (!isMetricError(e)) throw e;
      out.set(name, { error: e });
    }
  }
  return out;
}
