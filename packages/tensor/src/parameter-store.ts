import * as tf from '@tensorflow/tfjs-core';
import { StateDictError, type StateDictProblem, ConfigError, InvalidStateError } from './errors';
import { hostToTensor, encodeSafetensors, SafetensorsReader, type HostTensor, type WritableTensor } from './safetensors';
import { renameKeys, type RenameRule } from './rename-rules';

/** One named parameter. */
export interface Parameter {
  name: string;
  variable: tf.Variable;
  trainable: boolean;
}

/** What a state-dict load did. */
export interface LoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: number[]; found: number[] }[];
}

/**
 * Tensors to load by name, read one at a time (a safetensors file, a converted view of one, a map in memory).
 * `isFloat` tells float tensors (any float dtype, read as float32) from integer and boolean ones.
 */
export interface StateDictSource {
  /** Label for error messages (the file name). */
  readonly name: string;
  keys(): string[];
  info(key: string): { shape: readonly number[]; isFloat: boolean };
  read(key: string): Promise<HostTensor>;
}

const FLOAT_DTYPES: readonly string[] = ['F64', 'F32', 'F16', 'BF16'];

/** A state-dict source over a map in memory or a safetensors reader. */
export function toStateDictSource(entries: Map<string, HostTensor> | SafetensorsReader | StateDictSource): StateDictSource {
  if (entries instanceof SafetensorsReader) {
    return {
      name: entries.name,
      keys: () => entries.tensorNames(),
      info: (k) => {
        const i = entries.info(k);
        return { shape: i.shape, isFloat: FLOAT_DTYPES.includes(i.dtype) };
      },
      read: (k) => entries.readHost(k),
    };
  }
  if (entries instanceof Map) {
    return {
      name: 'state dict',
      keys: () => [...entries.keys()],
      info: (k) => ({ shape: entries.get(k)!.shape, isFloat: entries.get(k)!.dtype === 'float32' }),
      read: async (k) => entries.get(k)!,
    };
  }
  return entries;
}

export interface LoadOptions {
  /** Fail, listing every problem at once, when any key is missing, unexpected or mis-shaped (default true). */
  strict?: boolean;
  /** Rename rules applied to the incoming keys before matching. */
  rename?: readonly RenameRule[];
  /** A label for error messages (the file name). */
  source?: string;
  /** Incoming keys to ignore silently (regular expressions), e.g. buffers the model recomputes. */
  ignore?: readonly string[];
}

/**
 * Joins a state-dict prefix and a local name with a dot: `joinName('hgm', 'group_tokens')` is
 * `hgm.group_tokens`; an empty prefix gives the name itself; a prefix that already ends with a dot is
 * used as is.
 */
export function joinName(prefix: string, name: string): string {
  if (prefix === '') return name;
  return prefix.endsWith('.') ? `${prefix}${name}` : `${prefix}.${name}`;
}

/**
 * Named parameters with trainable/frozen flags. Model code registers each parameter once by its
 * state-dict name; optimisers take {@link trainableVariables}; loading and saving go by name.
 */
export class ParameterStore {
  private readonly params = new Map<string, Parameter>();

  /**
   * Registers a parameter, taking ownership of `initial` (it becomes a variable).
   * @throws when the name is already registered.
   */
  add(name: string, initial: tf.Tensor, options: { trainable: boolean }): tf.Variable {
    if (this.params.has(name)) throw new InvalidStateError(`parameter ${name} is registered twice`);
    // tf.variable copies its initial value into a new tensor.
    const variable = tf.variable(initial, options.trainable, `${name}_${uid()}`);
    initial.dispose();
    this.params.set(name, { name, variable, trainable: options.trainable });
    return variable;
  }

  /** The variable of a parameter; throws with the known names' count when absent. */
  get(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new ConfigError(`no parameter named ${name} (the store has ${this.params.size})`);
    return p.variable;
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  names(): string[] {
    return [...this.params.keys()];
  }

  entries(): Parameter[] {
    return [...this.params.values()];
  }

  /** Variables that an optimiser should update. */
  trainableVariables(): tf.Variable[] {
    return this.entries()
      .filter((p) => p.trainable)
      .map((p) => p.variable);
  }

  /** Marks parameters (all, or those whose names match a regular expression) trainable or frozen. */
  setTrainable(trainable: boolean, pattern?: RegExp): void {
    for (const p of this.params.values()) {
      if (pattern && !pattern.test(p.name)) continue;
      p.trainable = trainable;
      (p.variable as unknown as { trainable: boolean }).trainable = trainable;
    }
  }

  /** Number of scalar parameters: all, or only the trainable ones. */
  count(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.params.values()) if (!options.trainableOnly || p.trainable) n += p.variable.size;
    return n;
  }

