// Test-only helpers: build the binary when it is missing or older than the sources, and spawn it.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(cliRoot, '..', '..');
export const binPath = join(cliRoot, 'bin', 'hgm.js');
const bundlePath = join(cliRoot, 'dist', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function bundleIsFresh(): boolean {
  const sources = [join(cliRoot, 'src'), ...readdirSync(join(repoRoot, 'packages')).map((p) => join(repoRoot, 'packages', p, 'src'))].filter((d) =>
    existsSync(d),
  );
  const newest = Math.max(...sources.map(newestSource), statSync(join(cliRoot, 'tsup.config.ts')).mtimeMs);
  return existsSync(bundlePath) && statSync(bundlePath).mtimeMs >= newest;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A build lock older than this is left over from a killed process. */
const STALE_LOCK_MS = 5 * 60_000;

/**
 * Builds `dist/main.js` with tsup when it is missing or older than any source it bundles. Test files run in
 * parallel processes and tsup empties `dist/` first, so one process builds under a lock (a directory beside the
 * bundle's folder) while the others wait for it and then find the bundle fresh.
 */
export function ensureBuilt(): void {
  const lock = join(cliRoot, '.build-lock');
  for (;;) {
    if (bundleIsFresh()) return;
    try {
      mkdirSync(lock);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      else if (held) sleepSync(250);
      continue;
    }
    try {
      if (!bundleIsFresh()) execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'tsup', 'dist', 'cli-default.js')], { cwd: cliRoot, stdio: 'pipe' });
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
    return;
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Called with each stderr chunk (and the child) — e.g. to send SIGINT at a given point. */
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
  timeoutMs?: number;
}

/** Runs the built `hgm` binary in a child process. */
export function runHgm(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, CI: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
