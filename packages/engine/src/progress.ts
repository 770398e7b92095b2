/**
 * Progress events of long jobs (training, feature extraction, evaluation, detection), for the CLI's
 * progress bars and plain CI lines and for the web app.
 */
export type ProgressEvent =
  | { type: 'stage'; stage: string; message: string }
  | {
      type: 'step';
      stage: 'train';
      epoch: number;
      epochs: number;
      step: number;
      stepsPerEpoch: number;
      /** Total loss of this step and each term. */
      loss: number;
      terms: Record<string, number>;
      imagesPerSecond: number;
      /** Estimated seconds left for the whole run. */
      etaSeconds: number;
    }
  | { type: 'epoch'; epoch: number; epochs: number; meanLoss: number; terms: Record<string, number>; seconds: number; checkpoint?: string }
  | { type: 'items'; stage: string; done: number; total: number; imagesPerSecond: number; etaSeconds: number }
  | { type: 'warning'; message: string };

export type ProgressListener = (event: ProgressEvent) => void;

/** Measures throughput and estimates the time left from a moving window of completions. */
export class RateMeter {
  private readonly times: number[] = [];
  private readonly counts: number[] = [];
  constructor(
    private readonly window = 20,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records that `count` more items finished now. */
  tick(count: number): void {
    this.times.push(this.now());
    this.counts.push(count);
    if (this.times.length > this.window + 1) {
      this.times.shift();
      this.counts.shift();
    }
  }

  /** Items per second over the window (0 until two ticks). */
  rate(): number {
    if (this.times.length < 2) return 0;
    const dt = (this.times[this.times.length - 1]! - this.times[0]!) / 1000;
    const n = this.counts.slice(1).reduce((a, b) => a + b, 0);
    return dt > 0 ? n / dt : 0;
  }

  /** Seconds to finish `remaining` items at the current rate (Infinity when unknown). */
  eta(remaining: number): number {
    const r = this.rate();
    return r > 0 ? remaining / r : Infinity;
  }
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
