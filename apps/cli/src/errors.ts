/**
 * Maps the errors of the libraries to CLI errors with exit codes, by class (never by message text): bad usage
 * or configuration is 64; bad data (a corrupt image, an unknown layout, a checkpoint of another configuration,
 * weights that do not fit, a file of the wrong content) 65; a missing input 66; weights or a backend that
 * cannot be had, a tensor over a limit of the device (a WebGPU storage binding), or a step that does not fit the
 * backend's memory (wasm's 4 GiB heap) 69; an unwritable output 73; a training run that diverged 1 (a reported failure); anything
 * else 70 (a bug). Long lists (a state dict with hundreds of missing keys) are shortened.
 */
import { DataError, DatasetError } from '@hgm/data';
import { MetricError } from '@hgm/metrics';
import {
  BackendStartError,
  CheckpointMismatchError,
  DeviceLimitError,
  OutOfMemoryError,
  ConfigError,
  DivergedError,
  InputNotFoundError,
  InvalidFileError,
  OutputWriteError,
  SafetensorsError,
  ShapeError,
  StateDictError,
  TorchCheckpointError,
  WeightsUnavailableError,
} from '@hgm/tensor';
import { WeightsOfflineError } from '@hgm/backbone/node';
import { CliError, EXIT } from './exit-codes';

/** Keeps the first `max` lines of a message, saying how many were left out. */
export function shortenLines(message: string, max = 24): string {
  const lines = message.split('\n');
  if (lines.length <= max) return message;
  return [...lines.slice(0, max), `  ... and ${lines.length - max} more lines`].join('\n');
}

/** How one error class is reported: its exit code and, optionally, a hint chosen from the error's fields. */
interface ErrorMapping {
  type: abstract new (...args: never[]) => Error;
  exitCode: number | ((e: Error) => number);
  hint?: (e: Error) => string | undefined;
}

/** Error classes and their exit codes, most specific first (a subclass before its base). */
export const ERROR_EXIT_CODES: readonly ErrorMapping[] = [
  { type: WeightsOfflineError, exitCode: EXIT.unavailable, hint: () => 'turn offline mode off (unset HGM_OFFLINE / HF_HUB_OFFLINE) or put the file in place' },
  { type: WeightsUnavailableError, exitCode: EXIT.unavailable, hint: () => 'or use a file you have: --clip-weights FILE / --backbone-weights FILE' },
  { type: BackendStartError, exitCode: EXIT.unavailable, hint: () => 'try --backend cpu, which always works' },
  { type: DeviceLimitError, exitCode: EXIT.unavailable, hint: () => 'lower --batch-size or --image-size, or use --backend wasm' },
  { type: OutOfMemoryError, exitCode: EXIT.unavailable, hint: () => 'lower --batch-size or --image-size, or run on a GPU (--backend webgpu)' },
  {
    type: DatasetError,
    exitCode: EXIT.dataError,
    hint: (e) =>
      (e as DatasetError).issues.some((i) => i.kind === 'layout')
        ? 'run `hgm data inspect <root>` to see what was found, or pass --format'
        : 'run `hgm data inspect <root>` for the full list',
  },
  {
    type: DataError,
    exitCode: EXIT.dataError,
    hint: (e) => ((e as DataError).kind === 'corrupt' ? 'replace or remove the file (detect: --skip-corrupt skips unreadable images)' : undefined),
  },
  { type: StateDictError, exitCode: EXIT.dataError, hint: () => 'the weights do not fit this model: check --model / --image-size and the weights files' },
  { type: SafetensorsError, exitCode: EXIT.dataError },
  {
    type: TorchCheckpointError,
    exitCode: EXIT.dataError,
    hint: (e) =>
      (e as TorchCheckpointError).refusedGlobal !== undefined
        ? 'the file asks to run code on loading; use weights from a source you trust, or their safetensors version'
        : undefined,
  },
  { type: CheckpointMismatchError, exitCode: EXIT.dataError },
  { type: InvalidFileError, exitCode: EXIT.dataError },
  { type: ShapeError, exitCode: EXIT.dataError },
  { type: InputNotFoundError, exitCode: EXIT.noInput },
  { type: OutputWriteError, exitCode: EXIT.cantCreate, hint: () => 'choose another folder with --out, or fix its permissions' },
  { type: ConfigError, exitCode: EXIT.usage },
  { type: MetricError, exitCode: (e) => ((e as MetricError).code === 'invalid-config' ? EXIT.usage : EXIT.dataError) },
  { type: DivergedError, exitCode: EXIT.failed, hint: () => 'lower --lr or check the data' },
];

/** Operating-system error codes of Node's file system calls that reach the CLI unwrapped. */
const ERRNO_EXIT_CODES: Readonly<Record<string, number>> = {
  ENOENT: EXIT.noInput,
  EACCES: EXIT.cantCreate,
  EROFS: EXIT.cantCreate,
  ENOSPC: EXIT.cantCreate,
  EPERM: EXIT.cantCreate,
};

/** Classifies any thrown value as a {@link CliError}. */
export function toCliError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  if (!(e instanceof Error)) return new CliError(String(e), EXIT.software);
  const msg = shortenLines(e.message);
  const mapping = ERROR_EXIT_CODES.find((m) => e instanceof m.type);
  if (mapping) return new CliError(msg, typeof mapping.exitCode === 'number' ? mapping.exitCode : mapping.exitCode(e), mapping.hint?.(e));
  const errno = (e as NodeJS.ErrnoException).code;
  const byErrno = errno === undefined ? undefined : ERRNO_EXIT_CODES[errno];
  return new CliError(msg, byErrno ?? EXIT.software);
}
