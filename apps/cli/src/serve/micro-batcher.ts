/**
 * Gathers requests that arrive together into one model call: a batch runs when `maxBatch` items wait or
 * when the oldest has waited `maxWaitMs`; items that arrive while a batch runs form the next one. The
 * queue is bounded (a full queue refuses at once) and every item has a deadline.
 */

/** The queue holds `maxQueue` items already. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(readonly maxQueue: number) {
    super(`the service is busy: ${maxQueue} images are waiting already`);
  }
}

/** An item was not answered before its deadline. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  constructor(readonly timeoutMs: number) {
    super(`no result within the request timeout of ${timeoutMs} ms`);
  }
}

/** The batcher was closed before the item ran. */
export class BatcherClosedError extends Error {
  override readonly name = 'BatcherClosedError';
  constructor() {
    super('the service is shutting down');
  }
}

export interface MicroBatcherOptions<I, O> {
  /** Largest batch (the model's batch size). */
  maxBatch: number;
  /** Longest wait of the first item before a partial batch runs, in ms. */
  maxWaitMs: number;
  /** Most items waiting (not yet running); more are refused with {@link QueueFullError}. */
  maxQueue: number;
  /** Runs one batch; must return one output per input, in order. */
  run(items: I[]): Promise<O[]>;
  /** Called after each batch with its size and duration in seconds. */
  onBatch?(size: number, seconds: number): void;
}

interface Pending<I, O> {
  item: I;
  resolve(o: O): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

export class MicroBatcher<I, O> {
  private readonly waiting: Pending<I, O>[] = [];
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    for (const k of ['maxBatch', 'maxQueue'] as const) {
      if (!Number.isInteger(options[k]) || options[k] < 1) throw new Error(`MicroBatcher: ${k} must be a positive integer, found ${options[k]}`);
    }
    if (!(options.maxWaitMs >= 0)) throw new Error(`MicroBatcher: maxWaitMs must be >= 0, found ${options.maxWaitMs}`);
  }

  /** Items waiting for a batch. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Queues one item; resolves with its output, rejects when the queue is full, the deadline passes or the batch fails. */
  submit(item: I, timeoutMs: number): Promise<O> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (this.waiting.length >= this.options.maxQueue) return Promise.reject(new QueueFullError(this.options.maxQueue));
    return new Promise<O>((resolve, reject) => {
      const p: Pending<I, O> = {
        item,
        settled: false,
        resolve: (o) => {
          if (p.settled) return;
          p.settled = true;
          clearTimeout(p.timer);
          resolve(o);
        },
        reject: (e) => {
          if (p.settled) return;
          p.settled = true;
          clearTimeout(p.timer);
          reject(e);
        },
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(p);
          if (i >= 0) this.waiting.splice(i, 1);
          p.reject(new DeadlineError(timeoutMs));
        }, timeoutMs),
      };
      this.waiting.push(p);
      this.schedule();
    });
  }

  /** Refuses new items and waits until the queued and running ones are answered. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running || this.waiting.length > 0) {
      if (!this.running) this.start();
      await this.running;
    }
  }

  private schedule(): void {
    if (this.running) return;
    if (this.waiting.length >= this.options.maxBatch || this.options.maxWaitMs === 0) {
      this.start();
      return;
    }
    this.timer ??= setTimeout(() => this.start(), this.options.maxWaitMs);
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, this.options.maxBatch);
    this.running = this.runBatch(batch).finally(() => {
      this.running = undefined;
      // What arrived meanwhile has waited already: run it now.
      if (this.waiting.length > 0) this.start();
    });
  }

  private async runBatch(batch: Pending<I, O>[]): Promise<void> {
    const t0 = performance.now();
    try {
      const out = await this.options.run(batch.map((p) => p.item));
      if (out.length !== batch.length) throw new Error(`MicroBatcher: run returned ${out.length} outputs for ${batch.length} inputs`);
      batch.forEach((p, i) => p.resolve(out[i]!));
    } catch (e) {
      for (const p of batch) p.reject(e instanceof Error ? e : new Error(String(e)));
    }
    this.options.onBatch?.(batch.length, (performance.now() - t0) / 1000);
  }
}
