/**
 * `npm run data:inspect -- <root> [--format <format>] [--skip-corrupt] [--json] [--visa-split <file>]`
 *
 * Prints the per-category summary of a dataset and every problem found, each naming its file; exits 1 when
 * the set has errors, 2 on a usage error.
 */
import { isMainModule } from '@hgm/tensor/node';
import { formatInspectReport, inspectDataset } from './inspect';
import { nodeFileSystem } from './node-file-system';
import { DATASET_FORMATS, type DatasetFormat } from './sample';
import { ConfigError } from '@hgm/tensor';

export const INSPECT_USAGE = `usage: data:inspect <root> [--format ${DATASET_FORMATS.join('|')}] [--skip-corrupt] [--json] [--visa-split <csv>]`;

/** Parsed command line of the inspect command. */
export interface InspectArgs {
  root: string;
  format?: DatasetFormat;
  skipCorrupt: boolean;
  json: boolean;
  visaSplitFile?: string;
}

/** Parses the inspect command's arguments; throws a usage message on a bad one. */
export function parseInspectArgs(argv: string[]): InspectArgs {
  const args: Partial<InspectArgs> & { skipCorrupt: boolean; json: boolean } = { skipCorrupt: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new ConfigError(`${a} needs a value\n${INSPECT_USAGE}`);
      return v;
    };
    if (a === '--format') {
      const f = value();
      if (!DATASET_FORMATS.includes(f as DatasetFormat))
        throw new ConfigError(`unknown format '${f}' (expected one of ${DATASET_FORMATS.join(', ')})\n${INSPECT_USAGE}`);
      args.format = f as DatasetFormat;
    } else if (a === '--skip-corrupt') args.skipCorrupt = true;
    else if (a === '--json') args.json = true;
    else if (a === '--visa-split') args.visaSplitFile = value();
    else if (a === '--help' || a === '-h') throw new ConfigError(INSPECT_USAGE);
    else if (a.startsWith('--')) throw new ConfigError(`unknown option ${a}\n${INSPECT_USAGE}`);
    else if (args.root === undefined) args.root = a;
    else throw new ConfigError(`unexpected argument '${a}' (the root is ${args.root})\n${INSPECT_USAGE}`);
  }
  if (args.root === undefined) throw new ConfigError(`missing <root>\n${INSPECT_USAGE}`);
  return args as InspectArgs;
}

/**
 * Runs the inspect command: writes the report (text or JSON) to `out`, usage errors to `err`.
 * @returns the exit code: 0 clean, 1 errors in the set, 2 usage error
 */
export async function runInspectCommand(
  argv: string[],
  io: { out: (s: string) => void; err: (s: string) => void } = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
): Promise<number> {
  let args: InspectArgs;
  try {
    args = parseInspectArgs(argv);
  } catch (e) {
    io.err(`${(e as Error).message}\n`);
    return 2;
  }
  const report = await inspectDataset(args.root, {
    fs: nodeFileSystem,
    skipCorrupt: args.skipCorrupt,
    ...(args.format ? { format: args.format } : {}),
    ...(args.visaSplitFile ? { visaSplitFile: args.visaSplitFile } : {}),
  });
  io.out(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatInspectReport(report)}\n`);
  return report.ok ? 0 : 1;
}

if (isMainModule(import.meta.url)) {
  runInspectCommand(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`data:inspect failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
