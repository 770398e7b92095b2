import { createRequire } from 'node:module';

/**
 * The one file that touches `onnxruntime-node` (an optional dependency). The backbone's `ImageEncoder`
 * interface is synchronous, and the package's native session runs synchronously (its public `run` only
 * wraps that call in a promise), so sessions here are created through the package's binding module and run
 * synchronously. Loading checks the binding's shape and reports what is missing instead of failing later.
 */

/** A tensor as the binding takes and returns it (an `onnxruntime-common` Tensor). */
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
  readonly type: string;
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  loadModel(path: string, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: object): Record<string, OrtTensor>;
  dispose(): void;
  readonly inputMetadata: unknown;
  readonly outputMetadata: unknown;
}

/** What a loaded runtime offers. */
export interface OnnxRuntime {
  readonly version: string;
  /** Execution providers the installed binary ships (`cpu`, `webgpu`, ...). */
  readonly providers: string[];
  /**
   * A session of a serialized model, or of the model file at a path (its external data file beside it is
   * mapped into memory rather than read into a second buffer, where its offsets are page-aligned).
   */
  createSession(model: Uint8Array | string, options: SessionOptions): OrtSession;
  tensor(data: Float32Array, dims: readonly number[]): OrtTensor;
}

export interface SessionOptions {
  /** Intra-op threads (default: every core). */
  threads?: number;
  /** Execution providers in order of preference (default `['cpu']`). */
  executionProviders?: string[];
}

/** A loaded model: runs synchronously. */
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>, outputs: readonly string[]): Record<string, OrtTensor>;
  dispose(): void;
}

/** The result of {@link loadOnnxRuntime}: the runtime, or why it is not available. */
export type OnnxRuntimeLoad = { ok: true; runtime: OnnxRuntime } | { ok: false; reason: string };

let cached: OnnxRuntimeLoad | undefined;

/**
 * Loads `onnxruntime-node` once; never throws (the reason says what failed).
 * @param packageName the package to load (another name only in tests of the fallback)
 */
export function loadOnnxRuntime(packageName = 'onnxruntime-node'): OnnxRuntimeLoad {
  if (packageName !== 'onnxruntime-node') return tryLoad(packageName);
  cached ??= tryLoad(packageName);
  return cached;
}

function tryLoad(packageName: string): OnnxRuntimeLoad {
  let require = createRequire(import.meta.url);
  let binding: { binding: { InferenceSession: new () => NativeSession; listSupportedBackends(): { name: string }[] }; initOrt(): void };
  let common: { Tensor: new (type: string, data: Float32Array, dims: readonly number[]) => OrtTensor };
  let version: string;
  try {
    version = (require(`${packageName}/package.json`) as { version: string }).version;
  } catch (e) {
    return { ok: false, reason: `the optional package ${packageName} is not installed (${(e as Error).message.split('\n')[0]})` };
  }
  try {
    // Resolve the binding's own copy of onnxruntime-common (its Tensor class is the one the binding knows).
    require = createRequire(require.resolve(packageName));
    binding = require('./binding.js');
    common = require('onnxruntime-common');
  } catch (e) {
    return { ok: false, reason: `onnxruntime-node ${version} is installed but its native binding did not load: ${(e as Error).message.split('\n')[0]}` };
  }
  if (typeof binding?.binding?.InferenceSession !== 'function' || typeof binding.initOrt !== 'function') {
    return { ok: false, reason: `onnxruntime-node ${version}: the binding module does not have the expected InferenceSession / initOrt (tested with 1.30)` };
  }
  binding.initOrt();
  const providers = binding.binding.listSupportedBackends().map((b) => b.name);
  return {
    ok: true,
    runtime: {
      version,
      providers,
      tensor: (data, dims) => new common.Tensor('float32', data, dims),
      createSession(model, options) {
        const threads = options.threads ?? 0;
        if (!Number.isInteger(threads) || threads < 0)
          throw new Error(`onnx session: threads must be a non-negative integer (0 = every core), found ${threads}`);
        const eps = options.executionProviders ?? ['cpu'];
        const unknown = eps.filter((name) => !providers.includes(name));
        if (unknown.length > 0)
          throw new Error(`onnx session: onnxruntime-node ${version} has no ${unknown.join(', ')} execution provider here (it has ${providers.join(', ')})`);
        const native = new binding.binding.InferenceSession();
        try {
          const sessionOptions = {
            executionProviders: eps.map((name) => ({ name })),
            intraOpNumThreads: threads,
            graphOptimizationLevel: 'all',
            // Errors only: the runtime's warnings (e.g. shape ops placed on the CPU next to a GPU provider) are
            // expected and say nothing about the result.
            logSeverityLevel: 3,
          };
          if (typeof model === 'string') native.loadModel(model, sessionOptions);
          else native.loadModel(model.buffer, model.byteOffset, model.byteLength, sessionOptions);
        } catch (e) {
          throw new Error(`onnx session on ${eps.join(', ')}: ${runtimeMessage(e)}`);
        }
        let disposed = false;
        return {
          run(feeds, outputs) {
            if (disposed) throw new Error('onnx session: used after dispose');
            const fetches: Record<string, null> = {};
            for (const o of outputs) fetches[o] = null;
            return native.run(feeds, fetches, {});
          },
          dispose() {
            if (!disposed) native.dispose();
            disposed = true;
          },
        };
      },
    },
  };
}

/**
 * The message of a runtime error without its source location and failed condition: `/onnxruntime_src/...cc:136
 * ...::<lambda()> adapter_result.status == ... was false. Failed to get a WebGPU adapter: No supported adapters`
 * becomes `Failed to get a WebGPU adapter: No supported adapters`.
 */
export function runtimeMessage(e: unknown): string {
  const line = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
  const m = /^\S+\.(?:cc|h|cpp):\d+ .*? was false\. (.+)$/.exec(line) ?? /^\S+\.(?:cc|h|cpp):\d+ \S+ (.+)$/.exec(line);
  return m ? m[1]! : line;
}
