import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, HgmError } from './errors';
import { registerWebgpuDevice, registerWebgpuKernelFixes } from './webgpu';

/** Backends that can be asked for by name. `tensorflow` is libtensorflow through tfjs-node-gpu, then tfjs-node. */
export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu' | 'tensorflow';
export type BackendRequest = BackendName | 'auto';

export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'webgl', 'cpu'];

/** The order `auto` tries, best first. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'webgl', 'cpu'];

/** Why a backend was passed over. */
export interface PassedOver {
  backend: BackendName;
  reason: 'not-installed' | 'no-adapter' | 'init-failed';
  detail: string;
}

/** What backend start-up chose and why the others were not used. */
export interface BackendReport {
  /** The tfjs backend name now active (`tensorflow` for tfjs-node(-gpu), else the requested name). */
  chosen: BackendName;
  /** The package that provided it. */
  providedBy: string;
  passedOver: PassedOver[];
}

/**
 * How to load each backend. The browser build uses plain dynamic imports; the Node entry
 * (`@hgm/tensor/node`) supplies hooks that find the wasm binaries and a WebGPU adapter from the `webgpu` package.
 */
export interface BackendLoaders {
  /** Imports a module by name; returns undefined when it is not installed. */
  importModule(name: string): Promise<unknown | undefined>;
  /** Prepares the wasm backend (e.g. sets the paths of its .wasm files) after its module loaded. */
  prepareWasm?(wasmModule: unknown): Promise<void> | void;
  /**
   * Makes `navigator.gpu` available where the platform lacks it and describes the adapter; false (or
   * `available: false`) when none exists.
   */
  prepareWebgpu?(): Promise<boolean | WebgpuAdapterCheck>;
  /** Number of threads for wasm where threads are supported. */
  wasmThreads?: number;
  /**
   * Registers tfjs's gradient functions (tfjs-core ships them as separate ES modules: bundlers load them
   * directly, Node through `@hgm/tensor/tfjs-gradients`); called once before any backend starts.
   */
  registerGradients?(): Promise<void>;
}

/** What backend start-up learnt about the WebGPU adapter. */
export interface WebgpuAdapterCheck {
  available: boolean;
  /** A CPU implementation (Mesa llvmpipe/lavapipe, SwiftShader): slower than wasm, so `auto` passes it over. */
  software: boolean;
  description: string;
}

/** Describes a WebGPU adapter from its `info` (software adapters report architecture "software" or a known name). */
export function describeAdapter(adapter: unknown): WebgpuAdapterCheck {
  if (adapter == null) return { available: false, software: false, description: 'no adapter' };
  const a = adapter as { isFallbackAdapter?: boolean; info?: { vendor?: string; architecture?: string; device?: string; description?: string } };
  const info = a.info ?? {};
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  const software = a.isFallbackAdapter === true || info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(description);
  return { available: true, software, description };
}

