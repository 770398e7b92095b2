// Test-only: a real redis-server on a free loopback port, with its data in a folder (append-only file, so a
// restart keeps the queue).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class RedisTestServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server (Debian package `redis-server`) with its files in `dir`. */
  static async start(dir: string): Promise<RedisTestServer> {
    const server = new RedisTestServer(await freePort(), dir);
    await server.launch();
    return server;
  }

  private launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${out}`)), 10_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start redis-server (${e.message}); install the Debian package redis-server`));
      });
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (!/Ready to accept connections/.test(out)) reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
  }

  /** Stops the server (SIGTERM: it writes its data and exits). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** Stops and starts the server again on the same port with the same data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }
}
