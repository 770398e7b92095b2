/** Thrown for any fault in a safetensors file: the message names the file and the fault. */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
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
export class StateDictError extends Error {
  override readonly name = 'StateDictError';
  constructor(
    readonly source: string,
    readonly problems: StateDictProblem[],
  ) {
    super(`${source}: state dict does not match the model (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map(formatProblem).join('\n')}`);
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
export class TorchCheckpointError extends Error {
  override readonly name = 'TorchCheckpointError';
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
