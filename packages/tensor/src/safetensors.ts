import * as tf from '@tensorflow/tfjs-core';
import { bufferSource, type ByteSource } from './byte-source';
import { SafetensorsError } from './errors';
import { float16ToFloat32, bfloat16ToFloat32 } from './half';

/** The dtypes this reader understands, with their size in bytes. */
export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

/** One entry of a safetensors header. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Offsets relative to the start of the data section: [start, end). */
  dataOffsets: [number, number];
}

/** A tensor read into host memory, converted to a JS-friendly dtype. */
export interface HostTensor {
  /** float32 for F64/F32/F16/BF16, int32 for I64/I32, uint8 for U8, bool for BOOL. */
  dtype: 'float32' | 'int32' | 'uint8' | 'bool';
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** The largest header this reader accepts (the format's own reference limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Reads a safetensors file lazily: the header first, then single tensors by name on request, so a
 * multi-gigabyte checkpoint never has to be in memory at once.
 */
export class SafetensorsReader {
  private constructor(
    private readonly source: ByteSource,
    /** Byte offset of the data section within the file. */
    private readonly dataStart: number,
    private readonly entries: Map<string, TensorInfo>,
    /** The `__metadata__` strings, if any. */
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Opens a byte source and validates its whole header. Throws {@link SafetensorsError} on any fault. */
  static async open(source: ByteSource): Promise<SafetensorsReader> {
    const file = source.name;
    if (source.size < 8) throw new SafetensorsError(file, `file is ${source.size} bytes, too short for the 8-byte header length`);
    const lenBytes = await source.read(0, 8);
    const dv = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
    const lo = dv.getUint32(0, true);
    const hi = dv.getUint32(4, true);
    const headerLen = hi * 4294967296 + lo;
    if (headerLen > MAX_HEADER_BYTES) {
      throw new SafetensorsError(file, `header length ${headerLen} is larger than the ${MAX_HEADER_BYTES}-byte limit`);
    }
    if (8 + headerLen > source.size) {
      throw new SafetensorsError(file, `header length ${headerLen} runs past the end of the file (${source.size} bytes)`);
    }
    const headerBytes = await source.read(8, headerLen);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    } catch {
      throw new SafetensorsError(file, 'header is not valid UTF-8');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SafetensorsError(file, 'header must be a JSON object');
    }
    const dataStart = 8 + headerLen;
    const dataSize = source.size - dataStart;
    const entries = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = parseMetadata(file, raw);
        continue;
      }
      entries.set(name, parseEntry(file, name, raw, dataSize));
    }
    checkOverlaps(file, [...entries.values()]);
    return new SafetensorsReader(source, dataStart, entries, metadata);
  }

  /** Opens a file already in memory. */
  static async fromBytes(bytes: ArrayBuffer | Uint8Array, name = '<memory>'): Promise<SafetensorsReader> {
    return SafetensorsReader.open(bufferSource(bytes, name));
  }

  /** The file's label (path or URL). */
  get name(): string {
    return this.source.name;
  }

  /** Tensor names in header order. */
  tensorNames(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Header facts for one tensor. */
  info(name: string): TensorInfo {
    const e = this.entries.get(name);
    if (!e) throw new SafetensorsError(this.source.name, `no tensor named ${JSON.stringify(name)} (it has ${this.entries.size} tensors)`);
    return e;
  }

  /** Reads one tensor's bytes and converts them (F16/BF16/F64 to float32, I64 to int32 with an overflow check). */
  async readHost(name: string): Promise<HostTensor> {
    const e = this.info(name);
    const [start, end] = e.dataOffsets;
    const bytes = await this.source.read(this.dataStart + start, end - start);
    return decodeTensorBytes(this.source.name, e, bytes);
  }

  /** Reads one tensor as a tfjs tensor (uint8 data becomes int32). */
  async readTensor(name: string): Promise<tf.Tensor> {
    const host = await this.readHost(name);
    return hostToTensor(host);
  }

  /** Reads every tensor into host memory (for small files: fixtures, trainable parameters). */
  async readAllHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const name of this.entries.keys()) out.set(name, await this.readHost(name));
    return out;
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }
}

