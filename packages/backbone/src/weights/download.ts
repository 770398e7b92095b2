/**
 * Node-only: downloads one file over HTTP(S) into a cache, resumably. The bytes go to `<dest>.partial`;
 * a dropped connection keeps the partial file and the next attempt asks for the rest with an HTTP Range
 * request. A server that ignores Range (answers 200 to a ranged request) makes the download restart from
 * zero, since appending a full body would corrupt the file. After the last byte the file is fsynced, its
 * size and SHA-256 are checked where known, and it is renamed into place atomically.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WeightsUnavailableError } from '@hgm/tensor';

/** A progress event of {@link downloadFile}. */
export interface DownloadProgress {
  url: string;
  /** Final destination path. */
  path: string;
  /**
   * `start`: a request is answered (after `resumedFrom` bytes already on disk); `data`: bytes arrived;
   * `restart`: the server ignored the Range request, the partial file was discarded; `retry`: the
   * connection dropped and the download resumes; `verify`: hashing; `done`: renamed into place.
   */
  phase: 'start' | 'data' | 'restart' | 'retry' | 'verify' | 'done';
  receivedBytes: number;
  /** Total size when the server tells it. */
  totalBytes?: number;
  /** Bytes already on disk when the current request started. */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  /** Final path; the download goes to `<dest>.partial` first. */
  dest: string;
  /** Expected lower-case hex SHA-256 (checked when given). */
  sha256?: string;
  /** Expected size in bytes (checked when given). */
  sizeBytes?: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** How many times a dropped connection is resumed before giving up (default 3). */
  retries?: number;
  onProgress?: (e: DownloadProgress) => void;
  fetch?: typeof fetch;
}

/** What {@link downloadFile} did. */
export interface DownloadResult {
  path: string;
  sizeBytes: number;
  sha256: string;
  /** Byte offsets at which requests resumed (one entry per ranged request that the server honoured). */
  resumedAt: number[];
  /** Times the download started over because the server ignored a Range request. */
  restarts: number;
}

/** A download failed (HTTP error, dropped connection after all retries, wrong size). */
export class DownloadError extends WeightsUnavailableError {
  override readonly name = 'DownloadError';
  constructor(
    readonly url: string,
    readonly path: string,
    readonly fault: string,
  ) {
    super(`download of ${url} to ${path} failed: ${fault}`);
  }
}

/** The downloaded bytes do not have the expected SHA-256; the file was not put into the cache. */
export class ChecksumError extends WeightsUnavailableError {
  override readonly name = 'ChecksumError';
  constructor(
    readonly url: string,
    readonly path: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`download of ${url}: SHA-256 is ${found}, expected ${expected}; the file was discarded and not saved as ${path}`);
  }
}

/** Suffix of the file a download writes to before it is complete. */
export const PARTIAL_SUFFIX = '.partial';

