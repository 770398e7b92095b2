/**
 * Key-renaming rules as data: each rule is a regular expression (anchored by the author as needed) and
 * a replacement with `$1`-style groups. Rules apply in order; every matching rule rewrites the key.
 *
 * @example
 * const hfToOpenai: RenameRule[] = [
 *   { pattern: '^vision_model\\.encoder\\.layers\\.(\\d+)\\.', replacement: 'visual.transformer.resblocks.$1.' },
 * ];
 */
import { ConfigError } from './errors';
export interface RenameRule {
  pattern: string;
  replacement: string;
  /** Optional note shown in reports. */
  note?: string;
}

/** Applies rename rules to one key. */
export function renameKey(key: string, rules: readonly RenameRule[]): string {
  let out = key;
  for (const rule of rules) out = out.replace(new RegExp(rule.pattern), rule.replacement);
  return out;
}

/** Applies rename rules to every key of a map; throws when two keys land on the same name. */
export function renameKeys<T>(entries: Map<string, T>, rules: readonly RenameRule[], source = 'state dict'): Map<string, T> {
  const out = new Map<string, T>();
  const from = new Map<string, string>();
  for (const [k, v] of entries) {
    const nk = renameKey(k, rules);
    const prev = from.get(nk);
    if (prev !== undefined) throw new ConfigError(`${source}: keys ${prev} and ${k} are both renamed to ${nk}`);
    from.set(nk, k);
    out.set(nk, v);
  }
  return out;
}
