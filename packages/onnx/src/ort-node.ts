import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The one file that touches `onnxruntime-node` (an optional dependency), through its public API only
 * (`InferenceSession.create`, `session.run`, `Tensor`, `listSupportedBackends`).
 *
 * The package's `run` returns a promise but computes synchronously on the calling thread (it defers the native
 * call with `setImmediate`), so a session on the main thread would stall a server's event loop for a whole
 * encoder pass. Each session here lives in its own worker thread instead: the main thread posts the inputs
 * and awaits the outputs, and stays free to accept requests, decode images and run the tfjs heads meanwhile.
 * The runtime's own intra-op threads work for that worker as they would for the main thread.
 */

/** A float32 tensor on the host: what a session takes and returns. */
export interface HostTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** What a loaded runtime offers. */
export interface OnnxRuntime {
  /** The installed package's version. */
  readonly version: string;
  /** Execution providers the installed binary ships (`cpu`, `webgpu`, ...). */
  readonly providers: string[];
  /**
   * A session of a serialized model, or of the model file at a path (its external data file beside it is
   * mapped into memory rather than read into a second buffer, where its offsets are page-aligned), in a worker
   * thread of its own. A serialized model is moved to the worker, not copied: the caller's array is emptied.
   */
  createSession(model: Uint8Array | string, options: SessionOptions): Promise<OrtSession>;
}

export interface SessionOptions {
  /** Intra-op threads (default: every core). */
  threads?: number;
  /** Execution providers in order of preference (default `['cpu']`). */
  executionProviders?: string[];
}

/** A loaded model. Runs are queued: one at a time per session, in the order they were asked for. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; the outputs are the caller's (float32 only). */
  run(feeds: Record<string, HostTensor>, outputs: readonly string[]): Promise<Record<string, HostTensor>>;
  /** Releases the session and stops its thread; runs still queued are refused. */
  dispose(): Promise<void>;
}

/** The result of {@link loadOnnxRuntime}: the runtime, or why it is not available. */
export type OnnxRuntimeLoad = { ok: true; runtime: OnnxRuntime } | { ok: false; reason: string };

/** The public surface of `onnxruntime-node` used here. */
interface OrtPackage {
  listSupportedBackends(): { name: string }[];
  InferenceSession: { create: unknown };
  Tensor: unknown;
}

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
  const require = createRequire(import.meta.url);
  let version: string;
  try {
    version = (require(`${packageName}/package.json`) as { version: string }).version;
  } catch (e) {
    return { ok: false, reason: `the optional package ${packageName} is not installed (${(e as Error).message.split('\n')[0]})` };
  }
  let entry: string;
  let ort: OrtPackage;
  try {
    entry = require.resolve(packageName);
    ort = require(entry) as OrtPackage;
  } catch (e) {
    return { ok: false, reason: `${packageName} ${version} is installed but its native binding did not load: ${(e as Error).message.split('\n')[0]}` };
  }
  if (typeof ort?.listSupportedBackends !== 'function' || typeof ort.InferenceSession?.create !== 'function' || typeof ort.Tensor !== 'function') {
    return { ok: false, reason: `${packageName} ${version} does not offer InferenceSession.create, Tensor and listSupportedBackends` };
  }
  const providers = ort.listSupportedBackends().map((b) => b.name);
  return {
    ok: true,
    runtime: {
      version,
      providers,
      async createSession(model, options) {
        const threads = options.threads ?? 0;
        if (!Number.isInteger(threads) || threads < 0)
          throw new Error(`onnx session: threads must be a non-negative integer (0 = every core), found ${threads}`);
        const eps = options.executionProviders ?? ['cpu'];
        const unknown = eps.filter((name) => !providers.includes(name));
        if (unknown.length > 0)
          throw new Error(`onnx session: ${packageName} ${version} has no ${unknown.join(', ')} execution provider here (it has ${providers.join(', ')})`);
        const sessionOptions = {
          executionProviders: eps,
          intraOpNumThreads: threads,
          graphOptimizationLevel: 'all',
          // Errors only: the runtime's warnings (e.g. shape ops placed on the CPU next to a GPU provider) are
          // expected and say nothing about the result.
          logSeverityLevel: 3,
        };
        const session = new WorkerSession(entry);
        try {
          await session.open(model, sessionOptions);
        } catch (e) {
          await session.dispose();
          throw new Error(`onnx session on ${eps.join(', ')}: ${runtimeMessage(e)}`);
        }
        return session;
      },
    },
  };
}

