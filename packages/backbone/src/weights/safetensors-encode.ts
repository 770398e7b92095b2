import {
  float32ToBfloat16,
  float32ToFloat16,
  planSafetensors,
  type HostTensor,
  type SafetensorsHeaderEntry as HeaderEntry,
  InvalidStateError,
} from '@hgm/tensor';

/** The header planner lives in @hgm/tensor (shared with its writer); re-exported under this package's names. */
export { planSafetensors, type SafetensorsHeaderEntry as HeaderEntry, type SafetensorsLayout } from '@hgm/tensor';

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
  if (!littleEndian()) throw new InvalidStateError('encodeFloats: big-endian hosts are not supported');
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
