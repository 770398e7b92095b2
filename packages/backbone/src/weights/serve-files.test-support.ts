/**
 * Test support (not part of the package API): a real HTTP server on 127.0.0.1 with a random free port,
 * serving in-memory files with optional faults, recording every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedRequest {
  method: string;
  url: string;
  range: string | undefined;
  authorization: string | undefined;
}

export interface FaultPlan {
  /** Destroy the socket after sending this many body bytes, for the next `dropTimes` (default 1) responses. */
  dropAfterBytes?: number;
  dropTimes?: number;
  /** Answer every request with 200 and the whole file, ignoring Range. */
  ignoreRange?: boolean;
  /** Answer with this status instead. */
  status?: number;
}

export interface FileServer {
  endpoint: string;
  requests: ServedRequest[];
  faults: FaultPlan;
  close(): Promise<void>;
}

export async function serveFiles(files: Record<string, Uint8Array>): Promise<FileServer> {
  const requests: ServedRequest[] = [];
  const faults: FaultPlan = {};
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const range = req.headers.range;
    requests.push({ method: req.method ?? '', url: req.url ?? '', range, authorization: req.headers.authorization });
    const body = files[decodeURIComponent((req.url ?? '').split('?')[0]!)];
    if (faults.status !== undefined) {
      res.writeHead(faults.status).end('fault');
      return;
    }
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const m = range && !faults.ignoreRange ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m) {
      start = Number(m[1]);
      if (start >= body.byteLength) {
        res.writeHead(416, { 'content-range': `bytes */${body.byteLength}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': body.byteLength - start, 'content-range': `bytes ${start}-${body.byteLength - 1}/${body.byteLength}` });
    } else {
      res.writeHead(200, { 'content-length': body.byteLength });
    }
    const part = body.subarray(start);
    if (faults.dropAfterBytes !== undefined && (faults.dropTimes ?? 1) > 0 && faults.dropAfterBytes < part.byteLength) {
      faults.dropTimes = (faults.dropTimes ?? 1) - 1;
      res.write(part.subarray(0, faults.dropAfterBytes), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    res.end(part);
  };
  const server: Server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    faults,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