/**
 * The worker's program (CommonJS, evaluated by `new Worker(..., { eval: true })`, so it needs no file of its
 * own next to the built bundle or the sources). It loads the package from the path the main thread resolved,
 * holds one session and answers each message with `{ id, ok, ... }`; outputs are copied into fresh buffers that
 * move back without another copy.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.entry);
let session = null;
const message = (e) => (e && e.message ? String(e.message) : String(e));
parentPort.on('message', async (m) => {
  try {
    if (m.type === 'open') {
      session = await ort.InferenceSession.create(m.model, m.options);
      parentPort.postMessage({ id: m.id, ok: true, inputNames: session.inputNames, outputNames: session.outputNames });
    } else if (m.type === 'run') {
      const feeds = {};
      for (const name of Object.keys(m.feeds)) feeds[name] = new ort.Tensor('float32', m.feeds[name].data, m.feeds[name].dims);
      const result = await session.run(feeds, m.outputs);
      const outputs = {};
      const moved = [];
      for (const name of m.outputs) {
        const t = result[name];
        if (!t) throw new Error('the session returned no output ' + name);
        if (t.type !== 'float32') throw new Error('output ' + name + ' is ' + t.type + ', expected float32');
        const data = new Float32Array(t.data);
        outputs[name] = { data, dims: Array.from(t.dims) };
        moved.push(data.buffer);
      }
      for (const t of Object.values(result)) if (t && typeof t.dispose === 'function') t.dispose();
      parentPort.postMessage({ id: m.id, ok: true, outputs }, moved);
    } else if (m.type === 'dispose') {
      if (session) await session.release();
      session = null;
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, message: message(e) });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  message?: string;
  inputNames?: string[];
  outputNames?: string[];
  outputs?: Record<string, HostTensor>;
}

/** A session in a worker thread; the thread keeps the process alive only while a request is pending. */
class WorkerSession implements OrtSession {
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | null = null;
  private closed = false;

  constructor(entry: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { entry } });
    this.worker.unref();
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.settle();
      if (r.ok) p.resolve(r);
      else p.reject(new Error(runtimeMessage(r.message ?? 'unknown error')));
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.settle();
    };
    this.worker.on('error', (e) => fail(new Error(`the ONNX Runtime thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`the ONNX Runtime thread stopped (exit code ${code})`));
    });
  }

  private settle(): void {
    if (this.pending.size === 0) this.worker.unref();
  }

  private request(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('onnx session: used after dispose'));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  async open(model: Uint8Array | string, options: object): Promise<void> {
    let transfer: ArrayBuffer[] = [];
    let payload: Uint8Array | string = model;
    if (typeof model !== 'string') {
      // move a whole buffer; a view of part of one is copied first (the rest of the buffer is not ours to move)
      payload = model.byteOffset === 0 && model.byteLength === model.buffer.byteLength && model.buffer instanceof ArrayBuffer ? model : model.slice();
      transfer = [payload.buffer as ArrayBuffer];
    }
    const r = await this.request({ type: 'open', model: payload, options }, transfer);
    this.inputNames = r.inputNames ?? [];
    this.outputNames = r.outputNames ?? [];
  }

  async run(feeds: Record<string, HostTensor>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    const plain: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [name, t] of Object.entries(feeds)) plain[name] = { data: t.data, dims: [...t.dims] };
    const r = await this.request({ type: 'run', feeds: plain, outputs: [...outputs] });
    return r.outputs!;
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    if (!this.failure) await this.request({ type: 'dispose' }).catch(() => undefined);
    this.closed = true;
    await this.worker.terminate();
  }
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
