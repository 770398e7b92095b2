/**
 * PyTorch checkpoints read safely: `torch.save` files (the zip container since torch 1.6 and the legacy
 * stream before it), Hugging Face `pytorch_model.bin`, and TorchScript archives (`torch.jit.save`, e.g.
 * OpenAI's CLIP `.pt`). The pickles go through {@link unpickle}, which allows only tensor rebuilding,
 * storages, `collections.OrderedDict`, plain containers and (in TorchScript archives) `__torch__.*`
 * objects as records; any other global is refused, naming it. Tensors are read lazily, one at a time,
 * following each view's shape, strides and offset into its storage.
 *
 * Tensor names are the dotted paths to every tensor in the pickled value: the keys of a state dict,
 * `model.<key>` for `{'model': state_dict}`, and the module path of each parameter and buffer of a
 * TorchScript module (what its `state_dict()` holds; constants in `constants.pkl` are checked but not listed).
 */
import * as tf from '@tensorflow/tfjs-core';
import { bufferSource, type ByteSource } from './byte-source';
import { SafetensorsError, TorchCheckpointError } from './errors';
import { decodeTensorBytes, hostToTensor, type HostTensor, type SafetensorsDtype } from './safetensors';
import { unpickle, PyDict, PyGlobal, PyTuple, ScriptObject, describe, type PyValue, type UnpicklerHooks } from './pickle';
import { ZipArchive } from './zip-archive';

/** Storage classes the reader accepts, with the dtype of their elements. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

/** Globals of `torch._utils` that rebuild a tensor or parameter from a storage. */
const TENSOR_REBUILDERS = new Set(['_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_parameter', '_rebuild_parameter_with_state']);
/** TorchScript helpers that wrap plain lists and dicts. */
const SCRIPT_HELPERS = new Set(['build_intlist', 'build_tensorlist', 'build_doublelist', 'build_boollist', 'restore_type_tag']);

/** The container a checkpoint came in. */
export type TorchCheckpointFormat = 'zip' | 'torchscript' | 'legacy';

/** Header facts of one tensor of a checkpoint. */
export interface TorchTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Elements between neighbours along each axis. */
  stride: number[];
  /** First element within the storage. */
  storageOffset: number;
  /** Key of the storage (its member `data/<key>` in a zip container). */
  storage: string;
}

interface StorageRef {
  readonly kind: 'storage';
  key: string;
  dtype: SafetensorsDtype;
  numel: number;
  /** The zip member holding the bytes, or the byte offset in a legacy file. */
  member?: string;
  offset?: number;
}

interface TensorRef {
  readonly kind: 'tensor';
  storage: StorageRef;
  storageOffset: number;
  shape: number[];
  stride: number[];
}

/** The largest nesting of containers followed when listing tensors. */
const MAX_DEPTH = 64;

/** Reads a PyTorch checkpoint (see the module comment). Throws {@link TorchCheckpointError} on any fault. */
export class TorchCheckpointReader {
  private constructor(
    private readonly source: ByteSource,
    private readonly archive: ZipArchive | undefined,
    private readonly legacyBytes: Uint8Array | undefined,
    private readonly tensors: Map<string, TensorRef>,
    readonly format: TorchCheckpointFormat,
  ) {}

  /** Safetensors-style metadata (a PyTorch checkpoint has none). */
  readonly metadata: Readonly<Record<string, string>> = {};

  /** Opens a checkpoint from a byte source: the zip container (torch.save, TorchScript) or a legacy stream. */
  static async open(source: ByteSource): Promise<TorchCheckpointReader> {
    try {
      if (source.size < 4) throw new TorchCheckpointError(source.name, `file is ${source.size} bytes, too short for a checkpoint`);
      const magic = await source.read(0, 4);
      if (magic[0] === 0x50 && magic[1] === 0x4b) return await TorchCheckpointReader.openZip(source);
      if (magic[0] === 0x80) return await TorchCheckpointReader.openLegacy(source);
      throw new TorchCheckpointError(
        source.name,
        `starts with bytes ${[...magic].map((b) => b.toString(16).padStart(2, '0')).join(' ')}, neither a zip archive nor a pickle`,
      );
    } catch (e) {
      throw asCheckpointError(source.name, e);
    }
  }

  /** Opens a checkpoint already in memory. */
  static async fromBytes(bytes: ArrayBuffer | Uint8Array, name = '<memory>'): Promise<TorchCheckpointReader> {
    return TorchCheckpointReader.open(bufferSource(bytes, name));
  }

