// `hgm eval --queue` with two `hgm worker` processes on a real redis-server (loopback, free port): the merged
// shards give exactly the tables, scores and maps of a local `hgm eval`, also when a worker is killed with
// SIGKILL mid-run; submitting again adds no job; `hgm queue status` counts the eval jobs.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { writeSyntheticDataset } from '@hgm/data/node';
import { ensureBuilt, runHgm, type RunResult } from '../test-support';
import { startHgm, stopProcess, trainTinyModel, type HgmProcess } from '../serve/serve-test-support';
import { RedisTestServer } from './redis-test-server';

let root: string;
let env: Record<string, string>;
let checkpoint: string;
let redis: RedisTestServer;
let evalData: string;
const localOut = () => join(root, 'local');
const workers: HgmProcess[] = [];

function worker(): HgmProcess {
  // a feature cache of their own: the workers encode the images themselves, in other batches than the local run,
  // and on tfjs as it does (ONNX Runtime agrees within 1e-6, not to the bit)
  const w = startHgm(
    [
      'worker',
      '--queue',
      redis.url,
      '--checkpoint',
      checkpoint,
      '--backend',
      'cpu',
      '--executor',
      'tfjs',
      '--lock-ms',
      '4000',
      '--cache-dir',
      join(root, 'worker-cache'),
    ],
    env,
  );
  workers.push(w);
  return w;
}

function evalQueued(out: string, extra: string[] = []): Promise<RunResult> {
  return runHgm(
    [
      'eval',
      '--queue',
      redis.url,
      '--data',
      evalData,
      '--checkpoint',
      checkpoint,
      '--out',
      out,
      '--batch-size',
      '2',
      '--shard-size',
      '2',
      '--queue-timeout-s',
      '120',
      '--json',
      ...extra,
    ],
    { env, timeoutMs: 150_000 },
  );
}

/** Every file under a folder (relative path -> bytes), leaving out the shard states. */
async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const rel = relative(dir, join(e.parentPath, e.name));
    if (e.isFile() && !rel.startsWith('shards')) out.set(rel, await readFile(join(dir, rel)));
  }
  return out;
}

beforeAll(async () => {
  ensureBuilt();
  root = await mkdtemp(join(tmpdir(), 'hgm-eval-queue-'));
  env = { HGM_CACHE: join(root, 'cache'), HGM_OFFLINE: '1' };
  checkpoint = (await trainTinyModel(root, env)).checkpoint;
  // two categories of 7 test images each (larger than the model's input, so a job takes a moment)
  evalData = join(root, 'eval-data');
  await writeSyntheticDataset(evalData, {
    seed: 6,
    size: 160,
    domains: ['wood', 'cap'],
    kinds: ['scratch', 'stain'],
    trainGood: 1,
    testGood: 3,
    testPerKind: 2,
  });
  const local = await runHgm(
    ['eval', '--data', evalData, '--checkpoint', checkpoint, '--out', localOut(), '--batch-size', '2', '--backend', 'cpu', '--executor', 'tfjs', '--json'],
    {
      env,
    },
  );
  expect(local.code, local.stderr).toBe(0);
  await mkdir(join(root, 'redis'));
  redis = await RedisTestServer.start(join(root, 'redis'));
}, 240_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => stopProcess(w)));
  await redis?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('hgm eval --queue with hgm worker', () => {
  it('merges the shards into exactly the local tables, scores and maps, also when a worker is killed mid-run', async () => {
    const victim = worker();
    const other = worker();
    await Promise.all([victim, other].map((w) => w.waitFor(/worker: backend cpu/)));
    const out = join(root, 'queued');
    const run = evalQueued(out);
    const started = await victim.waitFor(/job (\S+) started: eval shard/);
    victim.child.kill('SIGKILL');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect((await victim.exited).signal).toBe('SIGKILL');
    const killedJob = started[1]!;
    // the shard the killed worker held was taken up again by the other one (unless it had finished it first)
    if (!victim.stderr().includes(`job ${killedJob} done`)) expect(other.stderr()).toContain(`job ${killedJob} done`);
    const result = JSON.parse(r.stdout) as { shards: number; categories: { category: string; images: number }[] };
    expect(result.shards).toBe(8);
    expect(result.categories.map((c) => [c.category, c.images])).toEqual([
      ['cap', 7],
      ['wood', 7],
    ]);
    // metrics.{md,csv,json}, scores.csv, colorbar and every map: byte for byte the local run's
    const local = await files(localOut());
    const queued = await files(out);
    expect([...queued.keys()].sort()).toEqual([...local.keys()].sort());
    expect(local.size).toBe(4 + 1 + 2 * 14);
    for (const [k, v] of local) expect(queued.get(k)!.toString('latin1'), k).toBe(v.toString('latin1'));
    const metrics = JSON.parse(local.get('metrics.json')!.toString()) as { categories: { metrics: Record<string, { value?: number }> }[] };
    expect(metrics.categories.every((c) => Object.values(c.metrics).every((m) => typeof m.value === 'number'))).toBe(true);
    expect((await readdir(join(out, 'shards'))).filter((f) => f.endsWith('.state'))).toHaveLength(8);

    const status = await runHgm(['queue', 'status', '--queue', redis.url, '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ completed: 8, failed: 0, waiting: 0, active: 0, progress: 1 });
    // submitting the same evaluation again adds no job and writes the same tables
    const again = await evalQueued(out);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse((await runHgm(['queue', 'status', '--queue', redis.url, '--json'], { env })).stdout)).toMatchObject({ completed: 8 });
    expect(await readFile(join(out, 'metrics.json'), 'utf8')).toBe(local.get('metrics.json')!.toString());
    expect(await readFile(join(out, 'scores.csv'), 'utf8')).toBe(local.get('scores.csv')!.toString());
  });

  it('fails the evaluation naming a shard that failed after bounded retries; queue status lists it', async () => {
    const data = join(root, 'poisoned-data');
    await writeSyntheticDataset(data, { seed: 8, size: 32, domains: ['wood'], kinds: ['scratch'], trainGood: 1, testGood: 3, testPerKind: 1 });
    await writeFile(
      join(data, 'wood', 'test', 'good', '002.png'),
      Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]),
    );
    if (workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) worker();
    const r = await runHgm(
      [
        'eval',
        '--queue',
        redis.url,
        '--data',
        data,
        '--checkpoint',
        checkpoint,
        '--out',
        join(root, 'poisoned-out'),
        '--batch-size',
        '2',
        '--queue-timeout-s',
        '120',
      ],
      { env, timeoutMs: 150_000 },
    );
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr).toMatch(/1 of 1 evaluation shard failed after 3 attempts, so the metrics cannot be computed \(first: shard 1, wood: .*002\.png/);
    const status = JSON.parse((await runHgm(['queue', 'status', '--queue', redis.url, '--json'], { env })).stdout) as {
      failed: number;
      failedJobs: { kind: string; job: string; reason: string }[];
    };
    expect(status.failed).toBe(1);
    expect(status.failedJobs[0]).toMatchObject({ kind: 'eval', job: 'eval shard 1 of 1 (wood, 4 images)' });
    expect(status.failedJobs[0]!.reason).toMatch(/002\.png/);
  });

  it('refuses a shard size that would batch the images differently from a local run', async () => {
    const r = await evalQueued(join(root, 'odd'), ['--shard-size', '3']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--shard-size 3 is not a multiple of --batch-size 2/);
  });
});
