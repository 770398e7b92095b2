/** Checks, before any long work, that an output folder can be created and written. */
import { mkdir, open, unlink } from 'node:fs/promises';
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
