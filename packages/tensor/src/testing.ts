/**
 * Test helpers shared by every package (Node only): closeness with a useful failure message, a tensor
 * leak check, a reader for the golden-fixture folder layout, and a way to run one suite on several backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as vitest from 'vitest';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsReader, type HostTensor } from './safetensors';
import { openSafetensors, openTensorFile, initNodeBackend } from './node';
import type { TensorFile } from './tensor-file';
import type { BackendName } from './backend';
import { InputNotFoundError, InvalidFileError } from './errors';

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Label for the message. */
  name?: string;
}

/** The worst element of a comparison. */
export interface CloseReport {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** Flat index of the worst violation (or of the largest absolute error when all pass). */
  worstIndex: number;
  actual: number;
  expected: number;
  size: number;
}

/**
 * Compares element-wise with |a - e| <= atol + rtol * |e| (numpy's allclose). NaN equals NaN;
 * infinities must match exactly.
 */
export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, options: CloseOptions = {}): CloseReport {
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-5;
  if (actual.length !== expected.length) {
    throw new Error(`${options.name ?? 'compareClose'}: actual has ${actual.length} elements, expected has ${expected.length}`);
  }
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  let ok = true;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if (a !== e) {
        ok = false;
        if (worstExcess < Infinity) {
          worstExcess = Infinity;
          worst = i;
        }
        maxAbs = Infinity;
      }
      continue;
    }
    const diff = Math.abs(a - e);
    const rel = diff / Math.max(Math.abs(e), 1e-12);
    if (diff > maxAbs) maxAbs = diff;
    if (rel > maxRel && diff > 0) maxRel = rel;
    const excess = diff - (atol + rtol * Math.abs(e));
    if (excess > 0) ok = false;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  return {
    ok,
    maxAbsError: maxAbs,
    maxRelError: maxRel,
    worstIndex: worst,
    actual: worst >= 0 ? actual[worst]! : NaN,
    expected: worst >= 0 ? expected[worst]! : NaN,
    size: actual.length,
  };
}

function unravel(index: number, shape: readonly number[] | undefined): string {
  if (!shape || shape.length === 0) return `${index}`;
  const out: number[] = [];
  let r = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(r % shape[d]!);
    r = Math.floor(r / shape[d]!);
  }
  return `[${out.join(', ')}]`;
}

/**
 * Throws when two arrays or tensors differ beyond atol + rtol * |expected|, naming the worst element,
 * its index, both values and the maximum absolute and relative errors.
 */
export async function expectClose(
  actual: tf.Tensor | ArrayLike<number>,
  expected: tf.Tensor | HostTensor | ArrayLike<number>,
  options: CloseOptions = {},
): Promise<CloseReport> {
  const isHost = (x: unknown): x is HostTensor => typeof x === 'object' && x !== null && 'shape' in x && 'data' in x && !(x instanceof tf.Tensor);
  const shapeOf = (x: unknown): number[] | undefined => (x instanceof tf.Tensor ? [...x.shape] : isHost(x) ? x.shape : undefined);
  const aShape = shapeOf(actual);
  const eShape = shapeOf(expected);
  if (aShape && eShape && (aShape.length !== eShape.length || aShape.some((d, i) => d !== eShape[i]))) {
    throw new Error(`${options.name ?? 'value'}: shape [${aShape.join(', ')}] differs from the expected [${eShape.join(', ')}]`);
  }
  const a = actual instanceof tf.Tensor ? await actual.data() : actual;
  const e = expected instanceof tf.Tensor ? await expected.data() : isHost(expected) ? expected.data : expected;
  const r = compareClose(a as ArrayLike<number>, e as ArrayLike<number>, options);
  if (!r.ok) {
    throw new Error(
      `${options.name ?? 'value'}: not close (atol ${options.atol ?? 1e-5}, rtol ${options.rtol ?? 1e-5}); worst element ${unravel(r.worstIndex, eShape ?? aShape)} ` +
        `is ${r.actual}, expected ${r.expected}; max abs error ${r.maxAbsError.toExponential(3)}, max rel error ${r.maxRelError.toExponential(3)} over ${r.size} elements`,
    );
  }
  return r;
}

/**
 * Runs `fn` `repeats` times (after one warm-up call) and throws when the number of live tensors grew.
 * `fn` must dispose what it returns.
 */
export async function expectNoLeak(fn: () => unknown | Promise<unknown>, options: { repeats?: number; name?: string } = {}): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  for (let i = 0; i < (options.repeats ?? 3); i++) await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`${options.name ?? 'function'} leaks tensors: ${before} live before ${options.repeats ?? 3} repeated calls, ${after} after`);
  }
}

/** A golden-fixture folder: its `fixture.json`, JSON files and safetensors files, read on demand. */
export class Fixture {
  constructor(
    readonly folder: string,
    readonly meta: { kind: string; [k: string]: unknown },
  ) {}

