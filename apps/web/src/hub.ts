/**
 * Frozen weights from the Hugging Face hub, downloaded once with progress and kept in the browser's Cache API,
 * so a second visit works offline. Only `https://huggingface.co/` URLs are fetched: the page sends nothing
 * anywhere else.
 */

/** Name of the Cache API store that keeps downloaded weights. */
export const WEIGHTS_CACHE = 'hgm-weights-v1';

/** Checks a weights URL: https, on huggingface.co, a `.safetensors` file. */
export function checkHubUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`hub weights: ${JSON.stringify(url)} is not a URL (expected https://huggingface.co/<repo>/resolve/<revision>/<file>.safetensors)`);
  }
  if (u.protocol !== 'https:' || u.hostname !== 'huggingface.co')
    throw new Error(`hub weights: ${url} is not on https://huggingface.co (the page downloads weights from the hub only)`);
  if (!u.pathname.endsWith('.safetensors')) throw new Error(`hub weights: ${url} does not name a .safetensors file`);
  return u;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void;
}

/** Returns the file's bytes from the browser cache, or downloads it (streamed, with progress) and keeps it there. */
export async function downloadWithCache(url: string, options: DownloadOptions = {}): Promise<{ bytes: Uint8Array; fromCache: boolean }> {
  const u = checkHubUrl(url);
  const cache = typeof caches !== 'undefined' ? await caches.open(WEIGHTS_CACHE) : undefined;
  const hit = await cache?.match(u.href);
  if (hit) return { bytes: new Uint8Array(await hit.arrayBuffer()), fromCache: true };
  const res = await fetch(u.href, options.signal ? { signal: options.signal } : {});
  if (!res.ok)
    throw new Error(
      `hub weights ${u.href}: HTTP ${res.status}${res.status === 401 || res.status === 403 ? ' (gated: accept the licence on the hub; this page sends no token)' : ''}`,
    );
  const totalText = res.headers.get('content-length');
  const total = totalText ? Number(totalText) : undefined;
  const chunks: Uint8Array[] = [];
  let done = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { done: finished, value } = await reader.read();
    if (finished) break;
    chunks.push(value);
    done += value.length;
    options.onProgress?.(done, total);
  }
  if (total !== undefined && done !== total) throw new Error(`hub weights ${u.href}: received ${done} bytes, the server announced ${total}`);
  const bytes = new Uint8Array(done);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  await cache?.put(u.href, new Response(bytes as BlobPart, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(done) } }));
  return { bytes, fromCache: false };
}
