// `hgm serve` end to end: the real server on 127.0.0.1 answered by a real HTTP client (fetch). Every
// endpoint, bad inputs, the limits (queue full, timeout), a shutdown with requests in flight, scores
// equal to `hgm detect`'s, and the encoder on ONNX Runtime.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '@hgm/data';
import { loadOnnxRuntime } from '@hgm/onnx';
import { ensureBuilt, runHgm } from '../test-support';
import { startServe, stopProcess, trainTinyModel, type HgmProcess } from './serve-test-support';

let root: string;
let env: Record<string, string>;
let checkpoint: string;
let images: string[];
let server: { proc: HgmProcess; url: string };
/** `hgm detect --batch-size 1` scores by image path. */
const local = new Map<string, { score: number; maxMap: number; heatmap: string }>();

async function post(
  url: string,
  body: Uint8Array | string | FormData,
  contentType?: string,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body: body as BodyInit, headers: contentType ? { 'content-type': contentType } : {} });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${url}: status ${res.status}, body is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, json, headers: res.headers };
}

beforeAll(async () => {
  ensureBuilt();
  root = await mkdtemp(join(tmpdir(), 'hgm-serve-'));
  env = { HGM_CACHE: join(root, 'cache'), HGM_OFFLINE: '1' };
  const trained = await trainTinyModel(root, env);
  checkpoint = trained.checkpoint;
  const det = await runHgm(
    [
      'detect',
      join(trained.data, 'wood', 'test'),
      '--checkpoint',
      checkpoint,
      '--out',
      join(root, 'local'),
      '--batch-size',
      '1',
      '--threshold',
      '0.5',
      '--backend',
      'cpu',
      '--executor',
      'tfjs',
      '--json',
    ],
    { env },
  );
  expect(det.code, det.stderr).toBe(0);
  for (const d of (JSON.parse(det.stdout) as { detections: { image: string; score: number; maxMap: number; heatmap: string }[] }).detections)
    local.set(d.image, d);
  images = [...local.keys()];
  server = await startServe(checkpoint, ['--batch-size', '4', '--body-limit', '300000', '--max-pixels', '250000'], env);
}, 240_000);

afterAll(async () => {
  if (server) await stopProcess(server.proc);
  await rm(root, { recursive: true, force: true });
});

