/**
 * Options that the submitting side of `hgm detect --queue` / `hgm eval --queue` cannot honour because each
 * `hgm worker` loads the model, encodes the images and draws the maps with its own. Kept apart from the BullMQ
 * code so that the commands still load the queue stack lazily.
 */
import { parseMapScale } from '@hgm/engine/node';
import { CliError, EXIT } from '../exit-codes';

/** The submitter's options that belong to the workers, the flag that sets them on `hgm worker`, and their default. */
const WORKER_SIDE: readonly { key: string; flag: string; unset?: string }[] = [
  { key: 'clipWeights', flag: '--clip-weights' },
  { key: 'backboneWeights', flag: '--backbone-weights' },
  { key: 'cacheDir', flag: '--cache-dir' },
  { key: 'backend', flag: '--backend', unset: 'auto' },
  { key: 'executor', flag: '--executor', unset: 'auto' },
  { key: 'threads', flag: '--threads' },
];

/** The worker-side flags given in `options`, in a fixed order. */
export function workerSideFlags(options: Record<string, unknown>): string[] {
  return WORKER_SIDE.filter((w) => options[w.key] !== undefined && options[w.key] !== w.unset).map((w) => w.flag);
}

/**
 * Checks a `--queue` submission's options against what the workers do: warns once naming the worker-side flags
 * given (they have no effect there, the workers' own flags decide), then refuses `--map-scale run` (each worker
 * draws its maps as it finishes, before the run's range is known).
 */
export function checkQueuedOptions(options: Record<string, unknown> & { mapScale: string }, ctx: { warn(line: string): void }, drawnWhen: string): void {
  const flags = workerSideFlags(options);
  if (flags.length > 0)
    ctx.warn(
      `${flags.join(', ')} ${flags.length === 1 ? 'has' : 'have'} no effect with --queue: each worker loads the model and encodes the images with its own (hgm worker ${flags.join(', ')})`,
    );
  if (parseMapScale(options.mapScale) === 'run') {
    throw new CliError(
      `--map-scale run is not available with --queue: ${drawnWhen}, before the run's range is known`,
      EXIT.usage,
      'use --map-scale fixed (the default) with --queue',
    );
  }
}
