import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSafetensors } from '@hgm/tensor/node';
import { checkReferenceCase, type ReferenceCase } from './reference-case';

// the repository's fixtures/ (three levels up from packages/metrics/src)
const FIXTURES = fileURLToPath(new URL('../../../fixtures/metrics', import.meta.url));

const cases = existsSync(FIXTURES)
  ? readdirSync(FIXTURES)
      .filter((d) => existsSync(join(FIXTURES, d, 'fixture.json')))
      .sort()
  : [];

describe('golden fixtures (sklearn, MVTec AD, anomalib, AnomalyCLIP)', () => {
  it('finds the metric fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(12);
  });
  for (const c of cases) {
    it(`${c}: every key matches the reference behaviour`, async () => {
      const exp = JSON.parse(readFileSync(join(FIXTURES, c, 'expected.json'), 'utf8')) as ReferenceCase;
      const reader = await openSafetensors(join(FIXTURES, c, 'inputs.safetensors'));
      const inputs = await reader.readAllHost().finally(() => reader.close());
      const checks = checkReferenceCase(c, inputs, exp);
      expect(checks.length).toBeGreaterThan(0);
      const failures = checks.filter(({ check: r }) => !r.ok).map(({ name, check: r }) => `${name}: ${r.note ?? ''} (abs ${r.absError}, rel ${r.relError})`);
      expect(failures).toEqual([]);
    });
  }
});