  get kind(): string {
    return this.meta.kind;
  }

  /** Parses a JSON file of the folder. */
  async json<T = any>(file: string): Promise<T> {
    const path = join(this.folder, file);
    try {
      return JSON.parse(await readFile(path, 'utf8')) as T;
    } catch (e) {
      throw new InvalidFileError(path, `${path}: cannot read JSON (${(e as Error).message})`);
    }
  }

  async hasFile(file: string): Promise<boolean> {
    try {
      await stat(join(this.folder, file));
      return true;
    } catch {
      return false;
    }
  }

  /** Opens a safetensors file of the folder. */
  async safetensors(file: string): Promise<SafetensorsReader> {
    return openSafetensors(join(this.folder, file));
  }

  /**
   * Opens the folder's weights: `weights.safetensors`, `weights.pth` (torch.save) or `weights.pt`
   * (TorchScript), whichever it holds; a folder with none or several of them is refused.
   */
  async weightsFile(): Promise<TensorFile> {
    const present: string[] = [];
    for (const f of FIXTURE_WEIGHTS_FILES) if (await this.hasFile(f)) present.push(f);
    if (present.length !== 1) {
      throw new Error(
        `${this.folder}: expected exactly one of ${FIXTURE_WEIGHTS_FILES.join(', ')}, found ${present.length === 0 ? 'none' : present.join(', ')}`,
      );
    }
    return openTensorFile(join(this.folder, present[0]!));
  }

  /** Reads every tensor of a safetensors file of the folder into memory. */
  async tensors(file: string): Promise<Map<string, HostTensor>> {
    const r = await this.safetensors(file);
    try {
      return await r.readAllHost();
    } finally {
      await r.close();
    }
  }
}

/** The names a fixture's weights file may have, in either format. */
export const FIXTURE_WEIGHTS_FILES = ['weights.safetensors', 'weights.pth', 'weights.pt'] as const;

/** Opens a fixture folder (it must hold a `fixture.json` with a `kind`). */
export async function readFixture(folder: string): Promise<Fixture> {
  const path = join(folder, 'fixture.json');
  let meta: unknown;
  try {
    meta = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new InvalidFileError(path, `${path}: not a fixture folder (${(e as Error).message})`);
  }
  if (!meta || typeof (meta as { kind?: unknown }).kind !== 'string') throw new InvalidFileError(path, `${path}: has no "kind" string`);
  return new Fixture(folder, meta as { kind: string });
}

/** Every fixture folder at or below `root` (a folder with a fixture.json), sorted by path. */
export async function findFixtures(root: string): Promise<Fixture[]> {
  const out: Fixture[] = [];
  async function walk(dir: string): Promise<void> {
    const names = await readdir(dir, { withFileTypes: true });
    if (names.some((d) => d.isFile() && d.name === 'fixture.json')) out.push(await readFixture(dir));
    for (const d of names.sort((a, b) => a.name.localeCompare(b.name))) {
      if (d.isDirectory() && !d.name.startsWith('.')) await walk(join(dir, d.name));
    }
  }
  const s = await stat(root).catch(() => null);
  if (!s?.isDirectory()) throw new InputNotFoundError(root, `${root}: not a folder`);
  await walk(resolve(root));
  return out;
}

/** The repository's `fixtures/` folder (copied golden fixtures), found from this file's location upwards. */
export function repoFixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (dir.endsWith('/packages/tensor/src') || dir.endsWith('/packages/tensor/dist')) return resolve(dir, '../../../fixtures');
    dir = dirname(dir);
  }
  return resolve(process.cwd(), 'fixtures');
}

/** A gap of a backend: a test (by name) that is known not to run there, with the reason. */
export interface KnownGap {
  backend: BackendName;
  test: string;
  reason: string;
}

export interface BackendSuiteOptions {
  /** Backends to try; cpu and wasm always run, webgpu only where an adapter exists. Default cpu, wasm, webgpu. */
  backends?: BackendName[];
  /** Tests known not to work on a backend: they are reported as skipped with the reason, never silently. */
  knownGaps?: KnownGap[];
}

/** Starts a backend for tests; returns the reason when it cannot start (webgpu without an adapter). */
export async function useBackend(name: BackendName): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const report = await initNodeBackend(name, { wasmThreads: 1 });
    return report.chosen === name ? { ok: true } : { ok: false, reason: `started ${report.chosen} instead` };
  } catch (e) {
    return { ok: false, reason: (e as Error).message.replace(/\s+/g, ' ') };
  }
}

