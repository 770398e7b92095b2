/** Checks, before any long work, that an output folder can be created and written. */
import { mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CliError, EXIT } from './exit-codes';

/** Creates the folder (with parents) and writes and removes a probe file in it; throws a CliError (73) naming the folder. */
export async function ensureWritableDir(dir: string, what = 'output folder'): Promise<string> {
  const abs = resolve(dir);
  try {
    await mkdir(abs, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CliError(`${what} ${dir}: cannot create it (${code})`, EXIT.cantCreate, 'choose another folder with --out, or fix its permissions');
  }
  const probe = join(abs, `.hgm-write-test-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(probe, 'w');
    await fh.close();
    await unlink(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CliError(`${what} ${dir}: cannot write into it (${code})`, EXIT.cantCreate, 'choose another folder with --out, or fix its permissions');
  }
  return abs;
}

/**
 * Refuses an output folder that already holds files (an earlier run's maps would stay beside the new ones)
 * unless `overwrite`; with it, removes the `owned` entries (the files and folders this command writes) so
 * nothing stale is left, and returns what it removed.
 */
export async function claimOutputDir(dir: string, owned: readonly string[], overwrite: boolean): Promise<string[]> {
  const abs = resolve(dir);
  let entries: string[];
  try {
    entries = (await readdir(abs)).filter((e) => !e.startsWith('.hgm-write-test-'));
  } catch {
    return [];
  }
  if (entries.length === 0) return [];
  if (!overwrite) {
    const shown = entries.slice(0, 6).join(', ') + (entries.length > 6 ? `, ... (${entries.length} entries)` : '');
    throw new CliError(
      `output folder ${dir} is not empty (${shown}); an earlier run's maps would be mixed with this run's`,
      EXIT.usage,
      'pass --overwrite to replace what this command writes there, or choose an empty --out',
    );
  }
  const removed: string[] = [];
  for (const name of owned) {
    if (!entries.includes(name)) continue;
    await rm(join(abs, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