  private static async openZip(source: ByteSource): Promise<TorchCheckpointReader> {
    const file = source.name;
    const archive = await ZipArchive.open(source);
    const pickles = [...archive.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
    if (pickles.length !== 1)
      throw new TorchCheckpointError(
        file,
        `expected one <folder>/data.pkl in the archive, found ${pickles.length} (${[...archive.entries.keys()].slice(0, 5).join(', ')})`,
      );
    const root = pickles[0]!.slice(0, -'data.pkl'.length);
    const script = archive.has(`${root}constants.pkl`) || [...archive.entries.keys()].some((n) => n.startsWith(`${root}code/`));
    const storages = new Map<string, StorageRef>();
    const hooks = (folder: string): UnpicklerHooks =>
      torchHooks(file, script, (pid) => {
        const ref = zipStorage(file, pid);
        const member = `${root}${folder}/${ref.key}`;
        const seen = storages.get(member);
        if (seen) {
          if (seen.dtype !== ref.dtype) throw new TorchCheckpointError(file, `storage ${ref.key} is read as ${seen.dtype} and as ${ref.dtype}`);
          return seen;
        }
        if (!archive.has(member)) throw new TorchCheckpointError(file, `storage ${ref.key} has no member ${member} in the archive`);
        const size = archive.entry(member).size;
        if (ref.numel * DTYPE_BYTES[ref.dtype] > size) {
          throw new TorchCheckpointError(
            file,
            `storage ${ref.key} holds ${ref.numel} ${ref.dtype} elements (${ref.numel * DTYPE_BYTES[ref.dtype]} bytes) but ${member} has ${size} bytes`,
          );
        }
        const s: StorageRef = { ...ref, member };
        storages.set(member, s);
        return s;
      });
    if (script && archive.has(`${root}constants.pkl`)) {
      // Constants are checked with the same restrictions, but are not weights: they are not listed.
      unpickleAll(file, await archive.read(`${root}constants.pkl`), hooks('constants'));
    }
    const value = unpickleAll(file, await archive.read(pickles[0]!), hooks('data'));
    return new TorchCheckpointReader(source, archive, undefined, collectTensors(file, value), script ? 'torchscript' : 'zip');
  }

  /** The pre-1.6 stream: five pickles and the raw storages one after another; read whole into memory. */
  private static async openLegacy(source: ByteSource): Promise<TorchCheckpointReader> {
    const file = source.name;
    const bytes = await source.read(0, source.size);
    const plain = torchHooks(file, false, () => {
      throw new TorchCheckpointError(file, 'a persistent id outside the main pickle of a legacy checkpoint');
    });
    const magic = unpickle(bytes, plain, file, 0);
    if (magic.value !== 0x1950a86a20f9469cfc6cn)
      throw new TorchCheckpointError(file, 'a bare pickle, not a torch.save file (its first value is not the legacy magic number)');
    const version = unpickle(bytes, plain, file, magic.end);
    if (version.value !== 1001) throw new TorchCheckpointError(file, `legacy protocol version ${String(version.value)}, expected 1001`);
    const sysInfo = unpickle(bytes, plain, file, version.end);
    if (sysInfo.value instanceof PyDict && sysInfo.value.map.get('little_endian') === false)
      throw new TorchCheckpointError(file, 'saved on a big-endian machine, which is not supported');
    const storages = new Map<string, StorageRef>();
    const main = unpickle(
      bytes,
      torchHooks(file, false, (pid) => {
        const ref = legacyStorage(file, pid);
        const seen = storages.get(ref.key);
        if (seen) return seen;
        storages.set(ref.key, ref);
        return ref;
      }),
      file,
      sysInfo.end,
    );
    const keys = unpickle(bytes, plain, file, main.end);
    if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string'))
      throw new TorchCheckpointError(file, 'the legacy storage key list is not a list of strings');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let p = keys.end;
    for (const key of keys.value as string[]) {
      const s = storages.get(key);
      if (!s) throw new TorchCheckpointError(file, `legacy storage ${key} is listed but no tensor uses it`);
      if (p + 8 > bytes.length) throw new TorchCheckpointError(file, `legacy storage ${key}: the file ends before its size`);
      const numel = dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 4294967296;
      p += 8;
      const length = numel * DTYPE_BYTES[s.dtype];
      if (numel !== s.numel || p + length > bytes.length) {
        throw new TorchCheckpointError(
          file,
          `legacy storage ${key}: ${numel} elements stored (expected ${s.numel}), ${length} bytes from ${p} in a ${bytes.length}-byte file`,
        );
      }
      s.offset = p;
      p += length;
    }
    for (const [key, s] of storages) if (s.offset === undefined) throw new TorchCheckpointError(file, `legacy storage ${key} has no data`);
    return new TorchCheckpointReader(source, undefined, bytes, collectTensors(file, main.value), 'legacy');
  }

  /** The file's label (path or URL). */
  get name(): string {
    return this.source.name;
  }

  /** Tensor names (dotted paths) in the pickle's order. */
  tensorNames(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Header facts for one tensor. */
  info(name: string): TorchTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new TorchCheckpointError(this.source.name, `no tensor named ${JSON.stringify(name)} (it has ${this.tensors.size} tensors)`);
    return { name, dtype: t.storage.dtype, shape: [...t.shape], stride: [...t.stride], storageOffset: t.storageOffset, storage: t.storage.key };
  }

  /** Reads one tensor (gathering a strided view into row-major order) and converts it like the safetensors reader. */
  async readHost(name: string): Promise<HostTensor> {
    const info = this.info(name);
    const t = this.tensors.get(name)!;
    const es = DTYPE_BYTES[t.storage.dtype];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    try {
      if (numel === 0) return decodeTensorBytes(this.name, { name, dtype: info.dtype, shape: info.shape, dataOffsets: [0, 0] }, new Uint8Array(0));
      let last = t.storageOffset;
      for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.stride[i]!;
      const span = await this.storageBytes(t.storage, t.storageOffset * es, (last - t.storageOffset + 1) * es);
      const bytes = isContiguous(t.shape, t.stride) ? span : gather(span, t.shape, t.stride, es, numel);
      return decodeTensorBytes(this.name, { name, dtype: info.dtype, shape: info.shape, dataOffsets: [0, bytes.length] }, bytes);
    } catch (e) {
      throw asCheckpointError(this.name, e);
    }
  }

  /** Reads one tensor as a tfjs tensor (uint8 data becomes int32). */
  async readTensor(name: string): Promise<tf.Tensor> {
    return hostToTensor(await this.readHost(name));
  }

  /** Reads every tensor into host memory. */
  async readAllHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const name of this.tensors.keys()) out.set(name, await this.readHost(name));
    return out;
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }

  private async storageBytes(s: StorageRef, offset: number, length: number): Promise<Uint8Array> {
    if (this.legacyBytes) return this.legacyBytes.subarray(s.offset! + offset, s.offset! + offset + length);
    return this.archive!.readRange(s.member!, offset, length);
  }
}

