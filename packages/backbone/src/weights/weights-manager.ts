/**
 * Node-only weights manager: finds a checkpoint by local path, in the cache folder, or downloads it from
 * the Hugging Face hub; lists the catalogue with what is cached; verifies files (checksum and header).
 * All settings come from the options (with environment fallbacks read once, at construction).
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { openTensorFile } from '@hgm/tensor/node';
import { WEIGHTS_CATALOGUE, findWeights, type WeightsEntry, type WeightsFile } from './catalogue';
import { DownloadError, downloadFile, sha256File, PARTIAL_SUFFIX, type DownloadProgress, type DownloadResult } from './download';
import { tryDetectKeyFormat, type KeyFormat } from './key-formats';
import { ConfigError, InputNotFoundError, WeightsUnavailableError } from '@hgm/tensor';

/** Settings of a {@link WeightsManager}. */
export interface WeightsManagerOptions {
  /** Cache folder (default: `$HGM_CACHE`, else `~/.cache/hgm`). */
  cacheDir?: string;
  /** Hub base URL (default: `$HF_ENDPOINT`, else `https://huggingface.co`). */
  endpoint?: string;
  /** Never touch the network (default: `$HGM_OFFLINE` or `$HF_HUB_OFFLINE` set to 1/true). */
  offline?: boolean;
  /** Hub access token for gated repositories (default: `$HF_TOKEN`). */
  token?: string;
  /** Resume attempts after a dropped connection (default 3). */
  retries?: number;
  /** Known weights (default {@link WEIGHTS_CATALOGUE}). */
  catalogue?: readonly WeightsEntry[];
  /** Environment to read the fallbacks from (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** fetch implementation (default the global one). */
  fetch?: typeof fetch;
}

/** Settings after defaults and validation. */
export interface ResolvedWeightsManagerOptions {
  cacheDir: string;
  endpoint: string;
  offline: boolean;
  token: string | undefined;
  retries: number;
  catalogue: readonly WeightsEntry[];
  fetch: typeof fetch | undefined;
}

/** Defaults that do not depend on the environment. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_DOWNLOAD_RETRIES = 3;

/** Applies defaults and environment fallbacks, and checks the values. */
export function resolveWeightsManagerOptions(options: WeightsManagerOptions = {}): ResolvedWeightsManagerOptions {
  const env = options.env ?? process.env;
  const flag = (v: string | undefined): boolean => v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());
  const cacheDir = resolve(options.cacheDir ?? nonEmpty(env['HGM_CACHE']) ?? join(homedir(), '.cache', 'hgm'));
  const endpoint = (options.endpoint ?? nonEmpty(env['HF_ENDPOINT']) ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('not http(s)');
  } catch {
    throw new ConfigError(`weights manager: endpoint ${JSON.stringify(endpoint)} is not an http(s) URL`);
  }
  const retries = options.retries ?? DEFAULT_DOWNLOAD_RETRIES;
  if (!Number.isInteger(retries) || retries < 0) throw new ConfigError(`weights manager: retries must be a non-negative integer, found ${retries}`);
  const catalogue = options.catalogue ?? WEIGHTS_CATALOGUE;
  const names = new Set<string>();
  for (const e of catalogue) {
    if (names.has(e.name)) throw new ConfigError(`weights catalogue: ${e.name} is listed twice`);
    names.add(e.name);
    if (e.files.length === 0) throw new ConfigError(`weights catalogue: ${e.name} lists no files`);
    for (const f of e.files) {
      if (f.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(f.sha256))
        throw new ConfigError(`weights catalogue: ${e.name} ${f.path}: sha256 must be 64 lower-case hex digits`);
    }
  }
  return {
    cacheDir,
    endpoint,
    offline: options.offline ?? (flag(env['HGM_OFFLINE']) || flag(env['HF_HUB_OFFLINE'])),
    token: options.token ?? nonEmpty(env['HF_TOKEN']),
    retries,
    catalogue,
    fetch: options.fetch,
  };
}

/** The file is not cached and offline mode forbids the download; names what to fetch and where to put it. */
export class WeightsOfflineError extends WeightsUnavailableError {
  override readonly name = 'WeightsOfflineError';
  constructor(
    readonly weights: string,
    readonly url: string,
    readonly path: string,
  ) {
    super(`weights ${weights}: ${path} is not in the cache and offline mode is on; download ${url} and save it as ${path} (or turn offline mode off)`);
  }
}

/** Where a resolved checkpoint came from. */
export interface ResolvedWeights {
  /** Path of the (first) weights file. */
  path: string;
  /** Paths of every file of the entry (just `path` for a local file). */
  paths: string[];
  source: 'local' | 'cache' | 'download';
  /** The catalogue entry, for a catalogue name. */
  entry?: WeightsEntry;
}

/** One file in {@link WeightsManager.list}. */
export interface ListedFile {
  path: string;
  url: string;
  cachePath: string;
  cached: boolean;
  /** Size on disk when cached. */
  sizeBytes?: number;
  /** Bytes of an unfinished download, if any. */
  partialBytes?: number;
}

