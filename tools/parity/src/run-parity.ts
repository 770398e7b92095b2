import { relative } from 'node:path';
import { findFixtures, type Fixture } from '@hgm/tensor/testing';
import type { ParityRow } from './compare';

/** What a kind module exports: run one fixture folder and compare every output it holds. */
export interface KindRunner {
  runFixture(fixture: Fixture, options?: ParityOptions): Promise<ParityRow[]>;
}

/**
 * What runs the frozen encoders: tfjs, or ONNX Runtime (`@hgm/onnx`) for the kinds that have an encoder, on
 * its CPU provider (`onnx`) or its WebGPU provider (`onnx-webgpu`).
 */
export type ParityExecutor = 'tfjs' | 'onnx' | 'onnx-webgpu';

/** Whether `executor` is one of ONNX Runtime's. */
export function isOnnx(executor: ParityExecutor | undefined): executor is 'onnx' | 'onnx-webgpu' {
  return executor === 'onnx' || executor === 'onnx-webgpu';
}

/** The session options of an ONNX executor: its provider. */
export function onnxProviders(executor: 'onnx' | 'onnx-webgpu'): { executionProviders: string[] } {
  return { executionProviders: [executor === 'onnx-webgpu' ? 'webgpu' : 'cpu'] };
}

export interface ParityOptions {
  executor?: ParityExecutor;
}

export interface FixtureResult {
  folder: string;
  kind: string;
  rows: ParityRow[];
  error?: string;
}

/** Loads the runner of a kind from `./kinds/<kind>.ts`. */
export async function loadKind(kind: string): Promise<KindRunner | undefined> {
  if (!/^[a-z0-9-]+$/.test(kind)) return undefined;
  try {
    return (await import(`./kinds/${kind}.ts`)) as KindRunner;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Failed to load url|Does the file exist/.test(String((e as Error).message))) return undefined;
    throw e;
  }
}

/** Runs every fixture at or below `root`. */
export async function runParity(root: string, onFixture?: (r: FixtureResult) => void, options: ParityOptions = {}): Promise<FixtureResult[]> {
  const fixtures = await findFixtures(root);
  if (fixtures.length === 0) throw new Error(`${root}: no fixture folder (with a fixture.json) at or below it`);
  const results: FixtureResult[] = [];
  for (const fx of fixtures) {
    const runner = await loadKind(fx.kind);
    let result: FixtureResult;
    if (!runner) {
      result = { folder: fx.folder, kind: fx.kind, rows: [], error: `no parity runner for kind ${JSON.stringify(fx.kind)}` };
    } else {
      try {
        const rows = await runner.runFixture(fx, options);
        result =
          rows.length === 0 ? { folder: fx.folder, kind: fx.kind, rows, error: 'the runner compared nothing' } : { folder: fx.folder, kind: fx.kind, rows };
      } catch (e) {
        result = { folder: fx.folder, kind: fx.kind, rows: [], error: (e as Error).stack ?? String(e) };
      }
    }
    results.push(result);
    onFixture?.(result);
  }
  return results;
}

function fmt(x: number): string {
  if (Number.isNaN(x)) return '-';
  if (x === 0) return '0';
  return x.toExponential(2);
}

/** The printed table of one fixture. */
export function formatFixture(r: FixtureResult): string {
  const lines = [`\n${relative(process.cwd(), r.folder) || r.folder}  (kind ${r.kind})`];
  if (r.error) lines.push(`  ERROR ${r.error.split('\n').slice(0, 6).join('\n        ')}`);
  if (r.rows.length > 0) {
    const w = Math.max(4, ...r.rows.map((x) => x.name.length));
    const sw = Math.max(5, ...r.rows.map((x) => `[${x.shape.join(', ')}]`.length));
    lines.push(`  ${'name'.padEnd(w)}  ${'shape'.padEnd(sw)}  ${'max abs err'.padStart(11)}  ${'max rel err'.padStart(11)}  ok`);
    for (const x of r.rows) {
      lines.push(
        `  ${x.name.padEnd(w)}  ${`[${x.shape.join(', ')}]`.padEnd(sw)}  ${fmt(x.maxAbsError).padStart(11)}  ${fmt(x.maxRelError).padStart(11)}  ${x.ok ? 'ok' : 'FAIL'}${x.note ? `  (${x.note})` : ''}`,
      );
    }
  }
  return lines.join('\n');
}

/** Counts: each compared row is one check; a fixture that errored counts as one failure. */
export function countResults(results: FixtureResult[]): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  for (const r of results) {
    for (const x of r.rows) {
      if (x.ok) passed++;
      else failed++;
    }
    if (r.error) failed++;
  }
  return { passed, failed };
}
