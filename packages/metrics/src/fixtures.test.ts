import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkReferenceCase, type ReferenceCase } from './reference-case';

// the repository's fixtures/ (three levels up from packages/metrics/src)
const FIXTURES = fileURLToPath(new URL('../../../fixtures/metrics', import.meta.url));

/** Minimal safetensors reader for the fixture inputs (F32, F64, I32, U8). */
function readSafetensors(path: string): Map<string, { shape: number[]; data: ArrayLike<number> }> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + n;
  const out = new Map<string, { shape: number[]; data: ArrayLike<number> }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = new Uint8Array(buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1])).slice().buffer;
    const ctor = { F32: Float32Array, F64: Float64Array, I32: Int32Array, U8: Uint8Array }[t.dtype];
    if (!ctor) throw new Error(`${path}: tensor ${name} has dtype ${t.dtype}, not read here`);
    out.set(name, { shape: t.shape, data: new ctor(bytes) });
  }
  return out;
}

const cases = existsSync(FIXTURES)
  ? readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'fixture.json'))).sort()
  : [];

describe('golden fixtures (sklearn, MVTec AD, anomalib, AnomalyCLIP)', () => {
  it('finds the metric fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(12);
  });
  for (const c of cases) {
    it(`${c}: every key matches the reference behaviour`, () => {
      const exp = JSON.parse(readFileSync(join(FIXTURES, c, 'expected.json'), 'utf8')) as ReferenceCase;
      const checks = checkReferenceCase(c, readSafetensors(join(FIXTURES, c, 'inputs.safetensors')), exp);
      expect(checks.length).toBeGreaterThan(0);
      const failures = checks
        .filter(({ check: r }) => !r.ok)
        .map(({ name, check: r }) => `${name}: ${r.note ?? ''} (abs ${r.absError}, rel ${r.relError})`);
      expect(failures).toEqual([]);
    });
  }
});
