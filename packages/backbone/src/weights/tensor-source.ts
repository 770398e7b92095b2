import { InvalidFileError, type HostTensor, type SafetensorsDtype, type TensorFile } from '@hgm/tensor';

/** Header facts of one tensor of a {@link TensorSource}. */
export interface SourceTensorInfo {
  shape: number[];
  /** The stored dtype (`derived` for tensors a conversion computes). */
  dtype: SafetensorsDtype | 'derived';
  /** True for floating-point data (F32, F16, BF16, F64, or derived from them). */
  isFloat: boolean;
}

/**
 * A state dict read lazily, one tensor at a time: a safetensors file or PyTorch checkpoint, a map in memory, or a converted
 * view of another source. Loaders check names and shapes first and read data only afterwards.
 */
export interface TensorSource {
  /** Label for error messages (the file name, with the conversion if any). */
  readonly name: string;
  keys(): string[];
  has(key: string): boolean;
  info(key: string): SourceTensorInfo;
  /** Reads one tensor into host memory (float32 for every float dtype). */
  read(key: string): Promise<HostTensor>;
}

const FLOAT_DTYPES: readonly string[] = ['F64', 'F32', 'F16', 'BF16'];

/** A source over a weights file reader, safetensors or PyTorch (the reader stays open; close it yourself). */
export function readerSource(reader: TensorFile): TensorSource {
  return {
    name: reader.name,
    keys: () => reader.tensorNames(),
    has: (k) => reader.has(k),
    info(k) {
      const i = reader.info(k);
      return { shape: [...i.shape], dtype: i.dtype, isFloat: FLOAT_DTYPES.includes(i.dtype) };
    },
    read: (k) => reader.readHost(k),
  };
}

/** A source over host tensors already in memory. */
export function hostMapSource(map: ReadonlyMap<string, HostTensor>, name = 'state dict'): TensorSource {
  return {
    name,
    keys: () => [...map.keys()],
    has: (k) => map.has(k),
    info(k) {
      const t = map.get(k);
      if (!t) throw new InvalidFileError(name, `${name}: no tensor named ${k}`);
      return {
        shape: [...t.shape],
        dtype: t.dtype === 'float32' ? 'F32' : t.dtype === 'int32' ? 'I32' : t.dtype === 'uint8' ? 'U8' : 'BOOL',
        isFloat: t.dtype === 'float32',
      };
    },
    async read(k) {
      const t = map.get(k);
      if (!t) throw new InvalidFileError(name, `${name}: no tensor named ${k}`);
      return t;
    },
  };
}

/** A source whose keys lose a wrapper prefix (`module.`, `dinov2.`); keys without it are dropped. */
export function stripPrefixSource(source: TensorSource, prefix: string): TensorSource {
  if (prefix === '') return source;
  const keys = source
    .keys()
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  const set = new Set(keys);
  return {
    name: source.name,
    keys: () => [...keys],
    has: (k) => set.has(k),
    info: (k) => source.info(prefix + k),
    read: (k) => source.read(prefix + k),
  };
}

/** Reads every tensor of a source into memory (small checkpoints, tests). */
export async function readAllTensors(source: TensorSource): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const k of source.keys()) out.set(k, await source.read(k));
  return out;
}
