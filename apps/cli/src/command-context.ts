/**
 * What every command shares: where text goes (results on stdout, messages and progress on stderr, only
 * the JSON result on stdout with --json), the config file merged under the flags, and the backend.
 */
import type { CliBackendReport } from './backend';
import type { ProgressListener } from '@hgm/engine';
import { readConfigFile, resolveOptions, flagName, type Schema } from './config-file';
import { CliError, EXIT } from './exit-codes';
import { chooseMode, progressView } from './progress-view';
import { BACKEND_CHOICES, startBackend } from './backend';

/** Options every model-running command takes. */
export interface CommonFlags {
  json?: boolean;
  verbose?: boolean;
  config?: string;
}

/** A command's body: parsed flags in, exit code out. */
export type CommandFn = (flags: Record<string, unknown>, ctx: CommandContext) => Promise<number>;

/** Wraps a command's body into a commander action (see `buildProgram` in main.ts). */
export type ActionFactory = (name: string, fn: CommandFn) => (...args: unknown[]) => Promise<void>;

/** Where a command writes. Tests and the demo can capture it. */
export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WriteStream;
}

export class CommandContext {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly progress: ProgressListener;

  constructor(
    flags: CommonFlags,
    readonly io: CommandIo = { stdout: process.stdout, stderr: process.stderr },
  ) {
    this.json = flags.json ?? false;
    this.verbose = flags.verbose ?? false;
    this.progress = progressView({ mode: chooseMode(this.json, io.stderr), stream: io.stderr });
  }

  /** A message for the person at the terminal (stderr; silent with --json). */
  info(line: string): void {
    if (!this.json) this.io.stderr.write(`${line}\n`);
  }

  /** Detail shown with --verbose only. */
  detail(line: string): void {
    if (this.verbose && !this.json) this.io.stderr.write(`${line}\n`);
  }

  /** A warning (stderr, also with --json). */
  warn(line: string): void {
    this.io.stderr.write(`warning: ${line}\n`);
  }

  /** The command's result: JSON on stdout with --json, else the human text on stdout. */
  result(value: unknown, human: string): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else if (human) this.io.stdout.write(human.endsWith('\n') ? human : `${human}\n`);
  }

  async backend(request: string): Promise<CliBackendReport> {
    return startBackend(request, { verbose: this.verbose, quiet: this.json, log: (l) => this.io.stderr.write(`${l}\n`) });
  }
}

/** The `--backend` field of every schema. */
export const BACKEND_FIELD = { type: 'string', choices: BACKEND_CHOICES, description: 'tfjs backend' } as const;

/**
 * Merges defaults < config file (--config) < flags and checks the required fields.
 * @param flags commander's parsed options (undefined = not given)
 */
export async function resolveCommandOptions<T extends Record<string, unknown>>(
  schema: Schema,
  defaults: T,
  flags: Record<string, unknown>,
  required: readonly (keyof T & string)[] = [],
): Promise<T> {
  const configPath = typeof flags['config'] === 'string' ? flags['config'] : undefined;
  const file = configPath ? await readConfigFile(configPath) : undefined;
  const merged = resolveOptions(schema, defaults, file, configPath, flags);
  const missing = required.filter((k) => merged[k] === undefined || merged[k] === '' || (Array.isArray(merged[k]) && (merged[k] as unknown[]).length === 0));
  if (missing.length > 0) {
    throw new CliError(
      `missing ${missing.map((k) => `${flagName(k)}${configPath ? ` (or "${k}" in ${configPath})` : ''}`).join(', ')}`,
      EXIT.usage,
      'see --help',
    );
  }
  return merged;
}
