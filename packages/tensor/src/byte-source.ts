/**
 * Random access to the bytes of a file, wherever it lives (memory, a Node file, an HTTP URL).
 * Readers use it to fetch a safetensors header and single tensors without loading the whole file.
 */
import { WeightsUnavailableError } from './errors';
export interface ByteSource {
  /** A label for error messages: the path or URL. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; the result may be a view into a shared buffer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases any handle held (files). */
  close?(): Promise<void>;
}

/** A byte source over memory already loaded (an ArrayBuffer or a view). */
export function bufferSource(bytes: ArrayBuffer | Uint8Array, name = '<memory>'): ByteSource {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    name,
    size: view.byteLength,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > view.byteLength) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is outside the ${view.byteLength}-byte buffer`);
      }
      return view.subarray(offset, offset + length);
    },
  };
}

/**
 * A byte source over HTTP(S) with Range requests (browsers and Node 18+). The size comes from a HEAD
 * request (or is given). Servers that ignore Range are detected and refused rather than downloading all.
 */
export async function fetchSource(url: string, init: { size?: number; fetch?: typeof fetch } = {}): Promise<ByteSource> {
  const doFetch = init.fetch ?? fetch;
  let size = init.size;
  if (size === undefined) {
    const head = await doFetch(url, { method: 'HEAD' });
    if (!head.ok) throw new WeightsUnavailableError(`${url}: HEAD request failed with HTTP ${head.status}`);
    const len = head.headers.get('content-length');
    if (len === null) throw new WeightsUnavailableError(`${url}: the server sent no Content-Length; pass the size explicitly`);
    size = Number(len);
  }
  const total = size;
  return {
    name: url,
    size: total,
    async read(offset, length) {
      if (length === 0) return new Uint8Array(0);
      if (offset < 0 || offset + length > total) throw new RangeError(`${url}: read of ${length} bytes at ${offset} is past the end (${total} bytes)`);
      const res = await doFetch(url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      if (res.status !== 206) throw new WeightsUnavailableError(`${url}: expected HTTP 206 for a Range request, got ${res.status}`);
      const buf = new Uint8Array(await res.arrayBuffer());
      if (buf.byteLength !== length) throw new WeightsUnavailableError(`${url}: asked for ${length} bytes at ${offset}, got ${buf.byteLength}`);
      return buf;
    },
  };
}
