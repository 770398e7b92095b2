import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphBuilder } from './graph-builder';
import type { OnnxRuntime, OrtSession, SessionOptions } from './ort-node';

/** From this many bytes of weights on, the weights reach a session through a temporary file by default. */
export const DISK_STAGING_BYTES = 64 * 2 ** 20;

/**
 * Writes `graph` to a temporary model file whose weights go, one at a time as they are made, to an external
 * data file beside it (page-aligned, so the runtime maps it rather than reading it into a buffer), makes the
 * session from the file and deletes both files: the session keeps what it mapped or copied.
 */
export async function sessionFromDisk(
  runtime: OnnxRuntime,
  graph: GraphBuilder,
  options: SessionOptions & { stagingDir?: string },
  written: () => void,
): Promise<OrtSession> {
  const base = options.stagingDir ?? tmpdir();
  let dir: string;
  try {
    dir = mkdtempSync(join(base, 'hgm-onnx-'));
  } catch (e) {
    throw new Error(
      `ONNX executor: cannot make a staging folder for the weights in ${base} (${(e as Error).message}); set stagingDir or use weightStaging 'memory'`,
    );
  }
  try {
    // fixed names in a folder of its own: a graph's name may hold characters a file name cannot (ViT-L/14)
    const modelPath = join(dir, 'model.onnx');
    const dataName = 'model.onnx.data';
    const fd = openSync(join(dir, dataName), 'w');
    let model: Uint8Array;
    try {
      model = graph.toModel({ kind: 'external', location: dataName, write: (chunk) => void writeSync(fd, chunk) });
    } finally {
      closeSync(fd);
    }
    const mfd = openSync(modelPath, 'w');
    try {
      writeSync(mfd, model);
    } finally {
      closeSync(mfd);
    }
    written();
    return await runtime.createSession(modelPath, options);
  } finally {
    // A mapped file stays readable after it is unlinked (POSIX); where the system refuses to delete a mapped
    // file, the folder is left to the temporary-folder cleanup.
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // see above
    }
  }
}
