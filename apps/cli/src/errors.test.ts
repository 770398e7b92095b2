// The CLI picks exit codes by error class: each case makes a library fail for real and checks the code it
// maps to. A message that merely sounds like another failure keeps the code of its class.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DeviceLimitError, DivergedError, InvalidStateError, ShapeError, outOfMemoryError } from '@hgm/tensor';
import { atomicWriteFile, openSafetensors } from '@hgm/tensor/node';
import { WeightsManager } from '@hgm/backbone/node';
import { resolveConfig } from '@hgm/dual-anchor';
import { readDatasetFromDisk } from '@hgm/data/node';
import { imageAuroc } from '@hgm/metrics';
import { expandInputs } from '@hgm/engine/node';
import { toCliError } from './errors';
import { CliError, EXIT } from './exit-codes';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hgm-cli-errors-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The exit code the CLI gives to what `f` throws (and checks that it throws). */
async function exitCodeOf(f: () => unknown): Promise<CliError> {
  try {
    await f();
  } catch (e) {
    return toCliError(e);
  }
  throw new Error('expected the call to throw');
}

describe('toCliError maps library error classes to exit codes', () => {
  it('64: an invalid configuration (ConfigError)', async () => {
    const e = await exitCodeOf(() => resolveConfig({ imageSize: 36 }));
    expect(e.exitCode).toBe(EXIT.usage);
    expect(e.message).toContain('imageSize');
  });

  it('65: a file that is not safetensors (SafetensorsError) and a dataset in no known layout (DatasetError)', async () => {
    const file = join(root, 'garbage.safetensors');
    await writeFile(file, 'not a safetensors file at all');
    expect((await exitCodeOf(() => openSafetensors(file))).exitCode).toBe(EXIT.dataError);
    const dataset = await exitCodeOf(() => readDatasetFromDisk(join(root, 'no-dataset-here')));
    expect(dataset.exitCode).toBe(EXIT.dataError);
    expect(dataset.hint).toContain('hgm data inspect');
  });

  it('65 or 64: metric errors by their code (MetricError)', async () => {
    expect((await exitCodeOf(() => imageAuroc([1, 1], [0.2, 0.4]))).exitCode).toBe(EXIT.dataError);
  });

  it('65: a tensor of the wrong shape (ShapeError)', () => {
    expect(toCliError(new ShapeError('x: expected [B, 3, H, W], found [2, 4]', { input: 'x', expected: '[B, 3, H, W]', found: '[2, 4]' })).exitCode).toBe(
      EXIT.dataError,
    );
  });

  it('66: a missing input file (InputNotFoundError)', async () => {
    const gone = join(root, 'nowhere.png');
    const e = await exitCodeOf(() => expandInputs([gone]));
    expect(e.exitCode).toBe(EXIT.noInput);
    expect(e.message).toBe(`${gone}: no such file or folder`);
    expect((await exitCodeOf(() => openSafetensors(join(root, 'missing.safetensors')))).exitCode).toBe(EXIT.noInput);
  });

  it('69: weights that must be downloaded while offline (WeightsOfflineError)', async () => {
    const manager = new WeightsManager({ cacheDir: join(root, 'cache'), offline: true });
    const e = await exitCodeOf(() => manager.resolve('clip-vit-b-16'));
    expect(e.exitCode).toBe(EXIT.unavailable);
    expect(e.hint).toContain('offline');
  });

  it('69: a tensor over a limit of the device (DeviceLimitError)', () => {
    const e = toCliError(
      new DeviceLimitError(
        'webgpu: MatMul output [8232, 4096] takes 134873088 bytes, more than one storage binding holds',
        'maxStorageBufferBindingSize',
        134217728,
        134873088,
      ),
    );
    expect(e.exitCode).toBe(EXIT.unavailable);
    expect(e.hint).toContain('--batch-size');
  });

  it("69: a step that does not fit the backend's memory (OutOfMemoryError, from wasm's Aborted())", () => {
    const e = toCliError(
      outOfMemoryError(
        new WebAssembly.RuntimeError('Aborted()'),
        { what: 'training step of model paper (512 px), batch size 8', tryInstead: 'a smaller batch size' },
        'wasm',
      ),
    );
    expect(e.exitCode).toBe(EXIT.unavailable);
    expect(e.message).toContain(
      "out of memory on wasm: the training step of model paper (512 px), batch size 8 did not fit the wasm backend's limit of 4.00 GiB",
    );
    expect(e.hint).toContain('--batch-size');
  });

  it('73: an output that cannot be written (OutputWriteError)', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    const e = await exitCodeOf(() => atomicWriteFile(join(file, 'sub', 'out.json'), '{}'));
    expect(e.exitCode).toBe(EXIT.cantCreate);
    expect(e.message).toContain('cannot create the output folder');
  });

  it('1: a run that diverged (DivergedError); 70: misuse and plain errors, whatever their wording', () => {
    expect(toCliError(new DivergedError('training diverged at epoch 1, step 1: loss is NaN')).exitCode).toBe(EXIT.failed);
    expect(toCliError(new InvalidStateError('CLIP tiny: this model was built without the vision tower')).exitCode).toBe(EXIT.software);
    // Words that once selected an exit code by regular expression no longer do: only the class counts.
    for (const text of [
      'checkpoint x: saved for another configuration: a',
      'y: no such file or folder',
      'download of z failed: HTTP 404',
      'Dual-Anchor config: bad',
    ]) {
      expect(toCliError(new Error(text)).exitCode).toBe(EXIT.software);
    }
    expect(toCliError(new ConfigError('Dual-Anchor config: bad')).exitCode).toBe(EXIT.usage);
  });
});
