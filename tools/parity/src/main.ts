/**
 * `npm run parity -- <folder> [<folder> ...] [--backend cpu|wasm|webgpu]`: runs every golden fixture at or
 * below each folder with the kind named in its fixture.json, prints a table per fixture and ends with
 * `parity: N passed, M failed`. Exit code 1 when anything failed.
 */
import { initNodeBackend } from '@hgm/tensor/node';
import type { BackendRequest } from '@hgm/tensor';
import { runParity, formatFixture, countResults, type FixtureResult } from './run-parity';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let backend: BackendRequest = 'wasm';
  const folders: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--backend') backend = args[++i] as BackendRequest;
    else if (a.startsWith('--backend=')) backend = a.slice('--backend='.length) as BackendRequest;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run parity -- <fixture folder> [...] [--backend cpu|wasm|webgpu|auto]');
      return 0;
    } else folders.push(a);
  }
  if (folders.length === 0) folders.push('fixtures');
  const report = await initNodeBackend(backend, { wasmThreads: 1 });
  console.log(`backend: ${report.chosen}`);
  const all: FixtureResult[] = [];
  for (const folder of folders) {
    try {
      all.push(...(await runParity(folder, (r) => console.log(formatFixture(r)))));
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
