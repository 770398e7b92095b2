/** `hgm serve`: the model loaded once behind an HTTP service (see serve/server.ts). */
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { BACKEND_FIELD, CommandContext, resolveCommandOptions, type ActionFactory } from '../command-context';
import type { Schema } from '../config-file';
import { CliError, EXIT } from '../exit-codes';
import { FROZEN_WEIGHT_FIELDS, modelFromCheckpoint } from '../models';
import { DEFAULT_SERVE_LIMITS, type ServeLimits } from '../serve/limits';
import { defaultImageWorkers } from '../serve/image-pool';
import { EXECUTOR_FIELD, EXECUTOR_OPTION_HELP, THREADS_FIELD, THREADS_OPTION_HELP, executorForModel } from '../executor';

export const SERVE_SCHEMA: Schema = {
  checkpoint: { type: 'string', description: 'model.safetensors' },
  host: { type: 'string', description: 'address to listen on' },
  port: { type: 'integer', min: 0, max: 65535, description: 'port (0: any free port)' },
  batchSize: { type: 'integer', min: 1, description: 'largest batch per forward pass' },
  batchWaitMs: { type: 'number', min: 0, description: 'longest wait for a batch to fill (ms)' },
  maxQueue: { type: 'integer', min: 1, description: 'most images waiting for the model' },
  timeoutMs: { type: 'integer', min: 1, description: 'per-request timeout (ms)' },
  bodyLimit: { type: 'integer', min: 1, description: 'largest request body (bytes)' },
  maxPixels: { type: 'integer', min: 1, description: 'largest image (pixels)' },
  logLevel: { type: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], description: 'log level' },
  ...FROZEN_WEIGHT_FIELDS,
  backend: BACKEND_FIELD,
  executor: EXECUTOR_FIELD,
  threads: THREADS_FIELD,
  imageWorkers: { type: 'integer', min: 0, description: 'threads that decode images and draw maps (0: the main thread)' },
  apiKeyFile: { type: 'string', description: 'file holding the API key requests must carry (Authorization: Bearer <key>)' },
  insecureNoAuth: { type: 'boolean', description: 'listen on a non-loopback address without an API key' },
};

type CliLimits = Omit<ServeLimits, 'maxBatchImages'>;

interface ServeOptionsCli extends Record<string, unknown>, CliLimits {
  checkpoint?: string;
  host: string;
  port: number;
  logLevel: string;
  clipWeights?: string;
  backboneWeights?: string;
  backend: string;
  executor: string;
  threads?: number;
  apiKeyFile?: string;
  insecureNoAuth?: boolean;
  imageWorkers?: number;
}

/** The shortest API key accepted. */
export const MIN_API_KEY_LENGTH = 16;

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The API key of `--api-key-file` (its first line, without surrounding white space), or undefined without one.
 * Refuses a missing file, an empty or short key, and a non-loopback `--host` without a key unless
 * `--insecure-no-auth`.
 */
export async function serveApiKey(
  o: { host: string; apiKeyFile?: string; insecureNoAuth?: boolean },
  info: (line: string) => void,
): Promise<string | undefined> {
  if (o.apiKeyFile === undefined) {
    if (isLoopback(o.host)) return undefined;
    if (!o.insecureNoAuth)
      throw new CliError(
        `--host ${o.host}: refusing to serve a non-loopback address without authentication`,
        EXIT.usage,
        'give --api-key-file FILE (clients send Authorization: Bearer <key>), or --insecure-no-auth to serve without a key',
      );
    info(`serve: no API key on ${o.host} (--insecure-no-auth): anyone who reaches this address can use the service`);
    return undefined;
  }
  let text: string;
  try {
    text = await readFile(o.apiKeyFile, 'utf8');
  } catch (e) {
    throw new CliError(`--api-key-file ${o.apiKeyFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, EXIT.usage);
  }
  const key = (text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '').trim();
  if (key.length < MIN_API_KEY_LENGTH || /\s/.test(key))
    throw new CliError(
      `--api-key-file ${o.apiKeyFile}: expected a key of at least ${MIN_API_KEY_LENGTH} characters without spaces on its first line, found ${key.length === 0 ? 'none' : `${key.length} characters`}`,
      EXIT.usage,
      'make one with: openssl rand -hex 32 > FILE',
    );
  try {
    const mode = (await stat(o.apiKeyFile)).mode;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0)
      info(`serve: --api-key-file ${o.apiKeyFile} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  } catch {
    // read above; a stat failure says nothing more
  }
  return key;
}

const { maxBatchImages: _perRequest, ...LIMIT_DEFAULTS } = DEFAULT_SERVE_LIMITS;
const DEFAULTS: ServeOptionsCli = { host: '127.0.0.1', port: 8080, ...LIMIT_DEFAULTS, logLevel: 'info', backend: 'auto', executor: 'auto' };

/** A listen error as a one-line CLI error naming --host / --port, or undefined for other errors. */
function listenError(e: unknown, host: string, port: number): CliError | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new CliError(
      `--port ${port}: ${host}:${port} is already in use`,
      EXIT.unavailable,
      'stop what listens there, or choose another --port (0 picks a free one)',
    );
  if (code === 'EACCES')
    return new CliError(
      `--port ${port}: not allowed to listen on ${host}:${port}`,
      EXIT.unavailable,
      'ports below 1024 need privileges; choose another --port',
    );
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new CliError(`--host ${host}: no such address on this machine`, EXIT.usage);
  return undefined;
}

