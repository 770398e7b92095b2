/**
 * Parity kind `metrics`: anomaly-detection metrics against the reference values recorded in a fixture folder
 * (`inputs.safetensors` + `expected.json`). Which metrics, AUPRO variants and FPR limits to compute comes from
 * the key names of `expected.expected` (e.g. `aupro_mvtec@0.3`); every key is one row. Raised errors and
 * NaN results of the references are checked as behaviour (see `checkAgainstReference` in @hgm/metrics).
 */
import type { Fixture } from '@hgm/tensor/testing';
import { PixelSet, checkAgainstReference, evaluateMetrics, type MetricInputs, type ReferenceValue } from '@hgm/metrics';
import type { ParityRow } from '../compare';

interface ExpectedFile {
  case?: string;
  expected: Record<string, ReferenceValue>;
  reference_warnings?: Record<string, string[]>;
}

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  const exp = await fixture.json<ExpectedFile>('expected.json');
  if (!exp.expected || typeof exp.expected !== 'object') throw new Error(`${fixture.folder}/expected.json: no "expected" object`);
  const tensors = await fixture.tensors('inputs.safetensors');
  const inputs: MetricInputs = {};
  const labels = tensors.get('labels'), scores = tensors.get('scores');
  if (labels && scores) inputs.image = { labels: labels.data as ArrayLike<number>, scores: scores.data as ArrayLike<number> };
  const maps = tensors.get('maps'), masks = tensors.get('masks');
  if (maps && masks) {
    const shape = maps.shape.length === 2 ? [1, maps.shape[0]!, maps.shape[1]!] : maps.shape;
    if (shape.length !== 3) throw new Error(`${fixture.folder}: maps have shape [${maps.shape.join(', ')}], expected [N, H, W] or [H, W]`);
    if (masks.shape.join() !== maps.shape.join()) {
      throw new Error(`${fixture.folder}: masks have shape [${masks.shape.join(', ')}], maps [${maps.shape.join(', ')}]`);
    }
    inputs.pixels = new PixelSet(exp.case ?? fixture.folder).addBatch(
      maps.data as ArrayLike<number>,
      masks.data as ArrayLike<number>,
      shape as [number, number, number],
    );
  }
  const names = Object.keys(exp.expected);
  const outcomes = evaluateMetrics(names, inputs);
  return names.map((name) => {
    const r = checkAgainstReference(name, outcomes.get(name), exp.expected[name]!, exp.reference_warnings?.[name] ?? []);
    return { name, shape: [], maxAbsError: r.absError, maxRelError: r.relError, ok: r.ok, ...(r.note ? { note: r.note } : {}) };
  });
}
