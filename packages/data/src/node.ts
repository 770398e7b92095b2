/**
 * Node-only parts of @hgm/data: the local-disk file system, and disk-bound shortcuts of the readers, inspection
 * and the synthetic dataset writer.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { nodeFileSystem } from './node-file-system';
import { buildSyntheticDataset, type SyntheticDatasetConfig } from './synthetic/dataset';
import { inspectDataset, type InspectOptions, type InspectReport } from './inspect';
import { readDataset, type ReadDatasetOptions } from './readers/read-dataset';
import type { DatasetIndex } from './sample';

export * from './index';
export { nodeFileSystem } from './node-file-system';
/**
 * In Node, `decodeImage` is the PIL-exact decoder (sharp where it loads, see `imageDecoderInfo`): asynchronous,
 * and the same function as `decodeImageNode`. It takes the place of the pure-JS `decodeImage` of the
 * browser-safe entry, which stays available as `decodeImagePureJs` (its JPEG decoding differs from PIL's).
 */
export { decodeImageNode as decodeImage, decodeImageNode, nodeImageDecoder, imageDecoderInfo, type ImageDecoderInfo } from './node-decode';

/** {@link readDataset} on the local disk. */
export function readDatasetFromDisk(root: string, options: Omit<ReadDatasetOptions, 'fs'> = {}): Promise<DatasetIndex> {
  return readDataset(root, { ...options, fs: nodeFileSystem });
}

/** {@link inspectDataset} on the local disk. */
export function inspectDatasetOnDisk(root: string, options: Omit<InspectOptions, 'fs'> = {}): Promise<InspectReport> {
  return inspectDataset(root, { ...options, fs: nodeFileSystem });
}

/**
 * Writes a synthetic dataset (see `buildSyntheticDataset`) under `root`, in the MVTec AD layout.
 * @returns the number of files written
 */
export async function writeSyntheticDataset(root: string, config: Partial<SyntheticDatasetConfig> = {}): Promise<{ files: number }> {
  const files = buildSyntheticDataset(config);
  for (const [rel, bytes] of files) {
    const path = join(root, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
  return { files: files.size };
}
export { runInspectCommand, parseInspectArgs, INSPECT_USAGE, type InspectArgs } from './inspect-cli';
