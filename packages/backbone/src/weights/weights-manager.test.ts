import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir, homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { closedLoopbackPort, repoFixturesDir } from '@hgm/tensor/testing';
import type { WeightsEntry } from './catalogue';
import { ChecksumError, DownloadError, downloadFile, type DownloadProgress } from './download';
import { WeightsManager, WeightsOfflineError, resolveWeightsManagerOptions } from './weights-manager';
import { serveFiles, type FileServer } from './serve-files.test-support';

const REPO = 'hgm-test/dinov2-tiny';
const FILE_URL_PATH = `/${REPO}/resolve/main/model.safetensors`;

let bytes: Uint8Array;
let sha: string;
let server: FileServer;
let cacheDir: string;

function entry(overrides: Partial<WeightsEntry['files'][number]> = {}): WeightsEntry {
  return {
    name: 'dinov2-tiny',
    description: 'test checkpoint',
    family: 'dinov2',
    keyFormat: 'dinov2',
    repo: REPO,
    revision: 'main',
    files: [{ path: 'model.safetensors', ...overrides }],
    architecture: { width: 64, layers: 3, heads: 4, patchSize: 4, imageSize: 16, registerTokens: 2 },
    expectShapes: { pos_embed: [1, 17, 64], 'blocks.2.attn.qkv.weight': [192, 64] },
    preprocess: { size: 16, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: 'bicubic', resize: 'squash' },
    license: 'test',
  };
}

function manager(options: { sha256?: string; offline?: boolean; endpoint?: string; retries?: number } = {}): WeightsManager {
  return new WeightsManager({
    cacheDir,
    endpoint: options.endpoint ?? server.endpoint,
    offline: options.offline ?? false,
    retries: options.retries,
    catalogue: [entry(options.sha256 ? { sha256: options.sha256 } : {})],
    env: {},
  });
}

beforeAll(async () => {
  bytes = new Uint8Array(await readFile(join(repoFixturesDir(), 'vit/dinov2-tiny/weights.safetensors')));
  sha = createHash('sha256').update(bytes).digest('hex');
  server = await serveFiles({ [FILE_URL_PATH]: bytes });
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'hgm-weights-'));
  server.requests.length = 0;
  for (const k of Object.keys(server.faults)) delete server.faults[k as keyof typeof server.faults];
  return () => rm(cacheDir, { recursive: true, force: true });
});

const cached = () => join(cacheDir, 'hgm-test--dinov2-tiny', 'main', 'model.safetensors');

