/**
 * Worker threads that decode and preprocess `hgm serve`'s request images and draw their maps, so that the
 * event loop stays free to accept requests and the model's batches fill while images are being decoded.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DataError, type DecodedImage, type DatasetIssueKind } from '@hgm/data';
import type { EnginePreprocess } from '@hgm/engine';

/** A job of a pool thread. */
export type ImageJob =
  | { id: number; op: 'prepare'; bytes: Uint8Array; name: string; maxPixels: number; preprocess: EnginePreprocess }
  | { id: number; op: 'draw'; image: DecodedImage; map: Float32Array; preprocess: EnginePreprocess; threshold?: number };

/** A pool thread's answer. */
export type ImageReply =
  | { id: number; ok: true; op: 'prepare'; pixels: Float32Array; image: DecodedImage }
  | { id: number; ok: true; op: 'draw'; heatmap: Uint8Array; overlay: Uint8Array }
  | { id: number; ok: false; error: { name: string; message: string; path?: string | undefined; detail?: string | undefined; kind?: string | undefined } };

/**
 * The default number of pool threads: one per core but the one the main thread (requests, the model) needs.
 * Where sharp decodes, libvips runs each image on the thread that asked (its concurrency is per call), so the
 * pool's threads are the decoding threads.
 */
export function defaultImageWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * A thread running the worker's script next to this module: the built bundle's `serve-image-worker.js`, or,
 * when this module runs from its TypeScript source (`npm run hgm`, under tsx), `image-worker.ts` with tsx's
 * loader registered first (Node 20 does not pass a loader given with `--import` on to worker threads).
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./serve-image-worker.js', here));
  const script = new URL('./image-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(script)}); })`, { eval: true });
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Thread {
  worker: Worker;
  busy: number;
}

/** A fixed set of threads; each job goes to the least busy one. */
export class ImagePool {
  private readonly threads: Thread[] = [];
  private readonly pending = new Map<number, { thread: Thread; resolve: (r: ImageReply) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;

  /** @param size threads (at least 1) */
  constructor(readonly size: number = defaultImageWorkers()) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`image pool: size must be an integer >= 1, found ${size}`);
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  private spawn(): Thread {
    const worker = startWorker();
    const thread: Thread = { worker, busy: 0 };
    worker.on('message', (r: ImageReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      thread.busy--;
      p.resolve(r);
    });
    const failAll = (e: Error) => {
      for (const [id, p] of this.pending) {
        if (p.thread !== thread) continue;
        this.pending.delete(id);
        p.reject(e);
      }
      thread.busy = 0;
      if (!this.closed) {
        // replace the thread, so that one crash does not shrink the pool
        const i = this.threads.indexOf(thread);
        if (i >= 0) this.threads[i] = this.spawn();
      }
    };
    worker.on('error', (e) => failAll(new Error(`image pool: a thread failed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!this.closed) failAll(new Error(`image pool: a thread stopped (exit code ${code})`));
    });
    return thread;
  }

  private run(job: DistributiveOmit<ImageJob, 'id'>, transfer: ArrayBuffer[]): Promise<ImageReply> {
    if (this.closed) return Promise.reject(new Error('image pool: closed'));
    const thread = this.threads.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    return new Promise<ImageReply>((resolve, reject) => {
      this.pending.set(id, { thread, resolve, reject });
      thread.busy++;
      thread.worker.postMessage({ ...job, id }, transfer);
    }).then((r) => {
      if (!r.ok) throw rebuild(r.error);
      return r;
    });
  }

  /**
   * Decodes `bytes` (sharp where it loads, as `hgm detect`) and preprocesses it for the model.
   * @throws DataError for an unreadable image, naming `name`
   */
  async prepare(bytes: Uint8Array, name: string, maxPixels: number, preprocess: EnginePreprocess): Promise<{ pixels: Float32Array; image: DecodedImage }> {
    const r = await this.run({ op: 'prepare', bytes, name, maxPixels, preprocess }, []);
    if (r.ok && r.op === 'prepare') return { pixels: r.pixels, image: r.image };
    throw new Error('image pool: unexpected answer');
  }

  /** The heat map and overlay PNGs of `map` at the image's own size, as `hgm detect` writes them. */
  async draw(image: DecodedImage, map: Float32Array, preprocess: EnginePreprocess, threshold?: number): Promise<{ heatmap: Uint8Array; overlay: Uint8Array }> {
    const r = await this.run({ op: 'draw', image, map, preprocess, ...(threshold !== undefined ? { threshold } : {}) }, []);
    if (r.ok && r.op === 'draw') return { heatmap: r.heatmap, overlay: r.overlay };
    throw new Error('image pool: unexpected answer');
  }

  /** Stops the threads; jobs in flight are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error('image pool: closed'));
    this.pending.clear();
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}

/** The thread's error as the main thread's class, so the service answers it as it would have. */
function rebuild(e: { name: string; message: string; path?: string | undefined; detail?: string | undefined; kind?: string | undefined }): Error {
  if (e.path !== undefined && e.detail !== undefined) return new DataError(e.path, e.detail, e.kind ? { kind: e.kind as DatasetIssueKind } : {});
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