function unpickleAll(file: string, bytes: Uint8Array, hooks: UnpicklerHooks): PyValue {
  const r = unpickle(bytes, hooks, file, 0);
  if (r.end !== bytes.length) throw new TorchCheckpointError(file, `pickle: ${bytes.length - r.end} bytes after the STOP opcode`);
  return r.value;
}

/** The allowed globals and what calling them builds. */
function torchHooks(file: string, script: boolean, persistentLoad: (pid: PyValue) => PyValue): UnpicklerHooks {
  return {
    resolveGlobal(module, name) {
      if (module === 'torch._utils' && TENSOR_REBUILDERS.has(name)) return new PyGlobal(module, name);
      if (module === 'torch' && name in TORCH_STORAGE_DTYPES) return new PyGlobal(module, name);
      if (module === 'collections' && name === 'OrderedDict') return new PyGlobal(module, name);
      if (script && module === 'torch.jit._pickle' && SCRIPT_HELPERS.has(name)) return new PyGlobal(module, name);
      if (script && (module === '__torch__' || module.startsWith('__torch__.'))) return new PyGlobal(module, name);
      return undefined;
    },
    call(fn, args) {
      const q = fn.qualified;
      if (fn.module === 'collections') {
        if (args.length !== 0) throw new TorchCheckpointError(file, `pickle: collections.OrderedDict called with ${args.length} arguments, expected none`);
        return new PyDict();
      }
      if (fn.module === 'torch._utils') return rebuildTensor(file, fn.name, args);
      if (fn.module === 'torch.jit._pickle') {
        if (args.length < 1) throw new TorchCheckpointError(file, `pickle: ${q} called without arguments`);
        return args[0]!;
      }
      if (fn.module.startsWith('__torch__')) return new ScriptObject(q);
      throw new TorchCheckpointError(file, `pickle: ${q} cannot be called`);
    },
    persistentLoad,
  };
}

