// `hgm detect --queue` with `hgm worker` processes on a real redis-server (loopback, free port): results equal
// to a local `hgm detect`, a worker killed with SIGKILL mid-job, Redis restarted mid-run, a poisoned image
// failing after bounded retries, idempotent re-submission and `hgm queue status`, a worker on ONNX Runtime.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '@hgm/data';
import { loadOnnxRuntime } from '@hgm/onnx';
import { closedLoopbackPort } from '@hgm/tensor/testing';
import { ensureBuilt, runHgm, type RunResult } from '../test-support';
import { startHgm, stopProcess, tfjsUnlessNamed, trainTinyModel, type HgmProcess } from '../serve/serve-test-support';
import { RedisTestServer } from './redis-test-server';

let root: string;
let env: Record<string, string>;
let checkpoint: string;
let redis: RedisTestServer;
let imagesDir: string;
/** Local `hgm detect --batch-size 1` results by image path. */
const local = new Map<string, { score: number; maxMap: number }>();
const workers: HgmProcess[] = [];

/** Distinct, fairly large PNGs (decoding them takes long enough to kill a worker mid-job). */
async function writeImages(dir: string, count: number, side: number, seed: number): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (let k = 0; k < count; k++) {
    const data = new Uint8Array(side * side * 3);
    for (let i = 0; i < side * side; i++) {
      const x = i % side;
      const y = Math.floor(i / side);
      data[3 * i] = (x * (k + seed + 1) + y) & 255;
      data[3 * i + 1] = (y * 3 + k * 17) & 255;
      data[3 * i + 2] = Math.floor(128 + 100 * Math.sin((x + y * (k + 1)) / 37)) & 255;
    }
    const p = join(dir, `img${String(k).padStart(2, '0')}.png`);
    await writeFile(p, encodePng({ width: side, height: side, channels: 3, bitDepth: 8, data }));
    paths.push(p);
  }
  return paths;
}

/** A worker process; it encodes on tfjs (as the local reference run) unless `extra` names an executor. */
function worker(extra: string[] = []): HgmProcess {
  const w = startHgm(['worker', '--queue', redis.url, '--checkpoint', checkpoint, '--backend', 'cpu', '--lock-ms', '4000', ...tfjsUnlessNamed(extra)], env);
  workers.push(w);
  return w;
}

function detectQueued(out: string, extra: string[] = [], dir = imagesDir): Promise<RunResult> {
  return runHgm(['detect', dir, '--queue', redis.url, '--checkpoint', checkpoint, '--out', out, '--queue-timeout-s', '120', '--json', ...extra], {
    env,
    timeoutMs: 150_000,
  });
}

function rows(csv: string): string[][] {
  return csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}