/** Turns a host tensor into a tfjs tensor (uint8 becomes int32, as tfjs has no uint8 dtype). */
export function hostToTensor(host: HostTensor): tf.Tensor {
  if (host.dtype === 'uint8') return tf.tensor(Int32Array.from(host.data), host.shape, 'int32');
  if (host.dtype === 'bool') return tf.tensor(host.data as Uint8Array, host.shape, 'bool');
  return tf.tensor(host.data as Float32Array | Int32Array, host.shape, host.dtype);
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SafetensorsError(file, '__metadata__ must be an object of strings');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__.${k} must be a string, found ${typeof v}`);
    out[k] = v;
  }
  return out;
}

function parseEntry(file: string, name: string, raw: unknown, dataSize: number): TensorInfo {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SafetensorsError(file, `tensor ${name}: header entry must be an object with dtype, shape and data_offsets`);
  }
  const r = raw as Record<string, unknown>;
  const dtype = r['dtype'];
  if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BYTES)) {
    throw new SafetensorsError(
      file,
      `tensor ${name}: unknown or unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`,
    );
  }
  const shape = r['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsError(file, `tensor ${name}: shape must be a list of non-negative integers, found ${JSON.stringify(shape)}`);
  }
  const offsets = r['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsError(file, `tensor ${name}: data_offsets must be two non-negative integers, found ${JSON.stringify(offsets)}`);
  }
  const [start, end] = offsets as [number, number];
  if (end < start) throw new SafetensorsError(file, `tensor ${name}: data_offsets [${start}, ${end}] end before they start`);
  if (end > dataSize) {
    throw new SafetensorsError(file, `tensor ${name}: data_offsets [${start}, ${end}] run past the end of the data section (${dataSize} bytes)`);
  }
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) throw new SafetensorsError(file, `tensor ${name}: shape [${shape.join(', ')}] is too large`);
  }
  const bytes = numel * SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDtype];
  if (bytes !== end - start) {
    throw new SafetensorsError(
      file,
      `tensor ${name}: shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes but data_offsets [${start}, ${end}] hold ${end - start}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], dataOffsets: [start, end] };
}

function checkOverlaps(file: string, entries: TensorInfo[]): void {
  const sorted = entries.filter((e) => e.dataOffsets[1] > e.dataOffsets[0]).sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsError(file, `tensors ${prev.name} [${prev.dataOffsets.join(', ')}] and ${cur.name} [${cur.dataOffsets.join(', ')}] overlap`);
    }
  }
}

/** Converts the raw little-endian bytes of one tensor. */
export function decodeTensorBytes(file: string, info: TensorInfo, bytes: Uint8Array): HostTensor {
  const numel = info.shape.reduce((a, b) => a * b, 1);
  const shape = [...info.shape];
  switch (info.dtype) {
    case 'F32':
      return { dtype: 'float32', shape, data: alignedView(bytes, Float32Array, numel) };
    case 'I32':
      return { dtype: 'int32', shape, data: alignedView(bytes, Int32Array, numel) };
    case 'U8':
      return { dtype: 'uint8', shape, data: bytes.slice() };
    case 'BOOL':
      return { dtype: 'bool', shape, data: bytes.slice() };
    case 'F16': {
      const src = alignedView(bytes, Uint16Array, numel);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = float16ToFloat32(src[i]!);
      return { dtype: 'float32', shape, data: out };
    }
    case 'BF16': {
      const src = alignedView(bytes, Uint16Array, numel);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = bfloat16ToFloat32(src[i]!);
      return { dtype: 'float32', shape, data: out };
    }
    case 'F64': {
      const src = alignedView(bytes, Float64Array, numel);
      return { dtype: 'float32', shape, data: Float32Array.from(src) };
    }
    case 'I64': {
      const src = alignedView(bytes, BigInt64Array, numel);
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) {
        const v = src[i]!;
        if (v > 2147483647n || v < -2147483648n) {
          throw new SafetensorsError(file, `tensor ${info.name}: I64 value ${v} at flat index ${i} does not fit in int32`);
        }
        out[i] = Number(v);
      }
      return { dtype: 'int32', shape, data: out };
    }
  }
}

