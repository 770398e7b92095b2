/**
 * The typed errors of the hgm packages. Every error a model package throws on purpose is an {@link HgmError}
 * with a stable {@link HgmError.code}, so that callers (the CLI picks its exit code this way) tell failures
 * apart by class or code, never by the wording of the message. Messages name the input, what was expected
 * and what was found.
 */

/** The stable codes of {@link HgmError}; one per class (subclasses in other packages add their own). */
export type HgmErrorCode =
  | 'config'
  | 'shape'
  | 'invalid-file'
  | 'safetensors'
  | 'torch-checkpoint'
  | 'state-dict'
  | 'checkpoint-mismatch'
  | 'input-not-found'
  | 'output-not-writable'
  | 'weights-unavailable'
  | 'backend-unavailable'
  | 'data'
  | 'dataset'
  | 'diverged'
  | 'invalid-state'
  | 'device-limit'
  | 'out-of-memory';

/** Base of every typed hgm error. `code` is stable across releases; the message is for people. */
export abstract class HgmError extends Error {
  abstract readonly code: HgmErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** An option, configuration field or argument value is out of range or of the wrong kind (bad usage). */
export class ConfigError extends HgmError {
  override readonly name: string = 'ConfigError';
  readonly code = 'config' as const;
}

/** What a {@link ShapeError} is about: the input's name, the expected shape (or rank, dtype) and what was found. */
export interface ShapeErrorDetails {
  input?: string;
  expected?: string;
  found?: string;
}

/** A tensor has the wrong shape, rank or dtype for the operation it was given to. */
export class ShapeError extends HgmError {
  override readonly name: string = 'ShapeError';
  readonly code = 'shape' as const;
  /** The input that has the wrong shape (when the thrower names it separately). */
  readonly input?: string;
  /** The shape that was expected, e.g. `[B, 3, H, W]`. */
  readonly expected?: string;
  /** The shape that was found, e.g. `[2, 4, 32, 32]`. */
  readonly found?: string;
  constructor(message: string, details: ShapeErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.input = details.input;
    this.expected = details.expected;
    this.found = details.found;
  }
}

/** A file or byte stream (vocabulary, JSON, weights in an unexpected key format) whose content is not what was expected. */
export class InvalidFileError extends HgmError {
  override readonly name: string = 'InvalidFileError';
  readonly code = 'invalid-file' as const;
  constructor(
    /** The file (path, URL or label) that is at fault. */
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A checkpoint (model, training state, optimiser state) was saved for another configuration or is not a checkpoint of this kind. */
export class CheckpointMismatchError extends HgmError {
  override readonly name: string = 'CheckpointMismatchError';
  readonly code = 'checkpoint-mismatch' as const;
  constructor(
    /** The checkpoint file (path or label). */
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A required input (file, folder, pattern, named weights) does not exist or cannot be opened. */
export class InputNotFoundError extends HgmError {
  override readonly name: string = 'InputNotFoundError';
  readonly code = 'input-not-found' as const;
  constructor(
    /** The input as given (path, pattern or name). */
    readonly input: string,
    message: string,
    options?: { cause?: unknown; errno?: string },
  ) {
    super(message, options);
    this.errno = options?.errno;
  }
  /** The operating system's error code (`ENOENT`, `EACCES`, ...) when a file system call failed. */
  readonly errno?: string;
}

/** An output file or folder cannot be created or written. */
export class OutputWriteError extends HgmError {
  override readonly name: string = 'OutputWriteError';
  readonly code = 'output-not-writable' as const;
  constructor(
    /** The file or folder that cannot be written. */
    readonly path: string,
    message: string,
    options?: { cause?: unknown; errno?: string },
  ) {
    super(message, options);
    this.errno = options?.errno;
  }
  /** The operating system's error code (`EACCES`, `EROFS`, `ENOSPC`, ...). */
  readonly errno?: string;
}

/** Weights (or another remote resource) cannot be had: offline mode, a failed download, a wrong checksum. */
export class WeightsUnavailableError extends HgmError {
  override readonly name: string = 'WeightsUnavailableError';
  readonly code = 'weights-unavailable' as const;
}

/** Training produced a non-finite loss (the run failed; it is not a bug in the caller). */
export class DivergedError extends HgmError {
  override readonly name: string = 'DivergedError';
  readonly code = 'diverged' as const;
}

/** An object was used in a state that does not allow the call (a tower that was not built, a result read too early). */
export class InvalidStateError extends HgmError {
  override readonly name: string = 'InvalidStateError';
  readonly code = 'invalid-state' as const;
}

/**
 * A step needs more memory than the backend has: found before the step from an estimate, or caught when the
 * backend gave out (tfjs-backend-wasm's `Aborted()` at its 4 GiB heap, a failed JavaScript allocation). The
 * message names the backend, its limit, what ran (configuration, batch size) and what to try. After a caught
 * abort the wasm backend cannot be used again in this process; files written before it are intact.
 */
export class OutOfMemoryError extends HgmError {
  override readonly name: string = 'OutOfMemoryError';
  readonly code = 'out-of-memory' as const;
  constructor(
    message: string,
    /** The tfjs backend that ran out. */
    readonly backend: string,
    /** Its memory limit in bytes, where it has a known one (wasm: its heap's maximum). */
    readonly limitBytes: number | undefined,
    /** The bytes the step needs at least, where they were estimated before it ran. */
    readonly needBytes: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A tensor does not fit a limit of the device it runs on (a WebGPU storage binding, `maxStorageBufferBindingSize`)
 * and the operation has no split that would make it fit. The message names the operation, the tensor's shape and
 * bytes, the limit and its value.
 */
export class DeviceLimitError extends HgmError {
  override readonly name: string = 'DeviceLimitError';
  readonly code = 'device-limit' as const;
  constructor(
    message: string,
    /** The device limit that is exceeded, by its WebGPU name. */
    readonly limit: string,
    /** The limit's value on this device, in bytes. */
    readonly limitBytes: number,
    /** The bytes the tensor would need. */
    readonly bytes: number,
  ) {
    super(message);
  }
}

/** True when `e` is an {@link HgmError} (optionally with the given code). */
export function isHgmError(e: unknown, code?: HgmErrorCode): e is HgmError {
  return e instanceof HgmError && (code === undefined || e.code === code);
}

/** Thrown for any fault in a safetensors file: the message names the file and the fault. */
export class SafetensorsError extends HgmError {
  override readonly name = 'SafetensorsError';
  readonly code = 'safetensors' as const;
  constructor(
    /** The file (path, URL or label) the fault is in. */
    readonly file: string,
    /** What is wrong, without the file name. */
    readonly fault: string,
  ) {
    super(`safetensors file ${file}: ${fault}`);
  }
}

/** One problem found while loading a state dict. */
export interface StateDictProblem {
  kind: 'missing' | 'unexpected' | 'shape-mismatch' | 'dtype-mismatch';
  key: string;
  expected?: number[];
  found?: number[];
}

/** Thrown by a strict state-dict load: lists every missing, unexpected and mis-shaped key at once. */
export class StateDictError extends HgmError {
  override readonly name = 'StateDictError';
  readonly code = 'state-dict' as const;
  constructor(
    readonly source: string,
    readonly problems: StateDictProblem[],
  ) {
    super(
      `${source}: state dict does not match the model (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map(formatProblem).join('\n')}`,
    );
  }
}

export function formatProblem(p: StateDictProblem): string {
  switch (p.kind) {
    case 'missing':
      return `  missing key ${p.key} (expected shape [${p.expected?.join(', ')}])`;
    case 'unexpected':
      return `  unexpected key ${p.key} (shape [${p.found?.join(', ')}])`;
    case 'shape-mismatch':
      return `  tensor ${p.key} has shape [${p.found?.join(', ')}], expected [${p.expected?.join(', ')}]`;
    case 'dtype-mismatch':
      return `  tensor ${p.key} has an integer/boolean dtype where a float parameter is expected`;
  }
}

/**
 * Thrown for any fault in a PyTorch checkpoint (zip container, pickle, storages) and for any pickle
 * global outside the allowed set (`refusedGlobal` names it; nothing of the file was executed).
 */
export class TorchCheckpointError extends HgmError {
  override readonly name = 'TorchCheckpointError';
  readonly code = 'torch-checkpoint' as const;
  constructor(
    /** The file (path, URL or label) the fault is in. */
    readonly file: string,
    /** What is wrong, without the file name. */
    readonly fault: string,
    /** The refused pickle global (`module.name`), when that is the fault. */
    readonly refusedGlobal?: string,
  ) {
    super(`PyTorch checkpoint ${file}: ${fault}`);
  }
}