/** Default loaders: plain dynamic `import()`, as in a bundled browser app. */
export const defaultLoaders: BackendLoaders = {
  async registerGradients() {
    if (tf.getGradient('Mean') !== undefined) return;
    await import(/* @vite-ignore */ '@tensorflow/tfjs-core/dist/register_all_gradients.js');
  },
  async importModule(name) {
    try {
      return await import(/* @vite-ignore */ name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  },
  async prepareWebgpu() {
    const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator;
    if (!nav?.gpu) return false;
    return describeAdapter(await nav.gpu.requestAdapter());
  },
};

export function isNotFound(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  const msg = String((e as Error | null)?.message ?? e);
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)|Failed to resolve module/.test(msg);
}

/** Thrown when no requested backend starts; lists every backend tried with its reason. */
export class BackendStartError extends HgmError {
  override readonly name = 'BackendStartError';
  readonly code = 'backend-unavailable' as const;
  constructor(
    readonly request: BackendRequest,
    readonly passedOver: PassedOver[],
  ) {
    super(`no tfjs backend could be started for ${JSON.stringify(request)}:\n${passedOver.map((p) => `  ${p.backend}: ${p.reason} (${p.detail})`).join('\n')}`);
  }
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** The candidates of `auto`, best first (default {@link AUTO_ORDER}); e.g. an app that leaves WebGPU to an explicit request. */
  autoOrder?: readonly BackendName[];
}

/**
 * Starts a tfjs backend by name, or the best available one with `auto`, and reports what it chose and
 * why each other candidate was passed over (not installed, no adapter, failed to initialise).
 *
 * @throws BackendStartError naming every reason when the requested backend (or, for `auto`, every candidate) fails.
 */
export async function initBackend(request: BackendRequest, loaders: BackendLoaders = defaultLoaders, options: InitBackendOptions = {}): Promise<BackendReport> {
  const candidates: readonly BackendName[] = request === 'auto' ? (options.autoOrder ?? AUTO_ORDER) : [request];
  if (request !== 'auto' && !BACKEND_NAMES.includes(request)) {
    throw new ConfigError(`unknown backend ${JSON.stringify(request)}; expected one of auto, ${BACKEND_NAMES.join(', ')}`);
  }
  await loaders.registerGradients?.();
  const passedOver: PassedOver[] = [];
  for (const name of candidates) {
    const result = await tryBackend(name, loaders, request === 'auto');
    if ('providedBy' in result) return { chosen: name, providedBy: result.providedBy, passedOver };
    passedOver.push(result);
  }
  throw new BackendStartError(request, passedOver);
}

async function tryBackend(name: BackendName, loaders: BackendLoaders, auto: boolean): Promise<{ providedBy: string } | PassedOver> {
  const fail = (reason: PassedOver['reason'], detail: string): PassedOver => ({ backend: name, reason, detail });
  try {
    switch (name) {
      case 'cpu': {
        const m = await loaders.importModule('@tensorflow/tfjs-backend-cpu');
        if (!m) return fail('not-installed', '@tensorflow/tfjs-backend-cpu is not installed');
        return (await activate('cpu')) ? { providedBy: '@tensorflow/tfjs-backend-cpu' } : fail('init-failed', 'tf.setBackend("cpu") returned false');
      }
      case 'wasm': {
        const m = await loaders.importModule('@tensorflow/tfjs-backend-wasm');
        if (!m) return fail('not-installed', '@tensorflow/tfjs-backend-wasm is not installed');
        if (loaders.wasmThreads !== undefined) {
          (m as { setThreadsCount?: (n: number) => void }).setThreadsCount?.(loaders.wasmThreads);
        }
        await loaders.prepareWasm?.(m);
        return (await activate('wasm')) ? { providedBy: '@tensorflow/tfjs-backend-wasm' } : fail('init-failed', 'tf.setBackend("wasm") returned false');
      }
      case 'webgl': {
        if (
          typeof (globalThis as { document?: unknown }).document === 'undefined' &&
          typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined'
        ) {
          return fail('no-adapter', 'no WebGL context is available (no document or OffscreenCanvas)');
        }
        const m = await loaders.importModule('@tensorflow/tfjs-backend-webgl');
        if (!m) return fail('not-installed', '@tensorflow/tfjs-backend-webgl is not installed');
        return (await activate('webgl')) ? { providedBy: '@tensorflow/tfjs-backend-webgl' } : fail('init-failed', 'tf.setBackend("webgl") returned false');
      }
      case 'webgpu': {
        const check = loaders.prepareWebgpu ? await loaders.prepareWebgpu() : false;
        const adapter: WebgpuAdapterCheck =
          typeof check === 'boolean' ? { available: check, software: false, description: check ? 'adapter' : 'no adapter' } : check;
        if (!adapter.available) return fail('no-adapter', 'no WebGPU adapter was found');
        if (auto && adapter.software) {
          return fail('no-adapter', `only a software WebGPU adapter (${adapter.description}), slower than wasm; ask for webgpu by name to use it`);
        }
        const m = await loaders.importModule('@tensorflow/tfjs-backend-webgpu');
        if (!m) return fail('not-installed', '@tensorflow/tfjs-backend-webgpu is not installed');
        // The device gets the adapter's own limits, and the stock kernels with known bugs are replaced (see webgpu.ts).
        registerWebgpuDevice(m);
        registerWebgpuKernelFixes();
        return (await activate('webgpu')) ? { providedBy: '@tensorflow/tfjs-backend-webgpu' } : fail('init-failed', 'tf.setBackend("webgpu") returned false');
      }
      case 'tensorflow': {
        const errors: string[] = [];
        for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
          let m: unknown;
          try {
            m = await loaders.importModule(pkg);
          } catch (e) {
            errors.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
            continue;
          }
          if (!m) {
            errors.push(`${pkg} is not installed`);
            continue;
          }
          if (await activate('tensorflow')) return { providedBy: pkg };
          errors.push(`${pkg}: tf.setBackend("tensorflow") returned false`);
        }
        const installed = errors.some((e) => !e.endsWith('is not installed'));
        return fail(installed ? 'init-failed' : 'not-installed', errors.join('; '));
      }
    }
  } catch (e) {
    return fail('init-failed', (e as Error).message.split('\n')[0] ?? String(e));
  }
}

async function activate(name: string): Promise<boolean> {
  if (tf.findBackendFactory(name) === null && tf.findBackend(name) === null) return false;
  const ok = await tf.setBackend(name);
  if (ok) await tf.ready();
  return ok && tf.getBackend() === name;
}
