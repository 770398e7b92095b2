import type * as tf from '@tensorflow/tfjs-core';
import type { ByteSource } from './byte-source';
import { InvalidFileError } from './errors';
import { SafetensorsReader, type HostTensor, type SafetensorsDtype } from './safetensors';
import { TorchCheckpointReader } from './torch-checkpoint';

/**
 * A weights file read lazily, whatever its format: a safetensors file or a PyTorch checkpoint
 * (`.pth`, `.pt`, `.bin`). Both readers have this shape.
 */
export interface TensorFile {
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  tensorNames(): string[];
  has(name: string): boolean;
  info(name: string): { name: string; dtype: SafetensorsDtype; shape: number[] };
  readHost(name: string): Promise<HostTensor>;
  readTensor(name: string): Promise<tf.Tensor>;
  readAllHost(): Promise<Map<string, HostTensor>>;
  close(): Promise<void>;
}

/** The format of a weights file, told from its first bytes; `unknown` when it is neither. */
export type TensorFileFormat = 'safetensors' | 'pytorch' | 'unknown';

/** How many leading bytes {@link sniffTensorFileFormat} looks at. */
export const TENSOR_FILE_SNIFF_BYTES = 16;

/**
 * Tells a safetensors file from a PyTorch checkpoint by what each format guarantees at its start:
 * - safetensors: a little-endian u64 header length N with 8 + N <= the file's size, and byte 8 (the first
 *   byte of the JSON header) is `{`. Checked first, since N is arbitrary: its low byte can be `0x80` (the
 *   pickle opcode) and its first two bytes can spell `PK`;
 * - a `torch.save` / TorchScript zip archive: a local file header, `PK\x03\x04` (the archive's `data.pkl`
 *   entry is checked when it is opened);
 * - a legacy `torch.save` stream, a bare pickle: the PROTO opcode `0x80` and a protocol byte 2..5.
 * @param head the file's first bytes ({@link TENSOR_FILE_SNIFF_BYTES} are enough; fewer when the file is shorter)
 * @param size the whole file's size in bytes
 */
export function sniffTensorFileFormat(head: Uint8Array, size: number): TensorFileFormat {
  if (head.length >= 9 && head[8] === 0x7b) {
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    const headerLen = dv.getUint32(4, true) * 4294967296 + dv.getUint32(0, true);
    if (headerLen >= 2 && 8 + headerLen <= size) return 'safetensors';
  }
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'pytorch';
  if (head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return 'pytorch';
  return 'unknown';
}

/** The first bytes of a file as hex, for error messages. */
function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Opens a weights file of either format from a byte source.
 * @throws InvalidFileError naming the file and its first bytes when it is neither a safetensors file nor a
 *   PyTorch checkpoint
 */
export async function openTensorSource(source: ByteSource): Promise<TensorFile> {
  const head = await source.read(0, Math.min(source.size, TENSOR_FILE_SNIFF_BYTES));
  const format = sniffTensorFileFormat(head, source.size);
  if (format === 'pytorch') return TorchCheckpointReader.open(source);
  // a `{` where the JSON header starts, with a length past the end: a truncated safetensors file, whose reader says so
  if (format === 'safetensors' || head[8] === 0x7b) return SafetensorsReader.open(source);
  throw new InvalidFileError(
    source.name,
    `${source.name}: not a weights file: it starts with ${source.size === 0 ? 'nothing (the file is empty)' : `bytes ${hexBytes(head)}`}, ` +
      'which is neither a safetensors header (u64 length, then `{`) nor a PyTorch checkpoint (a zip archive `50 4b 03 04` or a pickle `80 02`..`80 05`)',
  );
}

/** True for a reader of either format (as opposed to a map in memory or a converted view). */
export function isTensorFile(v: unknown): v is TensorFile {
  return v instanceof SafetensorsReader || v instanceof TorchCheckpointReader;
}