describe('WeightsManager over a real HTTP server', () => {
  it('downloads into the cache with progress events, then serves cache hits without the network', async () => {
    const events: DownloadProgress[] = [];
    const r = await manager({ sha256: sha }).pull('dinov2-tiny', { onProgress: (e) => events.push(e) });
    expect(r).toMatchObject({ source: 'download', path: cached() });
    expect(Buffer.from(await readFile(cached())).equals(Buffer.from(bytes))).toBe(true);
    await expect(stat(cached() + '.partial')).rejects.toThrow();
    const data = events.filter((e) => e.phase === 'data');
    expect(data.length).toBeGreaterThan(0);
    expect(data.every((e, i) => e.totalBytes === bytes.byteLength && (i === 0 || e.receivedBytes > data[i - 1]!.receivedBytes))).toBe(true);
    expect(data.at(-1)!.receivedBytes).toBe(bytes.byteLength);
    expect(events.map((e) => e.phase).filter((p) => p !== 'data')).toEqual(['start', 'verify', 'done']);
    expect(server.requests).toEqual([{ method: 'GET', url: FILE_URL_PATH, range: undefined, authorization: undefined }]);

    // Cache hit: the endpoint now points to a closed port and offline mode is on; nothing is requested.
    const offline = manager({ offline: true, endpoint: 'http://127.0.0.1:9' });
    expect(await offline.resolve('dinov2-tiny')).toMatchObject({ source: 'cache', path: cached() });
    expect(server.requests.length).toBe(1);
  });

  it('resumes a dropped connection with a Range request to the same final bytes', async () => {
    const half = Math.floor(bytes.byteLength / 2);
    server.faults.dropAfterBytes = half;
    const err = await manager({ retries: 0 })
      .pull('dinov2-tiny')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/connection lost after \d+ of \d+ bytes.*kept in .*model\.safetensors\.partial.*resumes/);
    const kept = (await stat(cached() + '.partial')).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(half);
    await expect(stat(cached())).rejects.toThrow();

    const events: DownloadProgress[] = [];
    const r = await manager({ sha256: sha }).pull('dinov2-tiny', { onProgress: (e) => events.push(e) });
    expect(r.source).toBe('download');
    expect(server.requests.map((q) => q.range)).toEqual([undefined, `bytes=${kept}-`]);
    expect(events[0]).toMatchObject({ phase: 'start', resumedFrom: kept, receivedBytes: kept, totalBytes: bytes.byteLength });
    expect(
      createHash('sha256')
        .update(await readFile(cached()))
        .digest('hex'),
    ).toBe(sha);
  });

  it('a server that cannot be reached: the error names the URL and the path to fetch by hand, and no partial file', async () => {
    const port = await closedLoopbackPort();
    const err = await manager({ retries: 0, endpoint: `http://127.0.0.1:${port}` })
      .pull('dinov2-tiny')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    const message = (err as Error).message;
    expect(message).toContain('no bytes were received');
    expect(message).not.toContain('.partial');
    expect(message).toContain(`to fetch it by hand, download http://127.0.0.1:${port}${FILE_URL_PATH} and save it as ${cached()}`);
    await expect(stat(cached() + '.partial')).rejects.toThrow();
  });

  it('resumes by itself within one pull when retries are allowed', async () => {
    server.faults.dropAfterBytes = 100_000;
    server.faults.dropTimes = 2;
    const events: DownloadProgress[] = [];
    await manager({ sha256: sha, retries: 3 }).pull('dinov2-tiny', { onProgress: (e) => events.push(e) });
    expect(server.requests.length).toBe(3);
    expect(server.requests[0]!.range).toBeUndefined();
    expect(server.requests.slice(1).every((q) => /^bytes=\d+-$/.test(q.range ?? ''))).toBe(true);
    expect(events.filter((e) => e.phase === 'retry').length).toBe(2);
    expect(Buffer.from(await readFile(cached())).equals(Buffer.from(bytes))).toBe(true);
  });

  it('starts over from zero when the server ignores Range (documented behaviour)', async () => {
    await mkdir(dirname(cached()), { recursive: true });
    // A stale partial file whose bytes are wrong: appending to it would corrupt the result.
    await writeFile(cached() + '.partial', new Uint8Array(1000).fill(7));
    server.faults.ignoreRange = true;
    const events: DownloadProgress[] = [];
    await manager({ sha256: sha }).pull('dinov2-tiny', { onProgress: (e) => events.push(e) });
    expect(server.requests.map((q) => q.range)).toEqual(['bytes=1000-']);
    expect(events.map((e) => e.phase)).toContain('restart');
    expect(Buffer.from(await readFile(cached())).equals(Buffer.from(bytes))).toBe(true);
  });

  it('does not put a file with the wrong checksum into the cache', async () => {
    const wrong = 'f'.repeat(64);
    const err = await manager({ sha256: wrong })
      .pull('dinov2-tiny')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect((err as Error).message).toBe(
      `download of ${server.endpoint}${FILE_URL_PATH}: SHA-256 is ${sha}, expected ${wrong}; the file was discarded and not saved as ${cached()}`,
    );
    await expect(stat(cached())).rejects.toThrow();
    await expect(stat(cached() + '.partial')).rejects.toThrow();
  });

  it('names the URL and the destination in offline mode', async () => {
    const err = await manager({ offline: true })
      .resolve('dinov2-tiny')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightsOfflineError);
    expect(err).toMatchObject({ url: `${server.endpoint}${FILE_URL_PATH}`, path: cached() });
    expect((err as Error).message).toBe(
      `weights dinov2-tiny: ${cached()} is not in the cache and offline mode is on; download ${server.endpoint}${FILE_URL_PATH} and save it as ${cached()} (or turn offline mode off)`,
    );
    expect(server.requests).toEqual([]);
  });

  it('reports HTTP errors with a hint for gated repositories', async () => {
    server.faults.status = 403;
    await expect(manager().pull('dinov2-tiny')).rejects.toThrow(/HTTP 403 .*gated.*HF_TOKEN/);
  });

  it('prefers an existing local path, lists the cache and verifies files', async () => {
    const local = join(repoFixturesDir(), 'vit/dinov2-tiny/weights.safetensors');
    const m = manager({ sha256: sha });
    expect(await m.resolve(local)).toMatchObject({ source: 'local', path: local });
    expect(server.requests).toEqual([]);

    let [listed] = await m.list();
    expect(listed!.files[0]).toMatchObject({ cached: false, url: `${server.endpoint}${FILE_URL_PATH}`, cachePath: cached() });
    expect((await m.verify('dinov2-tiny'))[0]).toMatchObject({ ok: false, problems: [`${cached()} does not exist (run pull dinov2-tiny)`] });

    await m.pull('dinov2-tiny');
    [listed] = await m.list();
    expect(listed!.files[0]).toMatchObject({ cached: true, sizeBytes: bytes.byteLength });
    expect(await m.verify('dinov2-tiny')).toEqual([
      { path: cached(), ok: true, problems: [], sizeBytes: bytes.byteLength, sha256: sha, expectedSha256: sha, keyFormat: 'dinov2', tensorCount: 50 },
    ]);

    // A damaged cached file: one flipped data byte fails the checksum, a cut header fails the header check.
    const damaged = new Uint8Array(bytes);
    damaged[damaged.byteLength - 1] = damaged[damaged.byteLength - 1]! ^ 1;
    await writeFile(cached(), damaged);
    expect((await m.verify('dinov2-tiny'))[0]!.problems).toEqual([`SHA-256 is ${createHash('sha256').update(damaged).digest('hex')}, expected ${sha}`]);
    const cut = join(cacheDir, 'cut.safetensors');
    await writeFile(cut, bytes.subarray(0, 100));
    const [v] = await m.verify(cut);
    expect(v!.ok).toBe(false);
    expect(v!.problems.join('\n')).toMatch(/header: safetensors file .*cut\.safetensors: header length \d+ runs past the end of the file \(100 bytes\)/);
  });
});