/** One entry of {@link WeightsManager.list}. */
export interface ListedWeights {
  name: string;
  description: string;
  repo: string;
  keyFormat: KeyFormat;
  gated: boolean;
  files: ListedFile[];
}

/** What {@link WeightsManager.verify} found for one file. */
export interface VerifiedFile {
  path: string;
  ok: boolean;
  /** Every fault found (empty when ok). */
  problems: string[];
  sizeBytes?: number;
  sha256?: string;
  expectedSha256?: string;
  keyFormat?: KeyFormat;
  tensorCount?: number;
}

/** Options of a single pull / resolve. */
export interface FetchOptions {
  onProgress?: (e: DownloadProgress) => void;
}

/** Finds, downloads, lists and verifies checkpoints (see the module comment). */
export class WeightsManager {
  readonly options: ResolvedWeightsManagerOptions;

  constructor(options: WeightsManagerOptions = {}) {
    this.options = resolveWeightsManagerOptions(options);
  }

  /** The catalogue entry of a name. */
  entry(name: string): WeightsEntry {
    return findWeights(name, this.options.catalogue);
  }

  /** Cache path of a file of an entry: `<cache>/<owner>--<repo>/<revision>/<file>`. */
  cachePath(entry: WeightsEntry, file: WeightsFile): string {
    return join(this.options.cacheDir, entry.repo.replace(/\//g, '--'), entry.revision, ...file.path.split('/'));
  }

  /** Hub URL of a file: `<endpoint>/<repo>/resolve/<revision>/<file>`. */
  url(entry: WeightsEntry, file: WeightsFile): string {
    const path = file.path.split('/').map(encodeURIComponent).join('/');
    return `${this.options.endpoint}/${entry.repo}/resolve/${encodeURIComponent(entry.revision)}/${path}`;
  }

  /**
   * Finds a checkpoint: an existing local file path first; else a catalogue name, from the cache; else
   * downloaded from the hub (refused in offline mode with {@link WeightsOfflineError}).
   */
  async resolve(nameOrPath: string, options: FetchOptions = {}): Promise<ResolvedWeights> {
    if (await isFile(nameOrPath)) return { path: resolve(nameOrPath), paths: [resolve(nameOrPath)], source: 'local' };
    const entry = this.options.catalogue.find((e) => e.name === nameOrPath);
    if (!entry) throw unknownWeights(nameOrPath, 'weights', this.options.catalogue);
    const paths: string[] = [];
    let downloaded = false;
    for (const file of entry.files) {
      let dest = await this.cachedFile(entry, file);
      if (dest === undefined) {
        dest = (await this.download(entry, file, options)).path;
        downloaded = true;
      }
      paths.push(dest);
    }
    return { path: paths[0]!, paths, source: downloaded ? 'download' : 'cache', entry };
  }

  /** The cached copy of a file (or of its fallback), if any. */
  private async cachedFile(entry: WeightsEntry, file: WeightsFile): Promise<string | undefined> {
    const dest = this.cachePath(entry, file);
    if (await isFile(dest)) return dest;
    if (file.fallback !== undefined) {
      const other = this.cachePath(entry, { path: file.fallback });
      if (await isFile(other)) return other;
    }
    return undefined;
  }

  /** Makes sure every file of a catalogue entry is in the cache (downloading what is missing). */
  async pull(name: string, options: FetchOptions = {}): Promise<ResolvedWeights> {
    this.entry(name);
    return this.resolve(name, options);
  }

  /** The catalogue with what is cached (sizes on disk, unfinished downloads). */
  async list(): Promise<ListedWeights[]> {
    const out: ListedWeights[] = [];
    for (const entry of this.options.catalogue) {
      const files: ListedFile[] = [];
      for (const file of entry.files) {
        const cachePath = this.cachePath(entry, file);
        const size = await sizeOf(cachePath);
        const partial = await sizeOf(cachePath + PARTIAL_SUFFIX);
        files.push({
          path: file.path,
          url: this.url(entry, file),
          cachePath,
          cached: size !== undefined,
          ...(size !== undefined ? { sizeBytes: size } : {}),
          ...(partial !== undefined ? { partialBytes: partial } : {}),
        });
      }
      out.push({ name: entry.name, description: entry.description, repo: entry.repo, keyFormat: entry.keyFormat, gated: entry.gated ?? false, files });
    }
    return out;
  }

  /**
   * Checks a catalogue entry's cached files, or any weights file by path (safetensors or PyTorch): readable header, key
   * format, the entry's expected shapes, size and SHA-256 where the catalogue knows them.
   */
  async verify(nameOrPath: string): Promise<VerifiedFile[]> {
    const entry = this.options.catalogue.find((e) => e.name === nameOrPath);
    if (!entry) {
      if (!(await isFile(nameOrPath))) throw unknownWeights(nameOrPath, 'verify', this.options.catalogue);
      return [await verifyFile(resolve(nameOrPath), undefined, undefined)];
    }
    const out: VerifiedFile[] = [];
    for (const file of entry.files) {
      const fallback = file.fallback !== undefined ? this.cachePath(entry, { path: file.fallback }) : undefined;
      const useFallback = fallback !== undefined && !(await isFile(this.cachePath(entry, file))) && (await isFile(fallback));
      out.push(useFallback ? await verifyFile(fallback, entry, { path: file.fallback! }) : await verifyFile(this.cachePath(entry, file), entry, file));
    }
    return out;
  }

  /** Downloads a file; where the hub answers 404 and the file has a fallback, downloads that instead. */
  private async download(entry: WeightsEntry, file: WeightsFile, options: FetchOptions): Promise<DownloadResult> {
    try {
      return await this.downloadOne(entry, file, options);
    } catch (e) {
      if (file.fallback === undefined || !(e instanceof DownloadError) || !/^HTTP 404\b/.test(e.fault)) throw e;
      return this.downloadOne(entry, { path: file.fallback }, options);
    }
  }

  private async downloadOne(entry: WeightsEntry, file: WeightsFile, options: FetchOptions): Promise<DownloadResult> {
    const url = this.url(entry, file);
    const dest = this.cachePath(entry, file);
    if (this.options.offline) throw new WeightsOfflineError(entry.name, url, dest);
    return downloadFile({
      url,
      dest,
      sha256: file.sha256,
      sizeBytes: file.sizeBytes,
      retries: this.options.retries,
      headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
      onProgress: options.onProgress,
      fetch: this.options.fetch,
    });
  }
}

async function verifyFile(path: string, entry: WeightsEntry | undefined, file: WeightsFile | undefined): Promise<VerifiedFile> {
  const result: VerifiedFile = { path, ok: false, problems: [] };
  const size = await sizeOf(path);
  if (size === undefined) {
    result.problems.push(`${path} does not exist${entry ? ` (run pull ${entry.name})` : ''}`);
    return result;
  }
  result.sizeBytes = size;
  if (file?.sizeBytes !== undefined && size !== file.sizeBytes) result.problems.push(`size is ${size} bytes, expected ${file.sizeBytes}`);
  result.sha256 = await sha256File(path);
  if (file?.sha256 !== undefined) {
    result.expectedSha256 = file.sha256;
    if (result.sha256 !== file.sha256) result.problems.push(`SHA-256 is ${result.sha256}, expected ${file.sha256}`);
  }
  try {
    const reader = await openTensorFile(path);
    try {
      const names = reader.tensorNames();
      result.tensorCount = names.length;
      const detected = tryDetectKeyFormat(names);
      if (!detected) result.problems.push(`the tensor names match no known key format (first: ${names.slice(0, 4).join(', ')})`);
      else {
        result.keyFormat = detected.format;
        if (entry && detected.format !== entry.keyFormat) result.problems.push(`keys are in ${detected.format} format, expected ${entry.keyFormat}`);
      }
      for (const [key, shape] of Object.entries(entry?.expectShapes ?? {})) {
        const stored = (detected?.prefix ?? '') + key;
        if (!reader.has(stored)) result.problems.push(`tensor ${key} is missing (expected shape [${shape.join(', ')}])`);
        else {
          const found = reader.info(stored).shape;
          if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
            result.problems.push(`tensor ${key} has shape [${found.join(', ')}], expected [${shape.join(', ')}]`);
          }
        }
      }
    } finally {
      await reader.close();
    }
  } catch (e) {
    result.problems.push(`header: ${(e as Error).message}`);
  }
  result.ok = result.problems.length === 0;
  return result;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** True for what can only be meant as a file: a path with a folder, or a weights file extension. */
function looksLikePath(s: string): boolean {
  return /[\\/]/.test(s) || /\.(safetensors|pth|pt|bin|ckpt)$/i.test(s);
}

/** Levenshtein distance of two short strings. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The error for a weights name that is neither an existing file nor a catalogue name: a missing file when it
 * looks like a path (exit 66 in the CLI), else a bad name with the closest catalogue name (exit 64).
 */
function unknownWeights(nameOrPath: string, what: string, catalogue: readonly WeightsEntry[]): Error {
  const names = catalogue.map((e) => e.name);
  if (looksLikePath(nameOrPath)) return new InputNotFoundError(nameOrPath, `${what} ${JSON.stringify(nameOrPath)}: no such file`);
  const closest = names
    .map((n) => ({ n, d: editDistance(nameOrPath.toLowerCase(), n) }))
    .sort((x, y) => x.d - y.d)
    .find((x) => x.d <= Math.max(2, Math.floor(x.n.length / 3)));
  return new ConfigError(
    `${what} ${JSON.stringify(nameOrPath)}: not a file and not a catalogue name${closest ? `; did you mean ${closest.n}?` : ''} (known: ${names.join(', ')})`,
  );
}