type TypedCtor<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; new (length: number): T; BYTES_PER_ELEMENT: number };

function alignedView<T extends { set(a: ArrayLike<number> | ArrayLike<bigint>): void }>(bytes: Uint8Array, Ctor: TypedCtor<T>, numel: number): T {
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) {
    return new Ctor(bytes.buffer, bytes.byteOffset, numel);
  }
  const copy = new Uint8Array(numel * Ctor.BYTES_PER_ELEMENT);
  copy.set(bytes);
  return new Ctor(copy.buffer, 0, numel);
}

/** A tensor to write: float32, int32 or uint8 data. */
export interface WritableTensor {
  dtype: 'F32' | 'I32' | 'U8';
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** One entry of a safetensors header to write. */
export interface SafetensorsHeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
}

/** A planned safetensors file: the header bytes (length prefix included) and each tensor's data range. */
export interface SafetensorsLayout {
  /** 8-byte little-endian length, then the JSON header padded with spaces to a multiple of 8. */
  header: Uint8Array;
  /** Byte ranges within the data section, in entry order. */
  offsets: [number, number][];
  /** Total file size in bytes. */
  totalBytes: number;
}

/**
 * Lays out a safetensors file with the tensors contiguous in the given order: the header (padded so every
 * tensor is aligned) and the data ranges. {@link encodeSafetensors} and streaming writers share it.
 */
export function planSafetensors(entries: readonly SafetensorsHeaderEntry[], metadata?: Record<string, string>): SafetensorsLayout {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`safetensors metadata ${k} must be a string, got ${typeof v}`);
    }
    header['__metadata__'] = metadata;
  }
  const offsets: [number, number][] = [];
  let offset = 0;
  for (const e of entries) {
    if (e.name === '__metadata__') throw new TypeError('a tensor may not be named __metadata__');
    if (e.name in header) throw new TypeError(`tensor ${e.name} is listed twice`);
    const bytes = e.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + bytes] };
    offsets.push([offset, offset + bytes]);
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let body = enc.encode(json);
  const pad = (8 - (body.byteLength % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    body = enc.encode(json);
  }
  const out = new Uint8Array(8 + body.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.byteLength % 4294967296, true);
  dv.setUint32(4, Math.floor(body.byteLength / 4294967296), true);
  out.set(body, 8);
  return { header: out, offsets, totalBytes: out.byteLength + offset };
}

/**
 * Serialises tensors (in the given order) to safetensors bytes, with optional string metadata.
 * The header is padded with spaces to a multiple of 8 so that every tensor is aligned.
 */
export function encodeSafetensors(tensors: Record<string, WritableTensor> | Map<string, WritableTensor>, metadata?: Record<string, string>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of list) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const expectedCtor = t.dtype === 'F32' ? Float32Array : t.dtype === 'I32' ? Int32Array : Uint8Array;
    if (!(t.data instanceof expectedCtor)) throw new TypeError(`tensor ${name}: dtype ${t.dtype} needs a ${expectedCtor.name}`);
    if (t.data.length !== numel) {
      throw new TypeError(`tensor ${name}: shape [${t.shape.join(', ')}] has ${numel} elements but the data has ${t.data.length}`);
    }
  }
  const layout = planSafetensors(
    list.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    metadata,
  );
  const out = new Uint8Array(layout.totalBytes);
  out.set(layout.header, 0);
  list.forEach(([, t], i) => out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), layout.header.byteLength + layout.offsets[i]![0]));
  return out;
}

/** Reads a tfjs tensor back to a writable host tensor (float32 -> F32, int32 -> I32, bool -> U8). */
export async function tensorToWritable(t: tf.Tensor): Promise<WritableTensor> {
  const data = await t.data();
  if (t.dtype === 'float32') return { dtype: 'F32', shape: [...t.shape], data: data as Float32Array };
  if (t.dtype === 'int32') return { dtype: 'I32', shape: [...t.shape], data: data as Int32Array };
  if (t.dtype === 'bool') return { dtype: 'U8', shape: [...t.shape], data: Uint8Array.from(data as Uint8Array) };
  throw new TypeError(`cannot write a tensor of dtype ${t.dtype} to safetensors`);
}
