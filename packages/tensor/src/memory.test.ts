import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from './testing';
import { OutOfMemoryError } from './errors';
import { WASM_HEAP_MAX_BYTES, backendMemoryLimit, checkMemoryNeed, isOutOfMemory, outOfMemoryError, withMemoryGuard } from './memory';

const ctx = { what: 'training step of model paper (512 px), batch size 8', tryInstead: 'a smaller batch size' };

beforeAll(async () => {
  await useBackend('cpu');
});

describe('out of memory', () => {
  it('knows the wasm heap maximum and no limit elsewhere', () => {
    expect(backendMemoryLimit('wasm')).toBe(WASM_HEAP_MAX_BYTES);
    expect(WASM_HEAP_MAX_BYTES).toBe(4 * 2 ** 30 - 2 ** 16);
    expect(backendMemoryLimit('cpu')).toBeUndefined();
    expect(backendMemoryLimit('webgpu')).toBeUndefined();
  });

  it("tells a backend's out-of-memory failures from other errors", () => {
    expect(isOutOfMemory(new WebAssembly.RuntimeError('Aborted()'))).toBe(true);
    expect(isOutOfMemory(new WebAssembly.RuntimeError('memory access out of bounds'))).toBe(true);
    let allocation: unknown;
    try {
      new ArrayBuffer(2 ** 52);
    } catch (e) {
      allocation = e;
    }
    expect(allocation).toBeInstanceOf(RangeError);
    expect(isOutOfMemory(allocation)).toBe(true);
    expect(isOutOfMemory(new WebAssembly.RuntimeError('unreachable'))).toBe(false);
    expect(isOutOfMemory(new RangeError('offset is out of bounds'))).toBe(false);
    expect(isOutOfMemory(new TypeError('Aborted()'))).toBe(false);
  });

  it('refuses a step whose estimated need is over the limit, before it runs, naming the need, its parts and the limit', () => {
    const before = tf.memory().numBytes;
    const e = (() => {
      try {
        checkMemoryNeed(5 * 2 ** 30, { gradients: 2 ** 30, 'a batch of features': 4 * 2 ** 30 }, ctx, 'wasm');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(OutOfMemoryError);
    const oom = e as OutOfMemoryError;
    expect(oom.needBytes).toBe(before + 5 * 2 ** 30);
    expect(oom.message).toMatch(
      /^out of memory on wasm: the training step of model paper \(512 px\), batch size 8 needs at least 5\.\d\d GiB \(resident tensors \d\.\d\d GiB, gradients 1\.00 GiB, a batch of features 4\.00 GiB\), over the wasm backend's limit of 4\.00 GiB \(tfjs-backend-wasm heap maximum\)\. Try a smaller batch size$/,
    );
    expect(() => checkMemoryNeed(2 ** 20, { gradients: 2 ** 20 }, ctx, 'wasm')).not.toThrow();
    expect(() => checkMemoryNeed(2 ** 40, { gradients: 2 ** 40 }, ctx, 'cpu')).not.toThrow();
  });

  it('turns a caught abort into the typed error, keeping the cause', async () => {
    const abort = new WebAssembly.RuntimeError('Aborted()');
    const e = await withMemoryGuard(() => Promise.reject(abort), ctx).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(OutOfMemoryError);
    expect((e as OutOfMemoryError).cause).toBe(abort);
    const bug = new TypeError('x is undefined');
    expect(await withMemoryGuard(() => Promise.reject(bug), ctx).catch((err: unknown) => err)).toBe(bug);
    expect(outOfMemoryError(abort, ctx, 'wasm').message).toBe(
      "out of memory on wasm: the training step of model paper (512 px), batch size 8 did not fit the wasm backend's limit of 4.00 GiB (tfjs-backend-wasm heap maximum) (RuntimeError: Aborted()); the wasm backend cannot run anything more in this process. Try a smaller batch size",
    );
  });
});
