/**
 * `hgm doctor`: what can run here. Starts each backend in turn and prints whether it is available and why
 * not, the WebGPU adapter (name, software or hardware, the device limits and shader-f16), wasm SIMD and
 * threads, the image decoder, what `--executor auto` runs the frozen vision encoder on, the optional packages,
 * and the backend `--backend auto` would choose.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { describeAdapter, initNodeBackend, webgpuDeviceInfo, BackendStartError, type BackendName, type WebgpuDeviceInfo } from '@hgm/tensor/node';
import { imageDecoderInfo, type ImageDecoderInfo } from '@hgm/data/node';
import { loadOnnxRuntime } from '@hgm/onnx';
import type { CommandContext, ActionFactory } from '../command-context';
import { EXIT } from '../exit-codes';
import { CLI_AUTO_ORDER } from '../backend';
import { onnxRuntimePackage } from '../executor';

/** Packages that decide what can run; all but the tfjs core packages are optional. */
const PACKAGES = [
  '@tensorflow/tfjs-node-gpu',
  '@tensorflow/tfjs-node',
  'webgpu',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-cpu',
  'onnxruntime-node',
  'sharp',
] as const;

export interface DoctorBackend {
  backend: BackendName;
  available: boolean;
  /** The package that provided it, or why it is not available. */
  detail: string;
  webgpu?: WebgpuDeviceInfo & { software: boolean };
  wasm?: { simd: boolean; threads: boolean };
}

export interface DoctorReport {
  node: string;
  platform: string;
  backends: DoctorBackend[];
  packages: { name: string; installed: boolean; version?: string }[];
  /** What `--backend auto` starts, and why the backends before it were passed over. */
  auto: { chosen: string | null; passedOver: string[] };
  /** The decoder `detect`, `eval` and `serve` read images with (sharp, else the pure-JS codecs, with why). */
  imageDecoder: ImageDecoderInfo;
  /**
   * What `--executor auto` runs the frozen vision encoder on (with the wasm or cpu backend; the webgpu backend
   * keeps it on tfjs): ONNX Runtime's CPU provider where the runtime loads, else tfjs with the reason.
   */
  executor: { auto: 'onnx' | 'tfjs'; runtime?: { version: string; providers: string[] }; reason?: string; cuda?: CudaProviderReport };
}

/** Whether onnxruntime-node's CUDA provider libraries are on disk (linux-x64 only), and how to get them. */
export interface CudaProviderReport {
  installed: boolean;
  /** How to install them, when they are not. */
  hint?: string;
}

/** The command that downloads onnxruntime-node's CUDA 12 provider (network and CUDA 12 needed). */
export const CUDA_PROVIDER_INSTALL = 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node';

/**
 * onnxruntime-node ships its CPU and WebGPU providers; the CUDA provider's libraries (linux-x64) are downloaded
 * by its install script, which this repository's `.npmrc` skips (`onnxruntime-node-install=skip`: offline the
 * download fails and npm would drop the whole optional package).
 */
function cudaProviderReport(): CudaProviderReport | undefined {
  if (`${process.platform}-${process.arch}` !== 'linux-x64') return undefined;
  try {
    const pkg = createRequire(import.meta.url).resolve(`${onnxRuntimePackage()}/package.json`);
    const lib = join(dirname(pkg), 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so');
    if (existsSync(lib)) return { installed: true };
  } catch {
    return undefined;
  }
  return {
    installed: false,
    hint: `its libraries are not installed (the repository's .npmrc skips their download); with CUDA 12 and a network: ${CUDA_PROVIDER_INSTALL}`,
  };
}

function executorReport(): DoctorReport['executor'] {
  const load = loadOnnxRuntime(onnxRuntimePackage());
  if (!load.ok) return { auto: 'tfjs', reason: `ONNX Runtime not used: ${load.reason}` };
  const cuda = cudaProviderReport();
  return { auto: 'onnx', runtime: { version: load.runtime.version, providers: [...load.runtime.providers] }, ...(cuda ? { cuda } : {}) };
}

/**
 * Whether `name` resolves from here, and its version. Packages whose `exports` hide `package.json` (sharp) are
 * found through their entry point and the `package.json` above it.
 */
function installed(name: string): { name: string; installed: boolean; version?: string } {
  const require = createRequire(import.meta.url);
  const found = (version: string | undefined) => ({ name, installed: true, ...(version ? { version } : {}) });
  try {
    return found((require(`${name}/package.json`) as { version?: string }).version);
  } catch {
    // fall through to the entry point
  }
  try {
    let dir = dirname(require.resolve(name));
    for (;;) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return found(pkg.version);
      }
      const up = dirname(dir);
      if (up === dir) return found(undefined);
      dir = up;
    }
  } catch {
    return { name, installed: false };
  }
}