  /**
   * Loads values by name. Reports missing, unexpected and shape-mismatched keys; in strict mode (the
   * default) throws a {@link StateDictError} listing all of them and changes nothing.
   *
   * @param entries host tensors by name, or a safetensors reader (tensors are read one at a time)
   * @param only restrict the load to these parameters (e.g. the trainable ones)
   */
  async loadStateDict(
    entries: Map<string, HostTensor> | SafetensorsReader | StateDictSource,
    options: LoadOptions & { only?: (p: Parameter) => boolean } = {},
  ): Promise<LoadReport> {
    const input = toStateDictSource(entries);
    const strict = options.strict ?? true;
    const source = options.source ?? input.name;
    const ignore = (options.ignore ?? []).map((s) => new RegExp(s));
    // Incoming key (after renaming) -> shape, float-ness and the key to read it by.
    const raw = new Map<string, { shape: number[]; isFloat: boolean; original: string }>();
    for (const n of input.keys()) {
      const info = input.info(n);
      raw.set(n, { shape: [...info.shape], isFloat: info.isFloat, original: n });
    }
    const shapes = renameKeys(raw, options.rename ?? [], source);
    const targets = this.entries().filter((p) => (options.only ? options.only(p) : true));
    const targetNames = new Set(targets.map((p) => p.name));
    const report: LoadReport = { loaded: [], missing: [], unexpected: [], mismatched: [] };
    const problems: StateDictProblem[] = [];
    const loadable: { p: Parameter; key: string }[] = [];
    for (const p of targets) {
      const inc = shapes.get(p.name);
      if (!inc) {
        report.missing.push(p.name);
        problems.push({ kind: 'missing', key: p.name, expected: [...p.variable.shape] });
      } else if (!sameShape(inc.shape, p.variable.shape)) {
        report.mismatched.push({ key: p.name, expected: [...p.variable.shape], found: inc.shape });
        problems.push({ kind: 'shape-mismatch', key: p.name, expected: [...p.variable.shape], found: inc.shape });
      } else if (!inc.isFloat && p.variable.dtype === 'float32') {
        problems.push({ kind: 'dtype-mismatch', key: p.name });
        report.mismatched.push({ key: p.name, expected: [...p.variable.shape], found: inc.shape });
      } else {
        loadable.push({ p, key: inc.original });
      }
    }
    for (const [k, v] of shapes) {
      if (targetNames.has(k)) continue;
      if (options.only && this.params.has(k)) continue;
      if (ignore.some((r) => r.test(k))) continue;
      report.unexpected.push(k);
      problems.push({ kind: 'unexpected', key: k, found: v.shape });
    }
    if (strict && problems.length > 0) throw new StateDictError(source, problems);
    for (const { p, key } of loadable) {
      const t = hostToTensor(await input.read(key));
      const value = t.dtype === p.variable.dtype ? t : tf.cast(t, p.variable.dtype);
      p.variable.assign(value);
      if (value !== t) value.dispose();
      t.dispose();
      report.loaded.push(p.name);
    }
    return report;
  }

  /** The state dict as writable host tensors (all, or only the trainable parameters). */
  async stateDict(options: { trainableOnly?: boolean } = {}): Promise<Map<string, WritableTensor>> {
    const out = new Map<string, WritableTensor>();
    for (const p of this.params.values()) {
      if (options.trainableOnly && !p.trainable) continue;
      const data = await p.variable.data();
      out.set(
        p.name,
        p.variable.dtype === 'int32'
          ? { dtype: 'I32', shape: [...p.variable.shape], data: data as Int32Array }
          : { dtype: 'F32', shape: [...p.variable.shape], data: Float32Array.from(data as Float32Array) },
      );
    }
    return out;
  }

  /**
   * Serialises the trainable parameters to safetensors bytes with the model config (JSON) and any
   * extra strings in the metadata.
   */
  async saveTrainable(config: unknown, extraMetadata: Record<string, string> = {}): Promise<Uint8Array> {
    const tensors = await this.stateDict({ trainableOnly: true });
    return encodeSafetensors(tensors, { format: 'hgm-trainable', config: JSON.stringify(config), ...extraMetadata });
  }

  /** Disposes every variable. */
  dispose(): void {
    for (const p of this.params.values()) p.variable.dispose();
    this.params.clear();
  }
}

let counter = 0;
function uid(): number {
  counter += 1;
  return counter;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
