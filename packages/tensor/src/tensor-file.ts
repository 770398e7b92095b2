import type * as tf from '@tensorflow/tfjs-core';
import type { ByteSource } from './byte-source';
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

/** The format of a weights file, told from its first bytes. */
export type TensorFileFormat = 'safetensors' | 'pytorch';

/** Tells a PyTorch checkpoint (a zip archive or a pickle) from a safetensors file by its first bytes. */
export function sniffTensorFileFormat(head: Uint8Array): TensorFileFormat {
  if (head.length >= 2 && head[0] === 0x50 && head[1] === 0x4b) return 'pytorch';
  if (head.length >= 1 && head[0] === 0x80) return 'pytorch';
  return 'safetensors';
}

/** Opens a weights file of either format from a byte source. */
export async function openTensorSource(source: ByteSource): Promise<TensorFile> {
  const head = source.size >= 2 ? await source.read(0, 2) : new Uint8Array(0);
  return sniffTensorFileFormat(head) === 'pytorch' ? TorchCheckpointReader.open(source) : SafetensorsReader.open(source);
}

/** True for a reader of either format (as opposed to a map in memory or a converted view). */
export function isTensorFile(v: unknown): v is TensorFile {
  return v instanceof SafetensorsReader || v instanceof TorchCheckpointReader;
}
