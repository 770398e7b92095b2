import { float32ToBfloat16, float32ToFloat16, type HostTensor, type SafetensorsDtype } from '@hgm/tensor';

/** One entry of a safetensors header to write. */
export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
}

/** A planned safetensors layout: the header bytes (length prefix included) and each tensor's data range. */
export interface SafetensorsLayout {
  /** 8-byte little-endian length, then the JSON header padded with spaces to a multiple of 8. */
  header: Uint8Array;
  /** Byte ranges within the data section, in entry order. */
  offsets: [number, number][];
  /** Total file size in bytes. */
  totalBytes: number;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

/** Lays out a safetensors file (tensors contiguous in the given order), for writers that stream the data. */
export function planSafetensors(entries: readonly HeaderEntry[], metadata?: Record<string, string>): SafetensorsLayout {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  const offsets: [number, number][] = [];
  let offset = 0;
  for (const e of entries) {
    if (e.name === '__metadata__') throw new TypeError('a tensor may not be named __metadata__');
    if (e.name in header) throw new TypeError(`tensor ${e.name} is listed twice`);
    const bytes = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
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
 * Encodes float32 values as F32, F16 (round to nearest even) or BF16 (round to nearest even) bytes,
 * little-endian.
 */
export function encodeFloats(values: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Uint8Array {
  if (dtype === 'F32') {
    const copy = new Float32Array(values);
    return new Uint8Array(copy.buffer);
  }
  const out = new Uint16Array(values.length);
  const convert = dtype === 'F16' ? float32ToFloat16 : float32ToBfloat16;
  for (let i = 0; i < values.length; i++) out[i] = convert(values[i]!);
  if (!littleEndian()) throw new Error('encodeFloats: big-endian hosts are not supported');
  return new Uint8Array(out.buffer);
}

/**
 * Serialises host tensors to safetensors bytes, writing float tensors as `floatDtype` (F32, F16 or BF16)
 * and int32 tensors as I32. For checkpoints in half precision and for tests.
 */
export function encodeSafetensorsAs(
  tensors: ReadonlyMap<string, HostTensor>,
  floatDtype: 'F32' | 'F16' | 'BF16',
  metadata?: Record<string, string>,
): Uint8Array {
  const entries: HeaderEntry[] = [];
  const blobs: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype === 'float32') {
      entries.push({ name, dtype: floatDtype, shape: t.shape });
      blobs.push(encodeFloats(t.data as Float32Array, floatDtype));
    } else if (t.dtype === 'int32') {
      entries.push({ name, dtype: 'I32', shape: t.shape });
      blobs.push(new Uint8Array(Int32Array.from(t.data as Int32Array).buffer));
    } else {
      entries.push({ name, dtype: t.dtype === 'bool' ? 'BOOL' : 'U8', shape: t.shape });
      blobs.push(Uint8Array.from(t.data as Uint8Array));
    }
  }
  const layout = planSafetensors(entries, metadata);
  const out = new Uint8Array(layout.totalBytes);
  out.set(layout.header, 0);
  let at = layout.header.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
