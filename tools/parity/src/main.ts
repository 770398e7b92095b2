/**
 * `npm run parity -- <folder> [<folder> ...] [--backend cpu|wasm|webgpu] [--executor tfjs|onnx]`: runs every golden fixture at or
 * below each folder with the kind named in its fixture.json, prints a table per fixture and ends with
 * `parity: N passed, M failed`. Exit code 1 when anything failed. With `--executor onnx` the vision encoders
 * of the openai-clip, anomalyclip, dinov2 and dinov3 kinds run as ONNX graphs in onnxruntime-node.
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
      if (e !== 'tfjs' && e !== 'onnx') {
        console.error(`--executor: expected tfjs or onnx, found ${JSON.stringify(e)}`);
        return 2;
      }
      executor = e;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: npm run parity -- <fixture folder> [...] [--backend cpu|wasm|webgpu|auto] [--executor tfjs|onnx]');
      return 0;
    } else folders.push(a);
  }
  if (folders.length === 0) folders.push('fixtures');
  const report = await initNodeBackend(backend, { wasmThreads: 1 });
  console.log(`backend: ${report.chosen}`);
  if (executor === 'onnx') {
    const ort = loadOnnxRuntime();
    if (!ort.ok) {
      console.error(`--executor onnx: ${ort.reason}`);
      return 2;
    }
    console.log(`executor: onnx (onnxruntime-node ${ort.runtime.version}, cpu)`);
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