/** Binds host:port once and lets it go, so that a busy port is reported before the model loads. */
async function probeListen(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const { createServer } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e) => reject(listenError(e, host, port) ?? e));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

export async function runServe(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const o = await resolveCommandOptions(SERVE_SCHEMA, DEFAULTS, flags, ['checkpoint']);
  const apiKey = await serveApiKey(o, (l) => ctx.info(l));
  const imageWorkers = o.imageWorkers ?? defaultImageWorkers();
  await probeListen(o.host, o.port);
  const backend = await ctx.backend(o.backend);
  const { model, info } = await modelFromCheckpoint(o.checkpoint!, { clipWeights: o.clipWeights, backboneWeights: o.backboneWeights, log: (l) => ctx.info(l) });
  const executor = await executorForModel(model, o, (l) => ctx.info(l));
  // Loaded lazily: the other commands do not pay for the HTTP stack.
  const { buildServer } = await import('../serve/server');
  const app = await buildServer({
    model,
    backend: backend.chosen,
    executor,
    modelInfo: { name: info.config.name, checkpoint: info.path },
    limits: {
      batchSize: o.batchSize,
      batchWaitMs: o.batchWaitMs,
      maxQueue: o.maxQueue,
      timeoutMs: o.timeoutMs,
      bodyLimit: o.bodyLimit,
      maxPixels: o.maxPixels,
    },
    logger: { level: o.logLevel },
    ...(apiKey !== undefined ? { apiKey } : {}),
    imageWorkers,
  });
  let signalled: NodeJS.Signals | undefined;
  const closed = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (signalled) return;
      signalled = signal;
      ctx.info(`${signal}: finishing the requests in flight, refusing new ones`);
      void app.close().then(() => resolve());
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  try {
    const address = await app.listen({ host: o.host, port: o.port }).catch((e: unknown) => {
      throw listenError(e, o.host, o.port) ?? e;
    });
    ctx.info(
      `model: ${info.config.name} (${info.path}); image threads: ${imageWorkers === 0 ? 'none (main thread)' : imageWorkers}; listening on ${address}${apiKey !== undefined ? ' (API key required but for /healthz)' : ''}`,
    );
    await closed;
    ctx.info('stopped');
    return EXIT.ok;
  } finally {
    await executor.dispose();
    model.dispose();
  }
}

export function registerServe(program: Command, action: ActionFactory): void {
  program
    .command('serve')
    .description('an HTTP inference service: POST /v1/detect, /v1/detect/batch; GET /healthz, /readyz, /metrics, /docs/json')
    .option('--checkpoint <file>', 'model.safetensors written by hgm train (or its output folder)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', 'port (default 8080; 0 picks a free one)')
    .option('--batch-size <n>', 'largest batch per forward pass (default 8)')
    .option('--batch-wait-ms <ms>', 'longest wait for a batch to fill (default 5)')
    .option('--max-queue <n>', 'most images waiting for the model; more get 503 + Retry-After (default 64)')
    .option('--timeout-ms <ms>', 'per-request timeout, 504 after it (default 30000)')
    .option('--body-limit <bytes>', 'largest request body, 413 above it (default 20971520)')
    .option('--max-pixels <n>', 'largest image in pixels, 413 above it (default 40000000)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or silent (default info; JSON lines on stdout)')
    .option('--clip-weights <name|path>', 'CLIP weights (default: the ones recorded in the checkpoint)')
    .option('--backbone-weights <name|path>', 'DINO weights (default: the ones recorded in the checkpoint)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default auto)')
    .option('--executor <name>', EXECUTOR_OPTION_HELP)
    .option('--threads <n>', THREADS_OPTION_HELP)
    .option(
      '--image-workers <n>',
      'threads that decode and preprocess images and draw maps, off the event loop (default: the cores but one; 0: on the main thread)',
    )
    .option(
      '--api-key-file <file>',
      `file whose first line is the API key (${MIN_API_KEY_LENGTH}+ characters); requests but GET /healthz need Authorization: Bearer <key>, 401 otherwise`,
    )
    .option('--insecure-no-auth', 'serve a non-loopback --host without an API key (refused otherwise)')
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys); flags override it')
    .option('--verbose', 'more detail')
    .addHelpText(
      'after',
      '\nExamples:\n  hgm serve --checkpoint runs/visa/model.safetensors --port 8080\n  curl -s --data-binary @part.png -H "content-type: image/png" "http://127.0.0.1:8080/v1/detect?threshold=0.5"\n\n  openssl rand -hex 32 > api.key && chmod 600 api.key\n  hgm serve --checkpoint runs/visa/model.safetensors --host 0.0.0.0 --api-key-file api.key\n  curl -s -H "authorization: Bearer $(cat api.key)" --data-binary @part.png -H "content-type: image/png" http://HOST:8080/v1/detect',
    )
    .action(action('serve', runServe));
}
