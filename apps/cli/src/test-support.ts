// Test-only helpers: build the binary when it is missing or older than the sources, and spawn it.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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

/** Builds `dist/main.js` with tsup when it is missing or older than any source it bundles. */
export function ensureBuilt(): void {
  const sources = [join(cliRoot, 'src'), ...readdirSync(join(repoRoot, 'packages')).map((p) => join(repoRoot, 'packages', p, 'src'))].filter((d) =>
    existsSync(d),
  );
  const newest = Math.max(...sources.map(newestSource), statSync(join(cliRoot, 'tsup.config.ts')).mtimeMs);
  if (existsSync(bundlePath) && statSync(bundlePath).mtimeMs >= newest) return;
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'tsup', 'dist', 'cli-default.js')], { cwd: cliRoot, stdio: 'pipe' });
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