function rebuildTensor(file: string, name: string, args: readonly PyValue[]): PyValue {
  const fail = (fault: string): never => {
    throw new TorchCheckpointError(file, `pickle: torch._utils.${name}: ${fault}`);
  };
  if (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state') {
    const data = args[0];
    if (!isTensor(data)) fail(`its data is ${describe(data)}, not a tensor`);
    return data!;
  }
  const [storage, offset, size, stride] = args;
  if (!isStorage(storage)) fail(`its storage is ${describe(storage)}`);
  const shape = intTuple(size);
  const strides = intTuple(stride);
  if (!shape || !strides || shape.length !== strides.length)
    fail(`size ${describe(size)} and stride ${describe(stride)} must be tuples of non-negative integers of one length`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail(`storage offset ${String(offset)} is not a non-negative integer`);
  const s = storage as StorageRef;
  let numel = 1;
  let last = offset as number;
  for (let i = 0; i < shape!.length; i++) {
    numel *= shape![i]!;
    last += Math.max(shape![i]! - 1, 0) * strides![i]!;
  }
  if (!Number.isSafeInteger(numel) || !Number.isSafeInteger(last)) fail(`shape [${shape!.join(', ')}] is too large`);
  if (numel > 0 && last >= s.numel)
    fail(
      `a view of shape [${shape!.join(', ')}], strides [${strides!.join(', ')}] at offset ${String(offset)} reaches element ${last} of storage ${s.key}, which has ${s.numel}`,
    );
  const t: TensorRef = { kind: 'tensor', storage: s, storageOffset: offset as number, shape: shape!, stride: strides! };
  return t;
}

function zipStorage(file: string, pid: PyValue): StorageRef {
  if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage')
    throw new TorchCheckpointError(file, `pickle: persistent id ${describe(pid)} is not ('storage', type, key, location, numel)`);
  const [, type, key, , numel] = pid.items;
  return storageRef(file, type, key, numel);
}

function legacyStorage(file: string, pid: PyValue): StorageRef {
  if (!(pid instanceof PyTuple) || pid.items.length !== 6 || pid.items[0] !== 'storage')
    throw new TorchCheckpointError(file, `pickle: persistent id ${describe(pid)} is not ('storage', type, key, location, numel, view)`);
  if (pid.items[5] !== null) throw new TorchCheckpointError(file, 'pickle: legacy storage views are not supported');
  return storageRef(file, pid.items[1], pid.items[2], pid.items[4]);
}

function storageRef(file: string, type: PyValue | undefined, key: PyValue | undefined, numel: PyValue | undefined): StorageRef {
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in TORCH_STORAGE_DTYPES))
    throw new TorchCheckpointError(file, `pickle: storage type ${describe(type)} is not supported`);
  if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) throw new TorchCheckpointError(file, `pickle: storage key ${describe(key)} is not a plain name`);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0)
    throw new TorchCheckpointError(file, `pickle: storage ${key} has ${String(numel)} elements`);
  return { kind: 'storage', key, dtype: TORCH_STORAGE_DTYPES[type.name]!, numel };
}

function intTuple(v: PyValue | undefined): number[] | undefined {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : undefined;
  if (!items || !items.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) return undefined;
  return items as number[];
}

function isTensor(v: PyValue | undefined): v is PyValue & TensorRef {
  return typeof v === 'object' && v !== null && (v as { kind?: string }).kind === 'tensor';
}

function isStorage(v: PyValue | undefined): boolean {
  return typeof v === 'object' && v !== null && (v as { kind?: string }).kind === 'storage';
}

/** Lists every tensor reachable from the top value, by dotted path. */
function collectTensors(file: string, value: PyValue): Map<string, TensorRef> {
  const out = new Map<string, TensorRef>();
  const active = new Set<object>();
  const visit = (v: PyValue, path: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new TorchCheckpointError(file, `containers nest deeper than ${MAX_DEPTH} levels at ${path}`);
    if (isTensor(v)) {
      if (out.has(path)) throw new TorchCheckpointError(file, `two tensors are named ${path}`);
      out.set(path, v as TensorRef);
      return;
    }
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array || v instanceof PyGlobal) return;
    if (active.has(v)) return;
    active.add(v);
    const join = (k: string): string => (path === '' ? k : `${path}.${k}`);
    if (v instanceof PyDict) for (const [k, x] of v.map) visit(x, join(String(k)), depth + 1);
    else if (v instanceof ScriptObject) for (const [k, x] of v.attributes?.map ?? []) visit(x, join(String(k)), depth + 1);
    else if (v instanceof PyTuple) v.items.forEach((x, i) => visit(x, join(String(i)), depth + 1));
    else if (Array.isArray(v)) v.forEach((x, i) => visit(x, join(String(i)), depth + 1));
    active.delete(v);
  };
  visit(value, '', 0);
  return out;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! !== 1 && stride[i]! !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Copies a strided view (elements of `es` bytes, strides relative to the span's start) into row-major order. */
function gather(span: Uint8Array, shape: readonly number[], stride: readonly number[], es: number, numel: number): Uint8Array {
  const out = new Uint8Array(numel * es);
  const index = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let n = 0; n < numel; n++) {
    out.set(span.subarray(src * es, src * es + es), n * es);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]!++;
      src += stride[d]!;
      if (index[d]! < shape[d]!) break;
      src -= stride[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

function asCheckpointError(file: string, e: unknown): unknown {
  if (e instanceof TorchCheckpointError) return e;
  if (e instanceof SafetensorsError) return new TorchCheckpointError(file, e.fault);
  if (e instanceof RangeError) return new TorchCheckpointError(file, e.message);
  return e;
}
