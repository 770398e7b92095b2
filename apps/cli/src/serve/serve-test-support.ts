// Test-only helpers of the service and queue tests: a trained tiny model and a child process that waits for a line.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { writeSyntheticDataset } from '@hgm/data/node';
import { binPath, repoRoot, runHgm } from '../test-support';

/** A synthetic dataset and a tiny model trained on it for one epoch (32 px, CPU). */
export async function trainTinyModel(root: string, env: Record<string, string>): Promise<{ data: string; checkpoint: string }> {
  const data = join(root, 'data');
  await writeSyntheticDataset(data, { seed: 4, size: 32, domains: ['wood'], kinds: ['scratch', 'stain'], trainGood: 2, testGood: 3, testPerKind: 2 });
  const out = join(root, 'trained');
  const r = await runHgm(
    ['train', '--data', data, '--out', out, '--epochs', '1', '--model', 'tiny', '--image-size', '32', '--batch-size', '4', '--backend', 'cpu', '--json'],
    { env },
  );
  if (r.code !== 0) throw new Error(`training the test model failed (exit ${r.code}):\n${r.stderr}`);
  return { data, checkpoint: join(out, 'model.safetensors') };
}

/** A long-running `hgm` child process with its stderr collected. */
export interface HgmProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr (rejects when the process exits first or after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startHgm(args: string[], env: Record<string, string>): HgmProcess {
  const child = spawn(process.execPath, [binPath, ...args], { cwd: repoRoot, env: { ...process.env, CI: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stderr: () => text,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text.match(pattern);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms:\n${text}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        void exited.then(({ code, signal }) => {
          if (!text.match(pattern)) {
            done();
            reject(new Error(`hgm exited (${code ?? signal}) before ${pattern}:\n${text}`));
          }
        });
        listeners.add(check);
        check();
      });
    },
  };
}

/** `extra` with `--executor tfjs` added unless it names an executor: the encoder as the tests' reference runs it. */
export function tfjsUnlessNamed(extra: string[]): string[] {
  return extra.includes('--executor') ? extra : ['--executor', 'tfjs', ...extra];
}

/** Starts `hgm serve` on a free loopback port and returns its base URL (encoding on tfjs unless `extra` names an executor). */
export async function startServe(checkpoint: string, extra: string[], env: Record<string, string>): Promise<{ proc: HgmProcess; url: string }> {
  const proc = startHgm(
    ['serve', '--checkpoint', checkpoint, '--host', '127.0.0.1', '--port', '0', '--backend', 'cpu', '--log-level', 'warn', ...tfjsUnlessNamed(extra)],
    env,
  );
  const m = await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { proc, url: m[1]! };
}

/** Stops a child process: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(p: HgmProcess, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}
