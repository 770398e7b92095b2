/**
 * Node-only parts of @hgm/tensor: safetensors files read by byte range, atomic writes, and backend
 * start-up that finds the wasm binaries in node_modules and a WebGPU adapter through the `webgpu` package.
 */
import { realpathSync } from 'node:fs';
import { open, rename, unlink, mkdir, stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type { ByteSource } from './byte-source';
import { SafetensorsReader, encodeSafetensors, type WritableTensor } from './safetensors';
import { SafetensorsError, InvalidStateError, InputNotFoundError, OutputWriteError } from './errors';
import { openTensorSource, type TensorFile } from './tensor-file';
import { initBackend, isNotFound, describeAdapter, type BackendLoaders, type BackendReport, type BackendRequest, type InitBackendOptions } from './backend';

export * from './index';

/**
 * Whether the module whose `import.meta.url` is `moduleUrl` is the script Node was started with (the entry
 * point's symlinks resolved, as npm bins are links). Command-line entry points run only then, so that
 * importing them (tests, bundles) runs nothing.
 */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

/** A byte source over a local file, read with positioned reads (never the whole file). */
export async function fileSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new InputNotFoundError(path, `${path}: cannot open (${e.code ?? e.message})`, { cause: e, errno: e.code });
  });
  const { size } = await handle.stat();
  return {
    name: path,
    size,
    async read(offset, length) {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw new SafetensorsError(path, `file ended at ${offset + done} while reading ${length} bytes at ${offset}`);
        done += bytesRead;
      }
      return buf;
    },
    async close() {
      await handle.close();
    },
  };
}

/** Opens a safetensors file lazily. Close the reader when done. */
export async function openSafetensors(path: string): Promise<SafetensorsReader> {
  const src = await fileSource(path);
  try {
    return await SafetensorsReader.open(src);
  } catch (e) {
    await src.close?.();
    throw e;
  }
}

/**
 * Opens a weights file lazily, whatever its format: safetensors, or a PyTorch checkpoint (`torch.save`
 * `.pth` / `.bin`, TorchScript `.pt`), told apart by the first bytes. Close the reader when done.
 */
export async function openTensorFile(path: string): Promise<TensorFile> {
  const src = await fileSource(path);
  try {
    return await openTensorSource(src);
  } catch (e) {
    await src.close?.();
    throw e;
  }
}

/**
 * Writes a file atomically: the bytes go to a temporary file in the same folder, which is then renamed
 * over the target, so a reader never sees a half-written file and a crash leaves the old one intact.
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new OutputWriteError(dir, `${dir}: cannot create the output folder (${e.code ?? e.message})`, { cause: e, errno: e.code });
  });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    throw new OutputWriteError(path, `${path}: cannot write (${err.code ?? err.message})`, { cause: e, errno: err.code });
  }
}

/** Writes tensors to a safetensors file atomically. */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await atomicWriteFile(path, encodeSafetensors(tensors, metadata));
}

/** True when a path exists. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

const require = createRequire(import.meta.url);

/**
 * Registers tfjs's gradient functions and chained ops (`x.mul(y)`) in Node. tfjs-core's Node build registers
 * neither, and the ES modules of tfjs-core that do are written for bundlers (extensionless imports), which
 * Node cannot load; `@hgm/tensor/tfjs-gradients` is those modules of the installed tfjs-core bundled into one
 * CommonJS file (written by `tools/scripts/tfjs-gradients.mjs` at install and build time). It registers
 * against the engine and registries that every copy of tfjs-core shares. Idempotent; `initNodeBackend` calls it.
 * @throws InvalidStateError when the file is missing (an install that skipped scripts) or registers nothing
 */
export function ensureGradients(): void {
  if (tf.getGradient('Mean') !== undefined && typeof (tf.Tensor.prototype as { mul?: unknown }).mul === 'function') return;
  try {
    require('@hgm/tensor/tfjs-gradients');
  } catch (e) {
    throw new InvalidStateError(
      `tfjs gradient functions could not be loaded from @hgm/tensor/tfjs-gradients (${(e as Error).message.split('\n')[0]}); ` +
        'it is written at install time: run `npm rebuild` (or `node tools/scripts/tfjs-gradients.mjs` in the hgm repository)',
      { cause: e },
    );
  }
  if (tf.getGradient('Mean') === undefined) throw new InvalidStateError('tfjs gradient functions are not registered after loading @hgm/tensor/tfjs-gradients');
}

/** Node loaders: wasm binaries from node_modules, WebGPU through the `webgpu` package (Dawn). */
export function nodeBackendLoaders(options: { wasmThreads?: number } = {}): BackendLoaders {
  return {
    async registerGradients() {
      ensureGradients();
    },
    wasmThreads: options.wasmThreads ?? Math.max(1, Math.min(cpus().length, 4)),
    async importModule(name) {
      try {
        return await import(name);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async prepareWasm(m) {
      const pkgJson = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
      const distDir = join(dirname(pkgJson), 'dist') + '/';
      (m as { setWasmPaths(p: string): void }).setWasmPaths(distDir);
    },
    async prepareWebgpu() {
      const g = globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } } & Record<string, unknown>;
      if (!g.navigator?.gpu) {
        let webgpu: { create(flags: string[]): unknown; globals: Record<string, unknown> } | undefined;
        try {
          webgpu = (await import('webgpu')) as unknown as typeof webgpu;
        } catch (e) {
          if (isNotFound(e)) return false;
          throw e;
        }
        if (!webgpu) return false;
        Object.assign(globalThis, webgpu.globals);
        const gpu = webgpu.create([]);
        if (!g.navigator) {
          Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
        } else {
          Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
        }
      }
      return describeAdapter(await g.navigator!.gpu!.requestAdapter());
    },
  };
}

/**
 * Starts a backend in Node by name (`auto` picks tensorflow, then webgpu, wasm, cpu) and reports the
 * choice and every backend passed over, with the reason.
 */
export async function initNodeBackend(request: BackendRequest, options: { wasmThreads?: number } & InitBackendOptions = {}): Promise<BackendReport> {
  return initBackend(request, nodeBackendLoaders(options), options);
}
