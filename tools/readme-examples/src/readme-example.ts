/**
 * The first example of a package README: its first TypeScript code block, and the `text` block right after
 * it, which shows what the example prints. `runReadmeExample` runs the code as a module inside the
 * repository (so `@hgm/*` imports resolve to the workspace sources through the `@hgm/source` condition).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ReadmeExample {
  /** The code of the first ```ts (or ```typescript) block. */
  code: string;
  /** The lines of the ```text block that follows it, if any: what the example prints. */
  prints: string[] | undefined;
}

/** Finds the first TypeScript block of a README and the output block right after it. */
export function extractFirstExample(markdown: string, source: string): ReadmeExample {
  const fence = /^```([A-Za-z]*)[^\n]*\n([\s\S]*?)^```[ \t]*$/gm;
  let m: RegExpExecArray | null;
  while ((m = fence.exec(markdown)) !== null) {
    if (m[1] !== 'ts' && m[1] !== 'typescript') continue;
    const code = m[2]!;
    const rest = markdown.slice(fence.lastIndex).replace(/^\s*\n/, '');
    const out = /^```text[^\n]*\n([\s\S]*?)^```[ \t]*$/m.exec(rest);
    const prints = out && out.index === 0 ? out[1]!.replace(/\n$/, '').split('\n') : undefined;
    return { code, prints };
  }
  throw new Error(`${source}: no \`\`\`ts code block (expected the README to open with a runnable example)`);
}

export interface ExampleRun {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Writes the example to a temporary module under `dir` (inside the repository) and runs it with Node. */
export function runReadmeExample(code: string, dir: string, repoRoot: string, timeoutMs = 90_000): ExampleRun {
  const tmp = mkdtempSync(join(dir, '.example-'));
  try {
    const file = join(tmp, 'example.mts');
    writeFileSync(file, code);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--conditions=@hgm/source', '--import', 'tsx', file], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: timeoutMs,
      env: { ...process.env, FORCE_COLOR: '0', TF_CPP_MIN_LOG_LEVEL: '3' },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
