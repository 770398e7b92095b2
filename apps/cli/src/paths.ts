/** Default locations (from the environment, read when called). */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `$HGM_CACHE/features`, else `~/.cache/hgm/features`. */
export function defaultFeatureCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const base = env['HGM_CACHE'] ? resolve(env['HGM_CACHE']) : join(homedir(), '.cache', 'hgm');
  return join(base, 'features');
}
