/**
 * Config files (JSON or YAML) whose fields the command-line flags override, validated against a schema
 * with messages that name the file, the field, what was expected and what was found.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CliError, EXIT } from './exit-codes';
import { IMAGE_SIZE_FORMS, parseImageSizeOption } from './image-size-option';

/** `image-size`: a side (512) or `WIDTHxHEIGHT` (320x240), parsed to a number or `[height, width]`. */
export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'number[]' | 'integer[]' | 'image-size';

export interface FieldSpec {
  type: FieldType;
  description: string;
  /** Allowed values (strings). */
  choices?: readonly string[];
  min?: number;
  max?: number;
}

export type Schema = Record<string, FieldSpec>;

/** Reads a JSON or YAML file into a plain object. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(`config file ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, EXIT.noInput);
  }
  let value: unknown;
  try {
    value = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new CliError(
      `config file ${path}: not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'} (${(e as Error).message.split('\n')[0]})`,
      EXIT.usage,
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new CliError(`config file ${path}: must hold a mapping of fields, found ${Array.isArray(value) ? 'a list' : typeof value}`, EXIT.usage);
  return value as Record<string, unknown>;
}

/** `--batch-size` for the field `batchSize`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function checkValue(where: string, key: string, spec: FieldSpec, v: unknown): unknown {
  const subject = where === 'command line' ? `command line: option ${flagName(key)}` : `${where}: field "${key}"`;
  const bad = (expected: string) => new CliError(`${subject} must be ${expected}, found ${JSON.stringify(v)}`, EXIT.usage);
  const num = (x: unknown, integer: boolean): number => {
    const n = typeof x === 'string' && x.trim() !== '' ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw bad(integer ? 'an integer' : 'a number');
    if (spec.min !== undefined && n < spec.min) throw bad(`at least ${spec.min}`);
    if (spec.max !== undefined && n > spec.max) throw bad(`at most ${spec.max}`);
    return n;
  };
  switch (spec.type) {
    case 'string':
      if (typeof v !== 'string') throw bad('a string');
      if (spec.choices && !spec.choices.includes(v)) throw bad(`one of ${spec.choices.join(', ')}`);
      return v;
    case 'number':
      return num(v, false);
    case 'integer':
      return num(v, true);
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw bad('true or false');
    case 'string[]': {
      const arr =
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v;
      if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'string')) throw bad('a list of strings');
      const wrong = spec.choices ? arr.filter((x) => !spec.choices!.includes(x as string)) : [];
      if (wrong.length > 0) throw bad(`a list of ${spec.choices!.join(', ')} (unknown: ${wrong.join(', ')})`);
      return arr;
    }
    case 'image-size': {
      const size = parseImageSizeOption(v);
      if (size === undefined) throw bad(IMAGE_SIZE_FORMS);
      const sides = typeof size === 'number' ? [size] : size;
      if (spec.min !== undefined && sides.some((s) => s < spec.min!)) throw bad(`${IMAGE_SIZE_FORMS} with each side at least ${spec.min}`);
      if (spec.max !== undefined && sides.some((s) => s > spec.max!)) throw bad(`${IMAGE_SIZE_FORMS} with each side at most ${spec.max}`);
      return size;
    }
    case 'number[]':
    case 'integer[]': {
      const arr = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
      if (!Array.isArray(arr) || arr.length === 0) throw bad('a non-empty list of numbers');
      return arr.map((x) => num(x, spec.type === 'integer[]'));
    }
  }
}

/**
 * Merges defaults < config file < flags, validating every field. Unknown fields in the file are errors
 * (listing the known ones), so a typo never goes unnoticed.
 */
export function resolveOptions<T extends Record<string, unknown>>(
  schema: Schema,
  defaults: T,
  file: Record<string, unknown> | undefined,
  filePath: string | undefined,
  flags: Record<string, unknown>,
): T {
  const out: Record<string, unknown> = { ...defaults };
  if (file) {
    for (const [k, v] of Object.entries(file)) {
      const spec = schema[k];
      if (!spec) throw new CliError(`config file ${filePath}: unknown field "${k}"; known fields: ${Object.keys(schema).join(', ')}`, EXIT.usage);
      out[k] = checkValue(`config file ${filePath}`, k, spec, v);
    }
  }
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined) continue;
    const spec = schema[k];
    if (!spec) continue;
    out[k] = checkValue('command line', k, spec, v);
  }
  return out as T;
}
