/**
 * How to type `hgm` so that it runs where this process was started: `hgm` when installed, or the command
 * that works from a clone's root (where `hgm` is not on PATH).
 */
import { basename, relative, sep } from 'node:path';

/**
 * The command prefix for hints printed to the user.
 * @param script the running script (`process.argv[1]`)
 * @param cwd the working directory
 */
export function cliInvocation(script: string | undefined = process.argv[1], cwd: string = process.cwd()): string {
  if (!script) return 'hgm';
  const rel = relative(cwd, script);
  const inside = rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep);
  // run from source (npm run demo / npm run hgm): the same script works for every command
  if (/apps[\\/]cli[\\/]src[\\/]main\.ts$/.test(script)) return 'npm run hgm --';
  // node_modules/.bin/hgm of the clone (npx hgm)
  if (inside && basename(script) === 'hgm' && rel.split(/[\\/]/).includes('node_modules')) return 'npx hgm';
  if (inside && basename(script) === 'hgm.js') return `node ${rel.split(sep).join('/')}`;
  return 'hgm';
}