beforeAll(async () => {
  ensureBuilt();
  root = await mkdtemp(join(tmpdir(), 'hgm-queue-'));
  env = { HGM_CACHE: join(root, 'cache'), HGM_OFFLINE: '1' };
  checkpoint = (await trainTinyModel(root, env)).checkpoint;
  imagesDir = join(root, 'images');
  await writeImages(imagesDir, 10, 256, 0);
  const det = await runHgm(
    ['detect', imagesDir, '--checkpoint', checkpoint, '--out', join(root, 'local'), '--batch-size', '1', '--backend', 'cpu', '--executor', 'tfjs', '--json'],
    { env },
  );
  expect(det.code, det.stderr).toBe(0);
  for (const d of (JSON.parse(det.stdout) as { detections: { image: string; score: number; maxMap: number }[] }).detections) local.set(d.image, d);
  await mkdir(join(root, 'redis'));
  redis = await RedisTestServer.start(join(root, 'redis'));
}, 240_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => stopProcess(w)));
  await redis?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('hgm detect --queue with hgm worker', () => {
  it('loses no image and writes no duplicate row when a worker is killed mid-job; results equal a local run', async () => {
    const victim = worker();
    const others = [worker(), worker()];
    await Promise.all([victim, ...others].map((w) => w.waitFor(/worker: backend cpu/)));
    const out = join(root, 'queued');
    const run = detectQueued(out);
    const started = await victim.waitFor(/job (\S+) started/);
    victim.child.kill('SIGKILL');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect((await victim.exited).signal).toBe('SIGKILL');
    const killedJob = started[1]!;
    // The job the killed worker held was taken up again by another worker (stalled-job handling).
    expect(others.some((w) => w.stderr().includes(`job ${killedJob} done`))).toBe(true);
    const csvRows = rows(await readFile(join(out, 'scores.csv'), 'utf8'));
    expect(csvRows).toHaveLength(local.size);
    expect(new Set(csvRows.map((row) => row[0])).size).toBe(local.size);
    const result = JSON.parse(r.stdout) as { detections: { image: string; score: number; maxMap: number }[] };
    expect(result.detections.map((d) => d.image).sort()).toEqual([...local.keys()].sort());
    for (const d of result.detections) {
      expect(d.score).toBe(local.get(d.image)!.score);
      expect(d.maxMap).toBe(local.get(d.image)!.maxMap);
    }
    const status = await runHgm(['queue', 'status', '--queue', redis.url, '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    const counts = JSON.parse(status.stdout) as { completed: number; failed: number; waiting: number; active: number; progress: number };
    expect(counts).toMatchObject({ completed: local.size, failed: 0, waiting: 0, active: 0, progress: 1 });
    // Submitting the same images again adds no job and gives the same table.
    const again = await detectQueued(out);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse((await runHgm(['queue', 'status', '--queue', redis.url, '--json'], { env })).stdout)).toMatchObject({ completed: local.size });
    expect(rows(await readFile(join(out, 'scores.csv'), 'utf8'))).toEqual(csvRows);
  });

  it('fails a poisoned image with its reason after bounded retries while the rest complete', async () => {
    const dir = join(root, 'poisoned');
    const good = await writeImages(dir, 3, 64, 7);
    await writeFile(join(dir, 'broken.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]));
    if (workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).length === 0) worker();
    const strict = await detectQueued(join(root, 'poisoned-out'), [], dir);
    expect(strict.code).toBe(65);
    expect(strict.stderr).toMatch(/1 of 4 images failed after 3 attempts/);
    const lenient = await detectQueued(join(root, 'poisoned-out'), ['--skip-corrupt'], dir);
    expect(lenient.code, lenient.stderr).toBe(0);
    const result = JSON.parse(lenient.stdout) as { detections: { image: string }[]; skipped: { image: string; reason: string }[] };
    expect(result.detections.map((d) => d.image).sort()).toEqual(good.sort());
    expect(result.skipped).toHaveLength(1);
    expect(result.skipped[0]!.reason).toMatch(/broken\.png/);
    const status = JSON.parse((await runHgm(['queue', 'status', '--queue', redis.url, '--json'], { env })).stdout) as {
      failed: number;
      failedJobs: { reason: string }[];
    };
    expect(status.failed).toBe(1);
    expect(status.failedJobs[0]!.reason).toMatch(/broken\.png/);
  });

  it('rides out a Redis restart mid-run: workers reconnect and finish (a worker on ONNX Runtime gives the local scores)', async () => {
    // the reference images again, into another output folder (so new jobs), for one worker alone (the earlier
    // ones stopped): it encodes on ONNX Runtime where that loads, within the parity tolerance of the local tfjs run
    const onnx = loadOnnxRuntime().ok;
    await Promise.all(workers.map((x) => stopProcess(x)));
    const w = worker(onnx ? ['--executor', 'onnx', '--threads', '1'] : []);
    await w.waitFor(/worker: backend cpu/);
    expect(w.stderr()).toMatch(onnx ? /worker: backend cpu, executor onnx,/ : /worker: backend cpu, executor tfjs,/);
    const run = detectQueued(join(root, 'restart-out'), ['--executor', 'onnx', '--backend', 'wasm']);
    await w.waitFor(/job \S+ done/);
    await redis.restart();
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    // options that only the workers can honour are named, not silently dropped
    expect(r.stderr).toContain('--backend, --executor have no effect with --queue: each worker loads the model and encodes the images with its own');
    const result = JSON.parse(r.stdout) as { detections: { image: string; score: number; maxMap: number }[] };
    expect(result.detections.map((d) => d.image).sort()).toEqual([...local.keys()].sort());
    for (const d of result.detections) {
      expect(Math.abs(d.score - local.get(d.image)!.score)).toBeLessThan(1e-4);
      expect(Math.abs(d.maxMap - local.get(d.image)!.maxMap)).toBeLessThan(1e-4);
    }
    expect(rows(await readFile(join(root, 'restart-out', 'scores.csv'), 'utf8'))).toHaveLength(local.size);
  });

  it('refuses --map-scale run with --queue before queueing anything', async () => {
    const r = await detectQueued(join(root, 'run-scale'), ['--map-scale', 'run']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--map-scale run is not available with --queue');
  });

  it('a queue nobody listens on: detect --queue, eval --queue and queue status exit 69 within 10 s with one line', async () => {
    const port = await closedLoopbackPort();
    const url = `redis://127.0.0.1:${port}`;
    const runs = [
      ['detect', imagesDir, '--checkpoint', checkpoint, '--out', join(root, 'closed-detect'), '--queue', url],
      ['eval', '--data', imagesDir, '--checkpoint', checkpoint, '--out', join(root, 'closed-eval'), '--queue', url],
      ['queue', 'status', '--queue', url],
    ];
    for (const args of runs) {
      const t0 = Date.now();
      const r = await runHgm(args, { env });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(69);
      expect(Date.now() - t0, args[0]).toBeLessThan(10_000);
      expect(r.stderr).toContain(`option --queue: cannot reach Redis at 127.0.0.1:${port} (ECONNREFUSED)`);
      expect(r.stderr.match(/ECONNREFUSED/g)).toHaveLength(1);
    }
  });

  it('refuses a URL that is not redis://', async () => {
    const r = await runHgm(['worker', '--queue', 'http://127.0.0.1:1', '--checkpoint', checkpoint, '--backend', 'cpu'], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/expected a redis:\/\/ or rediss:\/\/ URL, found protocol "http:"/);
  });
});