async function probe(backend: BackendName): Promise<DoctorBackend> {
  try {
    const r = await initNodeBackend(backend);
    const entry: DoctorBackend = { backend, available: true, detail: r.providedBy };
    if (backend === 'webgpu') {
      const info = webgpuDeviceInfo();
      const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator;
      const software = describeAdapter(await nav?.gpu?.requestAdapter()).software;
      if (info) entry.webgpu = { ...info, software };
    }
    if (backend === 'wasm') {
      entry.wasm = {
        simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true,
        threads: (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true,
      };
    }
    return entry;
  } catch (e) {
    const detail = e instanceof BackendStartError ? e.passedOver.map((p) => `${p.reason}: ${p.detail}`).join('; ') : (e as Error).message;
    return { backend, available: false, detail };
  }
}

function formatReport(r: DoctorReport): string {
  const lines = [`node ${r.node} on ${r.platform}`, '', 'backends:'];
  for (const b of r.backends) {
    lines.push(`  ${b.backend.padEnd(11)} ${b.available ? 'available' : 'not available'}  (${b.detail})`);
    if (b.webgpu) {
      const w = b.webgpu;
      lines.push(`    adapter: ${w.adapter} (${w.software ? 'software, slower than wasm: auto passes it over' : 'hardware'})`);
      lines.push(
        `    shader-f16: ${w.shaderF16 ? 'offered' : 'not offered'}; kernels compute in ${w.precision} (tfjs-backend-webgpu 4.22 has no half-precision kernels)`,
      );
      for (const [k, v] of Object.entries(w.limits)) {
        const d = w.defaults[k as keyof typeof w.defaults];
        lines.push(`    ${k}: ${v}${d !== undefined ? ` (WebGPU default ${d})` : ''}`);
      }
    }
    if (b.wasm) lines.push(`    SIMD: ${b.wasm.simd ? 'yes' : 'no'}, threads: ${b.wasm.threads ? 'yes' : 'no'}`);
  }
  const d = r.imageDecoder;
  lines.push('', `image decoder: ${d.decoder}${d.version ? ` (${d.version})` : ''}${d.reason ? ` (${d.reason})` : ''}`);
  const x = r.executor;
  lines.push(
    x.runtime
      ? `--executor auto: onnx (onnxruntime-node ${x.runtime.version}, cpu provider; the binary lists ${x.runtime.providers.join(', ')})`
      : `--executor auto: tfjs (${x.reason ?? ''})`,
  );
  if (x.cuda) lines.push(`  CUDA provider: ${x.cuda.installed ? 'libraries installed' : x.cuda.hint}`);
  lines.push('', 'packages:');
  for (const p of r.packages) lines.push(`  ${p.name.padEnd(32)} ${p.installed ? `installed ${p.version ?? ''}` : 'not installed'}`);
  lines.push('', `--backend auto: ${r.auto.chosen ?? 'nothing starts'}`);
  for (const p of r.auto.passedOver) lines.push(`  passed over ${p}`);
  return lines.join('\n');
}

export async function runDoctor(_flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  tf.enableProdMode();
  const backends: DoctorBackend[] = [];
  for (const b of ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const) {
    ctx.detail(`starting ${b}`);
    backends.push(await probe(b));
  }
  let auto: DoctorReport['auto'];
  try {
    const r = await initNodeBackend('auto', { autoOrder: CLI_AUTO_ORDER });
    auto = { chosen: r.chosen, passedOver: r.passedOver.map((p) => `${p.backend}: ${p.reason} (${p.detail})`) };
  } catch (e) {
    auto = {
      chosen: null,
      passedOver: e instanceof BackendStartError ? e.passedOver.map((p) => `${p.backend}: ${p.reason} (${p.detail})`) : [(e as Error).message],
    };
  }
  const report: DoctorReport = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backends,
    packages: PACKAGES.map(installed),
    auto,
    imageDecoder: await imageDecoderInfo(),
    executor: executorReport(),
  };
  ctx.result(report, formatReport(report));
  return auto.chosen ? EXIT.ok : EXIT.unavailable;
}

export function registerDoctor(program: Command, action: ActionFactory): void {
  program
    .command('doctor')
    .description(
      'start each backend and print what is available and why not: WebGPU adapter and limits, wasm SIMD and threads, the image decoder, what --executor auto runs the encoder on, optional packages, and what --backend auto chooses',
    )
    .option('--json', 'print the report as JSON on stdout')
    .option('--verbose', 'more detail')
    .action(action('doctor', runDoctor));
}
