import { MetricError } from './errors';
import { evaluateMetrics, type MetricInputs } from './evaluate-metrics';
import { PixelSet } from './pixel-set';
import { checkAgainstReference, type ReferenceCheck, type ReferenceValue } from './reference-outcome';

/** The `expected.json` of a golden metrics case: reference values by metric name (e.g. `aupro_mvtec@0.3`). */
export interface ReferenceCase {
  /** Name of the case (used in error messages). */
  case?: string;
  expected: Record<string, ReferenceValue>;
  /** Warnings the reference emitted, by metric name. */
  reference_warnings?: Record<string, string[]>;
}

/** One input array of a case (as read from `inputs.safetensors`). */
export interface ReferenceArray {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/**
 * The metric inputs of a case: image level from `labels` + `scores`, pixel level from `maps` + `masks`
 * (`[N, H, W]`, or `[H, W]` for one map). `label` names the case in errors, `name` the pixel set.
 */
export function referenceCaseInputs(label: string, arrays: ReadonlyMap<string, ReferenceArray>, name: string = label): MetricInputs {
  const inputs: MetricInputs = {};
  const labels = arrays.get('labels');
  const scores = arrays.get('scores');
  if (labels && scores) inputs.image = { labels: labels.data, scores: scores.data };
  const maps = arrays.get('maps');
  const masks = arrays.get('masks');
  if (maps && masks) {
    const shape = maps.shape.length === 2 ? [1, maps.shape[0]!, maps.shape[1]!] : maps.shape;
    if (shape.length !== 3) throw new MetricError('length-mismatch', `${label}: maps have shape [${maps.shape.join(', ')}], expected [N, H, W] or [H, W]`);
    if (masks.shape.join() !== maps.shape.join()) {
      throw new MetricError('length-mismatch', `${label}: masks have shape [${masks.shape.join(', ')}], maps [${maps.shape.join(', ')}]`);
    }
    inputs.pixels = new PixelSet(name).addBatch(maps.data, masks.data, shape as [number, number, number]);
  }
  return inputs;
}

/**
 * Computes every metric named in `reference.expected` on the case's arrays and checks each against the
 * reference value ({@link checkAgainstReference}), in the order of the keys.
 */
export function checkReferenceCase(
  label: string,
  arrays: ReadonlyMap<string, ReferenceArray>,
  reference: ReferenceCase,
): { name: string; check: ReferenceCheck }[] {
  const names = Object.keys(reference.expected);
  const outcomes = evaluateMetrics(names, referenceCaseInputs(label, arrays, reference.case ?? label));
  return names.map((name) => ({
    name,
    check: checkAgainstReference(name, outcomes.get(name), reference.expected[name]!, reference.reference_warnings?.[name] ?? []),
  }));
}
