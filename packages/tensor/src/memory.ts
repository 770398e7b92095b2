/**
 * Running out of memory on a tfjs backend, as a typed error instead of a dead process: the limit a backend has,
 * a check of an estimated need against it before a step, and the errors a backend throws when it gives out
 * (tfjs-backend-wasm aborts at its heap's maximum; the wasm module cannot be used again after that).
 */
import * as tf from '@tensorflow/tfjs-core';
import { OutOfMemoryError } from './errors';

/** tfjs-backend-wasm 4.22's heap maximum: emscripten's `getHeapMax()`, 4 GiB less one 64 KiB page. */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/** The memory limit of a tfjs backend in bytes where it has a known one (wasm), else undefined. */
export function backendMemoryLimit(backend: string = tf.getBackend()): number | undefined {
  return backend === 'wasm' ? WASM_HEAP_MAX_BYTES : undefined;
}

/**
 * True for what a backend throws when it runs out of memory: tfjs-backend-wasm's `RuntimeError: Aborted()` (a
 * failed allocation at the heap's maximum) and the out-of-bounds access that follows one; a JavaScript
 * allocation that failed (`RangeError: Array buffer allocation failed`, a typed array over the size limit).
 */
export function isOutOfMemory(e: unknown): boolean {
  if (e instanceof OutOfMemoryError) return true;
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
    return /^Aborted\(|memory access out of bounds|Cannot enlarge memory|out of memory/i.test(e.message);
  }
  if (e instanceof RangeError) return /Array buffer allocation failed|Invalid typed array length|Invalid array length/.test(e.message);
  return false;
}

/** What ran out of memory, for the message: the job, and what to try. */
export interface MemoryContext {
  /** The job, with its configuration and batch size: `training step of model paper (512 px), batch size 8`. */
  what: string;
  /** What to try instead: smaller batches, a smaller image size, another backend. */
  tryInstead: string;
}

/** Bytes as GiB with two decimals. */
export function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

function limitText(backend: string, limit: number | undefined): string {
  return limit === undefined
    ? `the ${backend} backend's memory`
    : `the ${backend} backend's limit of ${formatGiB(limit)}${backend === 'wasm' ? ' (tfjs-backend-wasm heap maximum)' : ''}`;
}

/** The typed error for an out-of-memory failure caught while `ctx.what` ran. */
export function outOfMemoryError(cause: unknown, ctx: MemoryContext, backend: string = tf.getBackend()): OutOfMemoryError {
  if (cause instanceof OutOfMemoryError) return cause;
  const limit = backendMemoryLimit(backend);
  const found = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new OutOfMemoryError(
    `out of memory on ${backend}: the ${ctx.what} did not fit ${limitText(backend, limit)} (${found})` +
      `${backend === 'wasm' ? '; the wasm backend cannot run anything more in this process' : ''}. Try ${ctx.tryInstead}`,
    backend,
    limit,
    undefined,
    { cause },
  );
}

/**
 * Refuses a step before it runs when the tensors resident now plus `extraBytes` (a lower bound of what the step
 * adds: gradients, a batch of inputs) exceed the backend's limit. No check where the backend has no known limit.
 * @param parts what `extraBytes` is made of, named in the message
 * @throws OutOfMemoryError naming the need, its parts, the limit and what to try
 */
export function checkMemoryNeed(extraBytes: number, parts: Record<string, number>, ctx: MemoryContext, backend: string = tf.getBackend()): void {
  const limit = backendMemoryLimit(backend);
  if (limit === undefined) return;
  const resident = tf.memory().numBytes;
  const need = resident + extraBytes;
  if (need <= limit) return;
  const detail = [`resident tensors ${formatGiB(resident)}`, ...Object.entries(parts).map(([k, v]) => `${k} ${formatGiB(v)}`)].join(', ');
  throw new OutOfMemoryError(
    `out of memory on ${backend}: the ${ctx.what} needs at least ${formatGiB(need)} (${detail}), over ${limitText(backend, limit)}. Try ${ctx.tryInstead}`,
    backend,
    limit,
    need,
  );
}

/** Runs `fn`, turning a backend's out-of-memory failure into an {@link OutOfMemoryError}; other errors pass through. */
export async function withMemoryGuard<T>(fn: () => Promise<T>, ctx: MemoryContext): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isOutOfMemory(e)) throw outOfMemoryError(e, ctx);
    throw e;
  }
}

/** A running measurement of {@link trackPeakBytes}. */
export interface PeakTracker {
  /** The peak so far, over the bytes live at the start. */
  readonly peakBytes: number;
  /** Stops watching and returns the peak over the bytes live at the start. */
  stop(): number;
}

/**
 * Starts watching the live tensor bytes (`tf.memory().numBytes`, which counts a reshaped view of a buffer again)
 * as tfjs's engine makes tensors, across `await`s: the peak a job adds at its worst over what was live when it
 * started. Works on every backend. Trackers may overlap; stop each one.
 */
export function trackPeakBytes(): PeakTracker {
  const engine = tf.engine() as unknown as { trackTensor: (...args: unknown[]) => void; state: { numBytes: number } };
  const start = engine.state.numBytes;
  let peak = start;
  const previous = engine.trackTensor;
  const own = Object.prototype.hasOwnProperty.call(engine, 'trackTensor');
  const watcher = function (this: unknown, ...args: unknown[]) {
    previous.apply(engine, args);
    if (engine.state.numBytes > peak) peak = engine.state.numBytes;
  };
  engine.trackTensor = watcher;
  let stopped = false;
  return {
    get peakBytes() {
      return peak - start;
    },
    stop() {
      if (!stopped) {
        stopped = true;
        // put back what was there, unless a later tracker wrapped this one (it then keeps calling this watcher,
        // which only updates a peak nobody reads)
        if (engine.trackTensor === watcher) {
          if (own) engine.trackTensor = previous;
          else delete (engine as { trackTensor?: unknown }).trackTensor;
        }
      }
      return peak - start;
    },
  };
}

/** Runs `fn` (synchronous) under {@link trackPeakBytes}: its result and the peak bytes it added. */
export function measurePeakBytes<T>(fn: () => T): { result: T; peakBytes: number } {
  const tracker = trackPeakBytes();
  try {
    const result = fn();
    return { result, peakBytes: tracker.stop() };
  } finally {
    tracker.stop();
  }
}

/**
 * The size of tfjs-backend-wasm's heap now: it grows as the backend needs and never shrinks, so it is the
 * high-water mark of what the process has asked of it (the number to keep under {@link WASM_HEAP_MAX_BYTES}).
 * Undefined on other backends.
 */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array; wasmMemory?: WebAssembly.Memory } }).wasm;
  return wasm?.wasmMemory?.buffer.byteLength ?? wasm?.HEAPU8?.buffer.byteLength;
}
