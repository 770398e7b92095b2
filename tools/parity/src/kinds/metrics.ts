/**
 * Parity kind `metrics`: anomaly-detection metrics against the reference values recorded in a fixture folder
 * (`inputs.safetensors` + `expected.json`). Which metrics, AUPRO variants and FPR limits to compute comes from
 * the key names of `expected.expected` (e.g. `aupro_mvtec@0.3`); every key is one row. Raised errors and
 * NaN results of the references are checked as behaviour (see `checkReferenceCase` in @hgm/metrics).
 */
import type { Fixture } from '@hgm/tensor/testing';
import { checkReferenceCase, type ReferenceCase } from '@hgm/metrics';
import type { ParityRow } from '../compare';

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  const exp = await fixture.json<ReferenceCase>('expected.json');
  if (!exp.expected || typeof exp.expected !== 'object') throw new Error(`${fixture.folder}/expected.json: no "expected" object`);
  const tensors = await fixture.tensors('inputs.safetensors');
  return checkReferenceCase(fixture.folder, tensors, exp).map(({ name, check: r }) => ({
    name,
    shape: [],
    maxAbsError: r.absError,
    maxRelError: r.relError,
    ok: r.ok,
    ...(r.note ? { note: r.note } : {}),
  }));
}