describe('hgm serve', () => {
  it('answers /healthz, /readyz (naming the backend and the executor), /metrics and /docs/json', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as Record<string, unknown>;
    expect(ready).toMatchObject({ status: 'ready', backend: 'cpu', executor: 'tfjs', imageSize: 32, batchSize: 4 });
    expect(ready['executorReason']).toBe('asked for with --executor tfjs');
    const docs = (await (await fetch(`${server.url}/docs/json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(docs.openapi).toMatch(/^3\./);
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/v1/detect', '/v1/detect/batch', '/healthz', '/readyz', '/metrics']));
    await post(`${server.url}/v1/detect`, await readFile(images[0]!), 'image/png');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of [
      'hgm_http_requests_total',
      'hgm_http_request_duration_seconds_bucket',
      'hgm_batch_size_bucket',
      'hgm_images_total',
      'hgm_images_per_second',
      'hgm_process_resident_memory_bytes',
      'hgm_queue_depth',
    ]) {
      expect(metrics).toContain(name);
    }
  });

  it('gives the scores, map maxima and heat maps of hgm detect, for single, concurrent, multipart and batch requests', async () => {
    for (const image of images) {
      const r = await post(`${server.url}/v1/detect?threshold=0.5&include=heatmap,overlay`, await readFile(image), 'image/png');
      expect(r.status).toBe(200);
      const want = local.get(image)!;
      expect(r.json['score']).toBeCloseTo(want.score, 6);
      expect(r.json['maxMap']).toBeCloseTo(want.maxMap, 6);
      expect(r.json['anomalous']).toBe(want.score >= 0.5);
      expect(Buffer.from(r.json['heatmap'] as string, 'base64').equals(await readFile(want.heatmap))).toBe(true);
      expect(
        Buffer.from(r.json['overlay'] as string, 'base64')
          .subarray(0, 4)
          .toString('latin1'),
      ).toBe('\x89PNG');
    }
    const concurrent = await Promise.all(
      images.concat(images).map(async (image) => ({ image, r: await post(`${server.url}/v1/detect`, await readFile(image), 'application/octet-stream') })),
    );
    for (const { image, r } of concurrent) expect(r.json['score']).toBeCloseTo(local.get(image)!.score, 6);
    const single = new FormData();
    single.append('threshold', '0.25');
    single.append('image', new Blob([await readFile(images[1]!)], { type: 'image/png' }), 'one.png');
    const m = await post(`${server.url}/v1/detect`, single);
    expect(m.status).toBe(200);
    expect(m.json).toMatchObject({ image: 'one.png', threshold: 0.25 });
    expect(m.json['score']).toBeCloseTo(local.get(images[1]!)!.score, 6);
    const batch = new FormData();
    for (const image of images.slice(0, 3)) batch.append('images', new Blob([await readFile(image)], { type: 'image/png' }), image.split('/').pop()!);
    const b = await post(`${server.url}/v1/detect/batch`, batch);
    expect(b.status).toBe(200);
    const dets = b.json['detections'] as { score: number }[];
    expect(dets).toHaveLength(3);
    dets.forEach((d, i) => expect(d.score).toBeCloseTo(local.get(images[i]!)!.score, 6));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = Number(metrics.match(/^hgm_batch_size_count (\d+)/m)![1]);
    const sum = Number(metrics.match(/^hgm_batch_size_sum (\d+)/m)![1]);
    // The concurrent requests were micro-batched: fewer forward passes than images.
    expect(count).toBeLessThan(sum);
  });

  it('refuses bad input with a 4xx JSON error naming the problem, and keeps serving', async () => {
    const text = await post(`${server.url}/v1/detect`, 'hello', 'text/plain');
    expect(text.status).toBe(415);
    expect(text.json['message']).toMatch(/text\/plain/);
    const garbage = await post(`${server.url}/v1/detect`, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 'image/png');
    expect(garbage.status).toBe(400);
    expect(garbage.json['message']).toMatch(/not a PNG, JPEG or BMP image/);
    const png = await readFile(images[0]!);
    const truncated = await post(`${server.url}/v1/detect`, png.subarray(0, 60), 'image/png');
    expect(truncated.status).toBe(400);
    expect(truncated.json['message']).toMatch(/not a readable image/);
    const empty = await post(`${server.url}/v1/detect`, new Uint8Array(0), 'image/png');
    expect(empty.status).toBe(400);
    const big = await post(`${server.url}/v1/detect`, new Uint8Array(400_000), 'application/octet-stream');
    expect(big.status).toBe(413);
    expect(big.json['message']).toMatch(/larger than the limit of 300000 bytes/);
    const huge = encodePng({ width: 1000, height: 1000, channels: 1, bitDepth: 8, data: new Uint8Array(1_000_000) });
    const pixels = await post(`${server.url}/v1/detect`, huge, 'image/png');
    expect(pixels.status).toBe(413);
    expect(pixels.json['message']).toMatch(/1000x1000 = 1000000 pixels, more than the limit of 250000/);
    const threshold = await post(`${server.url}/v1/detect?threshold=2`, png, 'image/png');
    expect(threshold.status).toBe(400);
    expect(threshold.json['message']).toMatch(/threshold/);
    const notMultipart = await post(`${server.url}/v1/detect/batch`, png, 'image/png');
    expect(notMultipart.status).toBe(415);
    const missing = await fetch(`${server.url}/v2/nothing`);
    expect(missing.status).toBe(404);
    const ok = await post(`${server.url}/v1/detect`, png, 'image/png');
    expect(ok.status).toBe(200);
  });

  it('runs the frozen encoder on ONNX Runtime with --executor onnx (or says why not under auto), with the scores of hgm detect', async () => {
    const onnx = loadOnnxRuntime().ok;
    const s = await startServe(checkpoint, onnx ? ['--executor', 'onnx', '--threads', '1'] : ['--executor', 'auto'], env);
    try {
      const ready = (await (await fetch(`${s.url}/readyz`)).json()) as Record<string, unknown>;
      if (onnx) expect(ready).toMatchObject({ executor: 'onnx', textExecutor: 'onnx' });
      else expect(ready['executorReason']).toMatch(/ONNX Runtime not used/);
      for (const image of images) {
        const r = await post(`${s.url}/v1/detect`, await readFile(image), 'image/png');
        expect(r.status).toBe(200);
        expect(Math.abs((r.json['score'] as number) - local.get(image)!.score)).toBeLessThan(1e-4);
        expect(Math.abs((r.json['maxMap'] as number) - local.get(image)!.maxMap)).toBeLessThan(1e-4);
      }
    } finally {
      await stopProcess(s.proc);
    }
  });

  it('answers 503 with Retry-After when the queue is full and 504 past the request timeout', async () => {
    const slow = await startServe(checkpoint, ['--batch-size', '8', '--batch-wait-ms', '6000', '--max-queue', '1', '--timeout-ms', '1500'], env);
    try {
      const png = await readFile(images[0]!);
      const first = post(`${slow.url}/v1/detect`, png, 'image/png');
      // the second request must arrive once the first waits in the queue (its decoding takes a while under load)
      for (let i = 0; i < 100; i++) {
        const metrics = await (await fetch(`${slow.url}/metrics`)).text();
        if (/^hgm_queue_depth 1$/m.test(metrics)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const second = await post(`${slow.url}/v1/detect`, png, 'image/png');
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(second.json['message']).toMatch(/busy/);
      const timedOut = await first;
      expect(timedOut.status).toBe(504);
      expect(timedOut.json['message']).toMatch(/1500 ms/);
    } finally {
      await stopProcess(slow.proc);
    }
  });

  it('decodes and draws on image threads (default) or on the main thread (--image-workers 0), with the same answers', async () => {
    const png = await readFile(images[0]!);
    const answers: Record<string, unknown>[] = [];
    for (const workers of ['2', '0']) {
      const s = await startServe(checkpoint, ['--image-workers', workers], env);
      try {
        const r = await post(`${s.url}/v1/detect?include=heatmap,overlay&threshold=0.5`, png, 'image/png');
        expect(r.status).toBe(200);
        answers.push(r.json);
        // an unreadable image is still a 400 naming it, from either place
        const bad = await post(`${s.url}/v1/detect`, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]), 'image/png');
        expect(bad.status).toBe(400);
        expect(bad.json['message']).toMatch(/^not a readable image: body/);
        expect(s.proc.stderr()).toMatch(workers === '0' ? /image threads: none \(main thread\)/ : /image threads: 2;/);
      } finally {
        await stopProcess(s.proc);
      }
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]!['score']).toBeCloseTo(local.get(images[0]!)!.score, 6);
    expect(typeof answers[0]!['heatmap']).toBe('string');
  });

  it('with --api-key-file: 401 without the key or with a wrong one, 200 with it; /healthz stays open', async () => {
    const keyFile = join(root, 'api.key');
    const key = 'k3y-' + 'abcdef0123456789'.repeat(2);
    await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
    const s = await startServe(checkpoint, ['--api-key-file', keyFile], env);
    try {
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      const bare = await fetch(`${s.url}/readyz`);
      expect(bare.status).toBe(401);
      expect(bare.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await bare.json()) as { message: string }).message).toMatch(/needs an API key: send Authorization: Bearer <key>/);
      const png = await readFile(images[0]!);
      const detect = (authorization?: string) =>
        fetch(`${s.url}/v1/detect`, { method: 'POST', body: png, headers: { 'content-type': 'image/png', ...(authorization ? { authorization } : {}) } });
      for (const wrong of [undefined, `Bearer ${key}x`, `Bearer ${key.slice(0, -1)}`, `Basic ${key}`, key]) {
        const r = await detect(wrong);
        expect(r.status, String(wrong)).toBe(401);
      }
      const ok = await detect(`Bearer ${key}`);
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { score: number }).score).toBeCloseTo(local.get(images[0]!)!.score, 6);
      expect((await fetch(`${s.url}/readyz`, { headers: { authorization: `bearer ${key}` } })).status).toBe(200);
    } finally {
      await stopProcess(s.proc);
    }
  });

  it('refuses a non-loopback --host without an API key, and a key file that holds no usable key, before the model is loaded', async () => {
    const open = await runHgm(['serve', '--checkpoint', checkpoint, '--host', '0.0.0.0', '--port', '0', '--backend', 'cpu'], { env });
    expect(open.code, open.stderr).toBe(64);
    expect(open.stderr).toContain('hgm serve: --host 0.0.0.0: refusing to serve a non-loopback address without authentication');
    expect(open.stderr).toMatch(/--api-key-file FILE .* or --insecure-no-auth/);
    expect(open.stderr).not.toMatch(/model:|backend:/);
    const short = join(root, 'short.key');
    await writeFile(short, 'abc\n');
    const bad = await runHgm(['serve', '--checkpoint', checkpoint, '--api-key-file', short, '--port', '0', '--backend', 'cpu'], { env });
    expect(bad.code, bad.stderr).toBe(64);
    expect(bad.stderr).toContain(`--api-key-file ${short}: expected a key of at least 16 characters without spaces on its first line, found 3 characters`);
  });

  it('a busy port: exit 69 with one line naming --port, before the model is loaded', async () => {
    const port = new URL(server.url).port;
    const t0 = Date.now();
    const r = await runHgm(['serve', '--checkpoint', checkpoint, '--port', port, '--backend', 'cpu'], { env });
    expect(r.code, r.stderr).toBe(69);
    expect(r.stderr).toContain(`hgm serve: --port ${port}: 127.0.0.1:${port} is already in use`);
    expect(r.stderr).not.toMatch(/model:|backend:|\n\s+at /);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('finishes the requests in flight on SIGTERM, refuses new ones and exits 0', async () => {
    const s = await startServe(checkpoint, ['--batch-size', '8', '--batch-wait-ms', '800'], env);
    const png = await readFile(images[0]!);
    const inFlight = Array.from({ length: 5 }, () => post(`${s.url}/v1/detect`, png, 'image/png'));
    await new Promise((r) => setTimeout(r, 300));
    s.proc.child.kill('SIGTERM');
    await s.proc.waitFor(/SIGTERM: finishing the requests in flight/);
    const results = await Promise.all(inFlight);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.json['score']).toBeCloseTo(local.get(images[0]!)!.score, 6);
    }
    const after = await fetch(`${s.url}/healthz`)
      .then((r) => r.status)
      .catch(() => 'refused');
    expect([503, 'refused']).toContain(after);
    expect((await s.proc.exited).code).toBe(0);
  });
});
