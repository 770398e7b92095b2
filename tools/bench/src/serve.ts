/**
 * `npm run bench -- serve [--models tiny,vit-b] [--executors tfjs,onnx] [--connections 1,8,32] [--duration 10]
 *  [--backend wasm] [--threads 0]`
 *
 * Starts `hgm serve` (the command line from its sources) on 127.0.0.1 with a model of seeded random
 * weights saved as a checkpoint (nothing is downloaded), and drives POST /v1/detect with autocannon at
 * each number of concurrent clients for `--duration` seconds (bounded: autocannon stops at the end, and
 * each request times out after 120 s). Prints one row per (model, clients): requests/s, p50 and p99
 * latency, non-2xx answers, the mean batch size the service formed (including the requests still in flight
 * when the row ended: the next row starts once the service is idle), and the resident memory of the
 * service before and after (from its /metrics). Each executor of the frozen encoder (`hgm serve --executor`)
 * gets its own service; the one it actually ran is read back from /readyz (an executor that cannot run there
 * is reported and skipped).
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
  executors: string[];
  connections: number[];
  duration: number;
  backend: string;
  threads: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { models: ['tiny', 'vit-b'], executors: ['tfjs', 'onnx'], connections: [1, 8, 32], duration: 10, backend: 'wasm', threads: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`serve: ${a} needs a value`);
    if (a === '--models') {
      o.models = v.split(',');
      for (const m of o.models)
        if (!MODELS[m]) throw new Error(`serve: --models: unknown model ${JSON.stringify(m)}, expected ${Object.keys(MODELS).join(', ')}`);
    } else if (a === '--executors') {
      // each name goes to `hgm serve --executor`, which refuses an unknown one (that executor's rows are skipped, saying why)
      o.executors = v.split(',');
    } else if (a === '--threads') {
      o.threads = Number(v);
      if (!Number.isInteger(o.threads) || o.threads < 0) throw new Error(`serve: --threads must be an integer >= 0, found ${v}`);
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

async function startServer(checkpoint: string, o: Options, executor: string): Promise<{ child: ChildProcess; url: string }> {
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
      o.backend,
      '--executor',
      executor,
      '--threads',
      String(o.threads),
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

/** The service's Prometheus samples without labels, read in one request (so that they belong together). */
async function metrics(url: string): Promise<Map<string, number>> {
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
  const samples = new Map<string, number>();
  for (const m of text.matchAll(/^(hgm_[a-z_]+) ([0-9.e+-]+)$/gm)) samples.set(m[1]!, Number(m[2]));
  return samples;
}

/**
 * Waits until the requests autocannon left in flight at the end of a row are done, so that they count
 * neither in the next row's latency nor in its batches: the service answers /metrics between forward passes,
 * so two answers in a row with no image waiting mean that it is idle.
 */
async function settle(url: string): Promise<void> {
  let idle = 0;
  for (let i = 0; i < 600 && idle < 2; i++) {
    idle = (await metrics(url)).get('hgm_queue_depth') === 0 ? idle + 1 : 0;
    await new Promise((r) => setTimeout(r, 100));
  }
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
      for (const requested of o.executors) {
        let server: { child: ChildProcess; url: string };
        try {
          server = await startServer(checkpoint, o, requested);
        } catch (e) {
          console.error(`${name}, --executor ${requested}: skipped: ${(e as Error).message.split('\n').slice(0, 4).join(' ')}`);
          continue;
        }
        const { child, url } = server;
        try {
          const ready = (await (await fetch(`${url}/readyz`)).json()) as { executor?: string; executorReason?: string };
          const executor = ready.executor ?? 'tfjs';
          if (ready.executorReason && requested !== 'tfjs') console.error(`${name}, --executor ${requested}: ${ready.executorReason}`);
          const warm = await fetch(`${url}/v1/detect`, { method: 'POST', body, headers: { 'content-type': 'image/png' } });
          if (warm.status !== 200) throw new Error(`warm-up request: status ${warm.status}: ${await warm.text()}`);
          const rssBefore = (await metrics(url)).get('hgm_process_resident_memory_bytes') ?? NaN;
          for (const connections of o.connections) {
            const before = await metrics(url);
            const r = await autocannon({
              url: `${url}/v1/detect`,
              method: 'POST',
              body,
              headers: { 'content-type': 'image/png' },
              connections,
              duration: o.duration,
              timeout: 120,
            });
            await settle(url);
            const after = await metrics(url);
            const count = (name: string) => (after.get(name) ?? NaN) - (before.get(name) ?? NaN);
            const batches = count('hgm_batch_size_count');
            const images = count('hgm_batch_size_sum');
            const rss = after.get('hgm_process_resident_memory_bytes') ?? NaN;
            const ok = r['2xx'];
            rows.push(
              `| ${name} | ${formatImageSize(size)} | ${executor} | ${connections} | ${ok} | ${(ok / r.duration).toFixed(2)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx + r.errors + r.timeouts} | ${batches > 0 ? (images / batches).toFixed(1) : '-'} | ${mib(rssBefore)} | ${mib(rss)} |`,
            );
            console.error(rows[rows.length - 1]);
          }
        } finally {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('close', r));
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const threads = o.threads === 0 ? 'every core' : `${o.threads} thread${o.threads === 1 ? '' : 's'}`;
  console.log(
    `\nhgm serve, POST /v1/detect over loopback, ${o.duration} s per row, backend ${o.backend}, ONNX Runtime on ${threads}, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log('| model | px | executor | clients | requests | req/s | p50 ms | p99 ms | errors | mean batch | RSS before MiB | RSS after MiB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}
