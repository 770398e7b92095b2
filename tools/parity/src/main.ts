/**
 * `npm run parity -- <folder> [<folder> ...] [--backend cpu|wasm|webgpu] [--executor tfjs|onnx|onnx-webgpu]`: runs every golden fixture at or
 * below each folder with the kind named in its fixture.json, prints a table per fixture and ends with
 * `parity: N passed, M failed`. Exit code 1 when anything failed. With `--executor onnx` (CPU provider) or
 * `onnx-webgpu` (WebGPU provider) the vision encoders of the openai-clip, anomalyclip, dinov2 and dinov3 kinds
 * run as ONNX graphs in onnxruntime-node, and so does CLIP's text tower of openai-clip and anomalyclip.
 */
import { initNodeBackend } from '@hgm/tensor/node';
import type { BackendRequest } from '@hgm/tensor';
import { loadOnnxRuntime } from '@hgm/onnx';
import { runParity, formatFixture, countResults, type FixtureResult, type ParityExecutor } from './run-parity';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let backend: BackendRequest = 'wasm';
  let executor: ParityExecutor = 'tfjs';
  const folders: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--backend') backend = args[++i] as BackendRequest;
    else if (a.startsWith('--backend=')) backend = a.slice('--backend='.length) as BackendRequest;
    else if (a === '--executor' || a.startsWith('--executor=')) {
      const e = a === '--executor' ? args[++i] : a.slice('--executor='.length);
      if (e !== 'tfjs' && e !== 'onnx' && e !== 'onnx-webgpu') {
        console.error(`--executor: expected tfjs, onnx or onnx-webgpu, found ${JSON.stringify(e)}`);
        return 2;
      }
      executor = e;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: npm run parity -- <fixture folder> [...] [--backend cpu|wasm|webgpu|auto] [--executor tfjs|onnx|onnx-webgpu]');
      return 0;
    } else folders.push(a);
  }
  if (folders.length === 0) folders.push('fixtures');
  const report = await initNodeBackend(backend, { wasmThreads: 1 });
  console.log(`backend: ${report.chosen}`);
  if (executor !== 'tfjs') {
    const ort = loadOnnxRuntime();
    if (!ort.ok) {
      console.error(`--executor ${executor}: ${ort.reason}`);
      return 2;
    }
    const provider = executor === 'onnx-webgpu' ? 'webgpu' : 'cpu';
    if (!ort.runtime.providers.includes(provider)) {
      console.error(
        `--executor ${executor}: onnxruntime-node ${ort.runtime.version} has no ${provider} execution provider here (it has ${ort.runtime.providers.join(', ')})`,
      );
      return 2;
    }
    console.log(`executor: ${executor} (onnxruntime-node ${ort.runtime.version}, ${provider}; the vision encoders and CLIP's text tower)`);
  }
  const all: FixtureResult[] = [];
  for (const folder of folders) {
    try {
      all.push(...(await runParity(folder, (r) => console.log(formatFixture(r)), { executor })));
    } catch (e) {
      console.error((e as Error).message);
      all.push({ folder, kind: '?', rows: [], error: (e as Error).message });
    }
  }
  const { passed, failed } = countResults(all);
  console.log(`\nparity: ${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
