/**
 * The `hgm` command line: train, eval, detect, data inspect, weights list|pull|verify, demo, doctor, export onnx,
 * serve, worker, queue status. Results go to stdout (JSON only with --json), messages and progress to stderr;
 * the exit codes are in exit-codes.ts.
 */
import { Command, CommanderError } from 'commander';
import { isHgmError } from '@hgm/tensor';
import { isMainModule } from '@hgm/tensor/node';
import { CommandContext, type ActionFactory, type CommandIo } from './command-context';
import { CliError, EXIT } from './exit-codes';
import { toCliError } from './errors';
import { registerTrain } from './commands/train';
import { registerEval } from './commands/eval';
import { registerDetect } from './commands/detect';
import { registerData } from './commands/data';
import { registerWeights } from './commands/weights';
import { registerDemo } from './commands/demo';
import { registerDoctor } from './commands/doctor';
import { registerExport } from './commands/export';
import { registerImport } from './commands/import';
import { registerServe } from './commands/serve';
import { registerWorker, registerQueue } from './commands/queue';

export const VERSION = '0.1.0';

/** Builds the program; each action stores its exit code in `state.code`. */
export function buildProgram(io: CommandIo, state: { code: number }): Command {
  const program = new Command('hgm')
    .description('zero-shot anomaly detection (Dual-Anchor with Hierarchical Group Merging): train, evaluate, detect')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  const action: ActionFactory =
    (name, fn) =>
    async (...args) => {
      const cmd = args[args.length - 1] as Command;
      const flags: Record<string, unknown> = { ...cmd.opts() };
      cmd.registeredArguments.forEach((arg, i) => {
        const v = args[i];
        if (v !== undefined && !(Array.isArray(v) && v.length === 0)) flags[arg.name()] = v;
      });
      const ctx = new CommandContext({ json: flags['json'] === true, verbose: flags['verbose'] === true }, io);
      try {
        state.code = await fn(flags, ctx);
      } catch (e) {
        const err = toCliError(e);
        io.stderr.write(`hgm ${name}: ${err.message}\n`);
        if (err.hint) io.stderr.write(`hint: ${err.hint}\n`);
        if (err.exitCode === EXIT.software && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
        // --json: scripts read the failure from stdout too, as one JSON object
        if (flags['json'] === true) io.stdout.write(`${JSON.stringify(jsonError(e, err))}\n`);
        state.code = err.exitCode;
      }
    };
  registerDemo(program, action);
  registerTrain(program, action);
  registerEval(program, action);
  registerDetect(program, action);
  registerData(program, action);
  registerWeights(program, action);
  registerDoctor(program, action);
  registerExport(program, action);
  registerImport(program, action);
  registerServe(program, action);
  registerWorker(program, action);
  registerQueue(program, action);
  program.exitOverride();
  for (const c of program.commands) {
    c.exitOverride();
    for (const s of c.commands) s.exitOverride();
  }
  return program;
}

/** Names of the exit codes, the `code` of a `--json` error that no typed library error names. */
const EXIT_NAMES: Record<number, string> = {
  [EXIT.failed]: 'failed',
  [EXIT.usage]: 'usage',
  [EXIT.dataError]: 'data',
  [EXIT.noInput]: 'input-not-found',
  [EXIT.unavailable]: 'unavailable',
  [EXIT.cantCreate]: 'output-not-writable',
  [EXIT.software]: 'internal',
  [EXIT.interrupted]: 'interrupted',
};

/**
 * What `--json` prints on stdout when a command fails: `{"error": {"code", "exit", "message", "hint"?}}`, the
 * code being the library error's stable `code` where there is one, else the exit code's name.
 */
export function jsonError(e: unknown, err: CliError): { error: { code: string; exit: number; message: string; hint?: string } } {
  const code = isHgmError(e) ? e.code : (EXIT_NAMES[err.exitCode] ?? `exit-${err.exitCode}`);
  return { error: { code, exit: err.exitCode, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
}

/**
 * Runs the command line and exits with its code.
 * @param argv process.argv (node, script, ...arguments)
 */
export async function run(argv: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<never> {
  const code = await runCommand(argv.slice(2), io);
  await new Promise<void>((resolve) => io.stdout.write('', () => resolve()));
  process.exit(code);
}

/** Runs the command line and returns the exit code (without exiting). */
export async function runCommand(args: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const state = { code: EXIT.ok as number };
  const program = buildProgram(io, state);
  if (args.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      if (args.includes('--json')) {
        const message = e.message.replace(/^error: /, '');
        io.stdout.write(`${JSON.stringify({ error: { code: 'usage', exit: EXIT.usage, message } })}\n`);
      }
      return EXIT.usage;
    }
    const err = e instanceof CliError ? e : toCliError(e);
    io.stderr.write(`hgm: ${err.message}\n`);
    return err.exitCode;
  }
  return state.code;
}

if (isMainModule(import.meta.url)) void run(process.argv);
