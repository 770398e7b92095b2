/**
 * `npm run bench -- serve [--models tiny,vit-b] [--connections 1,8,32] [--duration 10] [--backend wasm]`
 *
 * Starts `hgm serve` (the command line from its sources) on 127.0.0.1 with a model of seeded random
 * weights saved as a checkpoint (nothing is downloaded), and drives POST /v1/detect with autocannon at
 * each number of concurrent clients for `--duration` seconds (bounded: autocannon stops at the end, and
 * each request times out after 120 s). Prints one row per (model, clients): requests/s, p50 and p99
 * latency, non-2xx answers, the mean batch size the service formed, and the resident memory of the
 * service before and after (from its /metrics).
 *
 * Models: `tiny` (the tiny preset, 32 px) and `vit-b` (a DINOv3 ViT-B/16-sized backbone at 224 px: 768
 * wide, 12 blocks, 12 heads), both with the tiny text tower.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { encodePng } from '@hgm/data';
import { formatImageSize, imageHW, type ImageSize } from '@hgm/tensor';
import { initNodeBackend } from '@hgm/tensor/node';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { TINY_CONFIG, buildRandomModel, mergeConfigInput, resolveConfig, type DualAnchorConfigInput } from '@hgm/dual-anchor';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const MODELS: Record<string, DualAnchorConfigInput> = {
  tiny: TINY_CONFIG,
  'vit-b': mergeConfigInput(TINY_CONFIG, {
    name: 'dual-anchor ViT-B/16 (random weights)',
    backbone: {
      kind: 'dinov3',
      config: { imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, numStorageTokens: 4, preprocess: { size: 224 } as never },
    },
    layers: [4, 8, 11],
    imageSize: 224,
  }),
};

interface Options {
  models: string[];
  connections: number[];
  duration: number;
  backend: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { models: ['tiny', 'vit-b'], connections: [1, 8, 32], duration: 10, backend: 'wasm' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`serve: ${a} needs a value`);
    if (a === '--models') {
      o.models = v.split(',');
      for (const m of o.models)
        if (!MODELS[m]) throw new Error(`serve: --models: unknown model ${JSON.stringify(m)}, expected ${Object.keys(MODELS).join(', ')}`);
    } else if (a === '--connections') {
      o.connections = v.split(',').map(Number);
      if (o.connections.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`serve: --connections must be positive integers, found ${v}`);
    } else if (a === '--duration') {
      o.duration = Number(v);
      if (!(o.duration > 0 && o.duration <= 600)) throw new Error(`serve: --duration must be in (0, 600] seconds, found ${v}`);
    } else if (a === '--backend') o.backend = v;
    else throw new Error(`serve: unknown option ${a}`);
  }
  return o;
}

/** Saves a model with seeded random frozen weights as `hgm train` would (the service rebuilds it from the seed). */
async function writeCheckpoint(config: DualAnchorConfigInput, path: string): Promise<ImageSize> {
  const model = buildRandomModel(config, await loadClipTokenizer(), { backboneSeed: 0 });
  try {
    await writeFile(path, await model.params.saveTrainable(model.config, { kind: 'dual-anchor', 'hgm.frozen': JSON.stringify({ kind: 'random', seed: 0 }) }));
  } finally {
    model.dispose();
  }
  return resolveConfig(config).imageSize;
}

function testImage(size: ImageSize): Uint8Array {
  const [height, width] = imageHW(size);
  const data = new Uint8Array(height * width * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 5)) & 255;
  return encodePng({ width, height, channels: 3, bitDepth: 8, data });
}

async function startServer(checkpoint: string, backend: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@hgm/source',
      '--import',
      'tsx',
      join(repoRoot, 'apps/cli/src/main.ts'),
      'serve',
      '--checkpoint',
      checkpoint,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--backend',
      backend,
      '--log-level',
      'error',
      '--max-queue',
      '256',
      '--timeout-ms',
      '120000',
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, HGM_OFFLINE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let text = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hgm serve did not start within 300 s:\n${text}`)), 300_000);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = text.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`hgm serve exited with ${code}:\n${text}`));
    });
  });
  return { child, url };
}

async function metric(url: string, name: string): Promise<number> {
  let text = '';
  for (let attempt = 1; ; attempt++) {
    try {
      text = await (await fetch(`${url}/metrics`)).text();
      break;
    } catch (e) {
      // A connection autocannon left half-closed can be reset; a fresh one answers.
      if (attempt === 3) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const m = text.match(new RegExp(`^${name} ([0-9.e+-]+)`, 'm'));
  return m ? Number(m[1]) : NaN;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(0);

export async function run(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  // Only to build the checkpoints here; the service starts its own backend.
  await initNodeBackend('cpu');
  const dir = await mkdtemp(join(tmpdir(), 'hgm-bench-serve-'));
  const rows: string[] = [];
  try {
    for (const name of o.models) {
      const checkpoint = join(dir, `${name}.safetensors`);
      const size = await writeCheckpoint(MODELS[name]!, checkpoint);
      const body = Buffer.from(testImage(size));
      const { child, url } = await startServer(checkpoint, o.backend);
      try {
        const warm = await fetch(`${url}/v1/detect`, { method: 'POST', body, headers: { 'content-type': 'image/png' } });
        if (warm.status !== 200) throw new Error(`warm-up request: status ${warm.status}: ${await warm.text()}`);
        const rssBefore = await metric(url, 'hgm_process_resident_memory_bytes');
        for (const connections of o.connections) {
          const batchesBefore = await metric(url, 'hgm_batch_size_count');
          const imagesBefore = await metric(url, 'hgm_batch_size_sum');
          const r = await autocannon({
            url: `${url}/v1/detect`,
            method: 'POST',
            body,
            headers: { 'content-type': 'image/png' },
            connections,
            duration: o.duration,
            timeout: 120,
          });
          const batches = (await metric(url, 'hgm_batch_size_count')) - batchesBefore;
          const images = (await metric(url, 'hgm_batch_size_sum')) - imagesBefore;
          const rss = await metric(url, 'hgm_process_resident_memory_bytes');
          const ok = r['2xx'];
          rows.push(
            `| ${name} | ${formatImageSize(size)} | ${connections} | ${ok} | ${(ok / r.duration).toFixed(2)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx + r.errors + r.timeouts} | ${batches > 0 ? (images / batches).toFixed(1) : '-'} | ${mib(rssBefore)} | ${mib(rss)} |`,
          );
          console.error(rows[rows.length - 1]);
        }
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('close', r));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`\nhgm serve, POST /v1/detect over loopback, ${o.duration} s per row, backend ${o.backend}, load average ${loadavg()[0]!.toFixed(1)}`);
  console.log('| model | px | clients | requests | req/s | p50 ms | p99 ms | errors | mean batch | RSS before MiB | RSS after MiB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}