/**
 * Writes a suite once and runs it on several backends with vitest:
 *
 * ```ts
 * describeBackends('attention', ({ it }) => { it('matches the fixture', async () => { ... }); },
 *   { knownGaps: [{ backend: 'webgpu', test: 'matches the fixture', reason: 'needs float64' }] });
 * ```
 *
 * cpu and wasm must start (a failure is a test failure); webgpu runs only where an adapter exists and is
 * (in Node, synchronous reads such as dataSync() do not work on webgpu: tests read with await data())
 * otherwise reported as a skipped suite naming the reason. Known gaps appear as skipped tests with their reason.
 */
export function describeBackends(
  name: string,
  body: (ctx: { backend: BackendName; it: (title: string, fn: () => unknown | Promise<unknown>, timeout?: number) => void }) => void,
  options: BackendSuiteOptions = {},
): void {
  const backends = options.backends ?? ['cpu', 'wasm', 'webgpu'];
  for (const backend of backends) {
    const optional = backend !== 'cpu' && backend !== 'wasm';
    vitest.describe(`${name} [${backend}]`, () => {
      let unavailable: string | null = null;
      vitest.beforeAll(async () => {
        const r = await useBackend(backend);
        if (!r.ok) {
          if (!optional) throw new Error(`backend ${backend} failed to start: ${r.reason}`);
          unavailable = r.reason;
        }
      });
      const it = (title: string, fn: () => unknown | Promise<unknown>, timeout?: number) => {
        const gap = options.knownGaps?.find((g) => g.backend === backend && g.test === title);
        if (gap) {
          vitest.it.skip(`${title} (known gap on ${backend}: ${gap.reason})`, () => undefined);
          return;
        }
        vitest.it(
          title,
          async (ctx) => {
            if (unavailable !== null) {
              ctx.skip(`${backend} unavailable: ${unavailable}`);
              return;
            }
            if (tf.getBackend() !== backend) await tf.setBackend(backend);
            await fn();
          },
          timeout,
        );
      };
      body({ backend, it });
    });
  }
}

/**
 * A safetensors file rewritten with a JSON header of exactly `headerLength` bytes: the header is padded with
 * spaces after the JSON, as the format allows, and the data section is unchanged. Header lengths whose low
 * byte is `0x80` (the pickle opcode) or whose low bytes spell `PK` are the ones a format sniffer can mistake
 * for a PyTorch checkpoint.
 */
export function safetensorsWithHeaderLength(file: Uint8Array, headerLength: number): Uint8Array {
  const dv = new DataView(file.buffer, file.byteOffset, 8);
  const oldLength = dv.getUint32(4, true) * 4294967296 + dv.getUint32(0, true);
  const json = new TextDecoder().decode(file.subarray(8, 8 + oldLength)).trimEnd();
  const jsonBytes = new TextEncoder().encode(json);
  if (jsonBytes.length > headerLength) throw new RangeError(`the header's JSON has ${jsonBytes.length} bytes, more than ${headerLength}`);
  const data = file.subarray(8 + oldLength);
  const out = new Uint8Array(8 + headerLength + data.length);
  const odv = new DataView(out.buffer);
  odv.setUint32(0, headerLength % 4294967296, true);
  odv.setUint32(4, Math.floor(headerLength / 4294967296), true);
  out.fill(0x20, 8, 8 + headerLength);
  out.set(jsonBytes, 8);
  out.set(data, 8 + headerLength);
  return out;
}

/**
 * A test that fails, naming the package, when an optional dependency that the test suite exercises did not
 * install on a platform where it should: npm drops an optional package whose install step failed without an
 * error, and the tests that need it would otherwise only skip. A skip is for a missing GPU, not for a broken
 * install.
 * @param name the package
 * @param platforms `process.platform-process.arch` values the package ships binaries for
 * @param load loads the package (from the caller's module, so that its resolution is the caller's); returns
 *   why it cannot be used, or undefined
 */
export function itInstallsOptionalPackage(name: string, platforms: readonly string[], load: () => string | undefined): void {
  const here = `${process.platform}-${process.arch}`;
  const title = `the optional package ${name}, which the tests exercise, is installed and loads`;
  if (!platforms.includes(here)) {
    vitest.it.skip(`${title} (${name} ships no binary for ${here})`, () => undefined);
    return;
  }
  vitest.it(title, () => {
    const reason = load();
    if (reason !== undefined) {
      throw new Error(
        `${name} is not usable on ${here}: ${reason}. npm drops an optional package whose install script failed without an error: ` +
          `run \`npm ci\` again and read its output (this repository's .npmrc skips onnxruntime-node's CUDA download, which fails offline)`,
      );
    }
  });
}

/** A loopback port that was free a moment ago, so that nothing listens there: for tests of unreachable services. */
export async function closedLoopbackPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * max |got - want| / max(max |want|, floor): the error of a whole tensor relative to its largest value. The
 * floor keeps a tensor that is zero in exact arithmetic (float noise in practice) from dividing by ~0.
 */
export function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1e-12): number {
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}