describe('downloadFile', () => {
  it('sends the token and checks the announced size', async () => {
    const dest = join(cacheDir, 'x', 'model.safetensors');
    const r = await downloadFile({ url: `${server.endpoint}${FILE_URL_PATH}`, dest, headers: { authorization: 'Bearer abc' }, sizeBytes: bytes.byteLength });
    expect(r).toMatchObject({ path: dest, sizeBytes: bytes.byteLength, sha256: sha, resumedAt: [], restarts: 0 });
    expect(server.requests[0]!.authorization).toBe('Bearer abc');
    await expect(downloadFile({ url: `${server.endpoint}${FILE_URL_PATH}`, dest: dest + '2', sizeBytes: 5 })).rejects.toThrow(
      /received \d+ bytes, expected 5; the file was discarded/,
    );
  });
});

describe('resolveWeightsManagerOptions', () => {
  it('takes options first, then HGM_CACHE / HF_ENDPOINT / HF_TOKEN / offline flags, then defaults', () => {
    expect(resolveWeightsManagerOptions({ env: {} })).toMatchObject({
      cacheDir: join(homedir(), '.cache', 'hgm'),
      endpoint: 'https://huggingface.co',
      offline: false,
      token: undefined,
      retries: 3,
    });
    const env = { HGM_CACHE: '/tmp/c', HF_ENDPOINT: 'https://mirror.example/', HF_TOKEN: 't', HF_HUB_OFFLINE: '1' };
    expect(resolveWeightsManagerOptions({ env })).toMatchObject({ cacheDir: '/tmp/c', endpoint: 'https://mirror.example', offline: true, token: 't' });
    expect(resolveWeightsManagerOptions({ env, cacheDir: '/tmp/d', endpoint: 'http://h:1', offline: false })).toMatchObject({
      cacheDir: '/tmp/d',
      endpoint: 'http://h:1',
      offline: false,
    });
    expect(() => resolveWeightsManagerOptions({ env: {}, endpoint: 'ftp://x' })).toThrow(/not an http\(s\) URL/);
    expect(() => resolveWeightsManagerOptions({ env: {}, retries: -1 })).toThrow(/retries must be a non-negative integer/);
  });

  it('builds hub URLs and cache paths for the real catalogue', () => {
    const m = new WeightsManager({ env: {}, cacheDir: '/c' });
    const e = m.entry('clip-vit-l-14-336');
    expect(m.url(e, e.files[0]!)).toBe('https://huggingface.co/openai/clip-vit-large-patch14-336/resolve/main/model.safetensors');
    expect(m.cachePath(e, e.files[0]!)).toBe('/c/openai--clip-vit-large-patch14-336/main/model.safetensors');
    expect(m.entry('dinov2-vitl14-reg').repo).toBe('facebook/dinov2-with-registers-large');
    expect(m.entry('dinov3-vitl16').repo).toBe('facebook/dinov3-vitl16-pretrain-lvd1689m');
    expect(() => m.entry('nope')).toThrow(/unknown weights "nope" \(known: clip-vit-l-14-336/);
  });
});

describe('pytorch_model.bin fallback', () => {
  it('downloads pytorch_model.bin where model.safetensors is absent (404), then serves it from the cache and verifies it', async () => {
    const torchBytes = new Uint8Array(await readFile(join(repoFixturesDir(), 'torch/dinov2-tiny.pth')));
    const binPath = `/${REPO}/resolve/main/pytorch_model.bin`;
    const hub = await serveFiles({ [binPath]: torchBytes });
    try {
      const make = (offline: boolean) =>
        new WeightsManager({
          cacheDir,
          endpoint: hub.endpoint,
          offline,
          catalogue: [{ ...entry(), files: [{ path: 'model.safetensors', fallback: 'pytorch_model.bin' }] }],
          env: {},
        });
      const r = await make(false).pull('dinov2-tiny');
      const binCached = join(cacheDir, 'hgm-test--dinov2-tiny', 'main', 'pytorch_model.bin');
      expect(r).toMatchObject({ source: 'download', path: binCached });
      expect(hub.requests.map((q) => q.url)).toEqual([FILE_URL_PATH, binPath]);
      expect(Buffer.from(await readFile(binCached)).equals(Buffer.from(torchBytes))).toBe(true);
      const again = await make(true).resolve('dinov2-tiny');
      expect(again).toMatchObject({ source: 'cache', path: binCached });
      const [v] = await make(true).verify('dinov2-tiny');
      expect(v).toMatchObject({ path: binCached, ok: true, keyFormat: 'dinov2', tensorCount: 50 });
    } finally {
      await hub.close();
    }
  });

  it('a file without a fallback still fails on 404', async () => {
    const hub = await serveFiles({});
    try {
      const m = new WeightsManager({ cacheDir, endpoint: hub.endpoint, offline: false, catalogue: [entry()], env: {} });
      await expect(m.pull('dinov2-tiny')).rejects.toThrow(/HTTP 404/);
      expect(hub.requests).toHaveLength(1);
    } finally {
      await hub.close();
    }
  });
});