/** Downloads `url` to `dest` (see the module comment for resume, restart and checks). */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { url, dest } = options;
  const doFetch = options.fetch ?? fetch;
  const retries = options.retries ?? 3;
  const partial = dest + PARTIAL_SUFFIX;
  const emit = (e: Omit<DownloadProgress, 'url' | 'path'>): void => options.onProgress?.({ url, path: dest, ...e });
  await mkdir(dirname(dest), { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new DownloadError(url, dest, `cannot create the cache folder ${dirname(dest)} (${e.code ?? e.message})`);
  });
  const resumedAt: number[] = [];
  let restarts = 0;
  let failures = 0;
  let lastFault = '';
  for (;;) {
    if (failures > retries) {
      const kept = await fileSize(partial);
      throw new DownloadError(
        url,
        dest,
        `${lastFault}; gave up after ${retries} resume attempt${retries === 1 ? '' : 's'}; ` +
          (kept > 0 ? `the ${kept} bytes received are kept in ${partial} and the next download resumes from there` : 'no bytes were received') +
          `; to fetch it by hand, download ${url} and save it as ${dest}`,
      );
    }
    const have = await fileSize(partial);
    const headers: Record<string, string> = { 'accept-encoding': 'identity', ...options.headers };
    if (have > 0) headers['range'] = `bytes=${have}-`;
    let res: Response;
    try {
      res = await doFetch(url, { headers, redirect: 'follow' });
    } catch (e) {
      failures += 1;
      lastFault = `request failed (${describe(e)})`;
      continue;
    }
    let offset = have;
    if (have > 0 && res.status === 416) {
      // Nothing left to send: the partial file is complete if it has the size the server reports.
      const total = parseContentRangeTotal(res.headers.get('content-range'));
      await res.body?.cancel();
      if (total === have) return finish(options, partial, have, resumedAt, restarts, emit);
      await unlink(partial).catch(() => undefined);
      restarts += 1;
      emit({ phase: 'restart', receivedBytes: 0, resumedFrom: 0 });
      continue;
    }
    if (res.status === 206) {
      const start = parseContentRangeStart(res.headers.get('content-range'));
      if (start !== have) {
        await res.body?.cancel();
        throw new DownloadError(url, dest, `asked for bytes from ${have}, the server sent a range starting at ${start ?? 'an unknown offset'}`);
      }
      resumedAt.push(have);
    } else if (res.status === 200) {
      if (have > 0) {
        // The server ignored the Range request and sends the whole file: start over.
        offset = 0;
        restarts += 1;
        emit({ phase: 'restart', receivedBytes: 0, resumedFrom: 0 });
      }
    } else {
      await res.body?.cancel();
      const hint = res.status === 401 || res.status === 403 ? ' (the repository may be gated: accept its licence on the hub and set HF_TOKEN)' : '';
      const fault = `HTTP ${res.status} ${res.statusText}${hint}`;
      if (res.status >= 500) {
        failures += 1;
        lastFault = fault;
        continue;
      }
      throw new DownloadError(url, dest, fault);
    }
    const total = res.status === 206 ? parseContentRangeTotal(res.headers.get('content-range')) : numberHeader(res.headers.get('content-length'));
    emit({ phase: 'start', receivedBytes: offset, totalBytes: total, resumedFrom: offset });
    let fh: FileHandle | undefined;
    let received = offset;
    try {
      fh = await open(partial, offset === 0 ? 'w' : 'a');
      if (!res.body) throw new WeightsUnavailableError('the response has no body');
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await fh.write(value);
        received += value.byteLength;
        emit({ phase: 'data', receivedBytes: received, totalBytes: total, resumedFrom: offset });
      }
      await fh.sync();
    } catch (e) {
      failures += 1;
      lastFault = `connection lost after ${received}${total !== undefined ? ` of ${total}` : ''} bytes (${describe(e)})`;
      await fh?.close().catch(() => undefined);
      fh = undefined;
      if (failures <= retries) emit({ phase: 'retry', receivedBytes: received, totalBytes: total, resumedFrom: offset });
      continue;
    } finally {
      await fh?.close();
    }
    if (total !== undefined && received !== total) {
      failures += 1;
      lastFault = `the response ended after ${received} of ${total} bytes`;
      continue;
    }
    return finish(options, partial, received, resumedAt, restarts, emit);
  }
}

async function finish(
  options: DownloadOptions,
  partial: string,
  size: number,
  resumedAt: number[],
  restarts: number,
  emit: (e: Omit<DownloadProgress, 'url' | 'path'>) => void,
): Promise<DownloadResult> {
  const { url, dest } = options;
  if (options.sizeBytes !== undefined && size !== options.sizeBytes) {
    await unlink(partial).catch(() => undefined);
    throw new DownloadError(url, dest, `received ${size} bytes, expected ${options.sizeBytes}; the file was discarded`);
  }
  emit({ phase: 'verify', receivedBytes: size, totalBytes: size, resumedFrom: size });
  const digest = await sha256File(partial);
  if (options.sha256 !== undefined && digest !== options.sha256.toLowerCase()) {
    await unlink(partial).catch(() => undefined);
    throw new ChecksumError(url, dest, options.sha256.toLowerCase(), digest);
  }
  await rename(partial, dest);
  emit({ phase: 'done', receivedBytes: size, totalBytes: size, resumedFrom: size });
  return { path: dest, sizeBytes: size, sha256: digest, resumedAt, restarts };
}

/** Lower-case hex SHA-256 of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function numberHeader(v: string | null): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** `bytes 100-199/1000` -> 100. */
function parseContentRangeStart(v: string | null): number | undefined {
  const m = v === null ? null : /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(v.trim());
  return m ? Number(m[1]) : undefined;
}

// Total size from `bytes 100-199/1000` or, for an unsatisfiable range, `bytes */1000`.
function parseContentRangeTotal(v: string | null): number | undefined {
  const m = v === null ? null : /\/(\d+)$/.exec(v.trim());
  return m ? Number(m[1]) : undefined;
}

function describe(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause ? `: ${err.cause.code ?? err.cause.message ?? ''}` : '';
  return `${err.message ?? String(e)}${cause}`;
}
