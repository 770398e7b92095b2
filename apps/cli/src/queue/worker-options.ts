/**
 * Options that the submitting side of `hgm detect --queue` / `hgm eval --queue` cannot honour because each
 * `hgm worker` loads the model and encodes the images with its own. Kept apart from the BullMQ code so that the
 * commands still load the queue stack lazily.
 */

/** The submitter's options that belong to the workers, with the flag that sets them on `hgm worker`. */
const WORKER_SIDE = [
  { key: 'clipWeights', flag: '--clip-weights', given: (v: unknown) => v !== undefined },
  { key: 'backboneWeights', flag: '--backbone-weights', given: (v: unknown) => v !== undefined },
  { key: 'cacheDir', flag: '--cache-dir', given: (v: unknown) => v !== undefined },
  { key: 'backend', flag: '--backend', given: (v: unknown) => v !== undefined && v !== 'auto' },
  { key: 'executor', flag: '--executor', given: (v: unknown) => v !== undefined && v !== 'auto' },
  { key: 'threads', flag: '--threads', given: (v: unknown) => v !== undefined },
] as const;

/** The worker-side flags given in `options`, in a fixed order. */
export function workerSideFlags(options: Record<string, unknown>): string[] {
  return WORKER_SIDE.filter((w) => w.given(options[w.key])).map((w) => w.flag);
}

/**
 * Warns once naming the worker-side flags given to a `--queue` submission: they have no effect there, the
 * workers' own flags decide.
 */
export function warnWorkerSideOptions(options: Record<string, unknown>, ctx: { warn(line: string): void }): void {
  const flags = workerSideFlags(options);
  if (flags.length === 0) return;
  ctx.warn(
    `${flags.join(', ')} ${flags.length === 1 ? 'has' : 'have'} no effect with --queue: each worker loads the model and encodes the images with its own (hgm worker ${flags.join(', ')})`,
  );
}
