/** `hgm weights list|pull|verify`: the known checkpoints, the cache, downloads and checks. */
import type { Command } from 'commander';
import { RANDOM_WEIGHTS_NAMES, randomWeightsPlan } from '@hgm/backbone';
import { WeightsManager, writeRandomWeightsFile, type DownloadProgress } from '@hgm/backbone/node';
import { CommandContext, type ActionFactory } from '../command-context';
import { CliError, EXIT } from '../exit-codes';

function manager(flags: Record<string, unknown>): WeightsManager {
  try {
    return new WeightsManager({
      ...(typeof flags['cacheDir'] === 'string' ? { cacheDir: flags['cacheDir'] } : {}),
      ...(flags['offline'] === true ? { offline: true } : {}),
    });
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.usage);
  }
}

function mib(n: number | undefined): string {
  return n === undefined ? '?' : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

export async function runWeightsList(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const m = manager(flags);
  const list = await m.list();
  const lines = [`cache: ${m.options.cacheDir}${m.options.offline ? ' (offline)' : ''}`];
  for (const e of list) {
    const state = e.files.every((f) => f.cached)
      ? `cached (${mib(e.files.reduce((a, f) => a + (f.sizeBytes ?? 0), 0))})`
      : e.files.some((f) => f.partialBytes)
        ? 'partly downloaded'
        : 'not cached';
    lines.push(`${e.name.padEnd(22)} ${state.padEnd(24)} ${e.repo}${e.gated ? ' (gated: needs HF_TOKEN)' : ''}`);
    if (ctx.verbose) lines.push(`  ${e.description}`, ...e.files.map((f) => `  ${f.url} -> ${f.cachePath}`));
  }
  ctx.result({ cacheDir: m.options.cacheDir, offline: m.options.offline, weights: list }, lines.join('\n'));
  return EXIT.ok;
}

export async function runWeightsPull(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const name = flags['name'] as string;
  const m = manager(flags);
  m.entry(name);
  let lastPrint = 0;
  const onProgress = (p: DownloadProgress) => {
    const now = Date.now();
    if (p.phase === 'data' && now - lastPrint < 1000) return;
    lastPrint = now;
    const pct = p.totalBytes ? ` (${((100 * p.receivedBytes) / p.totalBytes).toFixed(1)}%)` : '';
    ctx.info(`${name}: ${p.phase} ${mib(p.receivedBytes)}${p.totalBytes ? ` of ${mib(p.totalBytes)}` : ''}${pct}`);
  };
  const r = await m.pull(name, { onProgress });
  ctx.result(
    { name, source: r.source, paths: r.paths },
    `${name}: ${r.source === 'download' ? 'downloaded to' : 'already in the cache at'} ${r.paths.join(', ')}`,
  );
  return EXIT.ok;
}

export async function runWeightsVerify(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const target = flags['target'] as string;
  const m = manager(flags);
  const files = await m.verify(target);
  const lines = files.map((f) =>
    f.ok
      ? `ok       ${f.path} (${f.keyFormat}, ${f.tensorCount} tensors, ${mib(f.sizeBytes)}, sha256 ${f.sha256})`
      : `FAILED   ${f.path}\n${f.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  const ok = files.every((f) => f.ok);
  ctx.result({ target, ok, files }, lines.join('\n'));
  return ok ? EXIT.ok : EXIT.failed;
}

export async function runWeightsRandom(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const name = flags['name'] as string;
  const out = flags['out'];
  if (typeof out !== 'string' || out === '') throw new CliError('--out FILE is required (the safetensors file to write)', EXIT.usage);
  const seedText = flags['seed'] === undefined ? '0' : String(flags['seed']);
  const seed = Number(seedText);
  if (!Number.isInteger(seed) || seed < 0) throw new CliError(`--seed must be a non-negative integer, found ${seedText}`, EXIT.usage);
  if (!(RANDOM_WEIGHTS_NAMES as readonly string[]).includes(name)) {
    throw new CliError(`no random weights for ${JSON.stringify(name)}`, EXIT.usage, `known names: ${RANDOM_WEIGHTS_NAMES.join(', ')}`);
  }
  const plan = randomWeightsPlan(name);
  const bytes = plan.entries.reduce((sum, e) => sum + 4 * e.shape.reduce((a, b) => a * b, 1), 0);
  ctx.info(`weights random: ${name} (${plan.entries.length} tensors, ${mib(bytes)}, ${plan.keyFormat} key names), seed ${seed} -> ${out}`);
  let last = 0;
  const r = await writeRandomWeightsFile(out, name, seed, (done, total) => {
    const now = Date.now();
    if (now - last < 2000 && done < total) return;
    last = now;
    ctx.info(`weights random: ${done} of ${total} tensors`);
  });
  ctx.result(
    { name, seed, out, random: true, keyFormat: plan.keyFormat, tensors: r.tensors, sizeBytes: r.sizeBytes },
    `wrote ${out}: RANDOM ${name} weights (seed ${seed}; ${r.tensors} tensors, ${mib(r.sizeBytes)}), marked as random in the file's metadata; use it with --clip-weights / --backbone-weights for a run of every code path (it detects nothing)`,
  );
  return EXIT.ok;
}

export function registerWeights(program: Command, action: ActionFactory): void {
  const w = program.command('weights').description('pretrained weights: list the catalogue and the cache, download, verify');
  const common = (c: Command) =>
    c
      .option('--cache-dir <dir>', 'cache folder (default $HGM_CACHE or ~/.cache/hgm)')
      .option('--offline', 'never use the network (also $HGM_OFFLINE=1)')
      .option('--json', 'print the result as JSON on stdout')
      .option('--verbose', 'more detail');
  common(w.command('list').description('the known weights and whether they are cached')).action(action('weights list', runWeightsList));
  common(
    w
      .command('pull')
      .description('download a catalogued checkpoint into the cache (resumable; checked against its SHA-256 where known)')
      .argument('<name>', 'catalogue name (see hgm weights list)'),
  )
    .addHelpText('after', '\nExample:\n  hgm weights pull clip-vit-l-14-336\n  HF_TOKEN=... hgm weights pull dinov3-vitl16   # gated on the hub')
    .action(action('weights pull', runWeightsPull));
  common(
    w
      .command('verify')
      .description(
        'check a cached checkpoint or any weights file (safetensors or PyTorch .pth / .pt / .bin): header, key format, expected shapes, size and SHA-256 (exit 1 on a problem)',
      )
      .argument('<target>', 'catalogue name or file path'),
  ).action(action('weights verify', runWeightsVerify));
  common(
    w
      .command('random')
      .description(
        "write seeded random weights with a checkpoint's real key names and shapes (safetensors, marked random): every code path of a real run with no download; they detect nothing",
      )
      .argument('<name>', `catalogue name: ${RANDOM_WEIGHTS_NAMES.join(', ')}`)
      .option('--seed <n>', 'seed (default 0; the same seed gives the same file)')
      .option('--out <file>', 'the .safetensors file to write (required)'),
  )
    .addHelpText('after', '\nExample:\n  hgm weights random dinov3-vitl16 --seed 1 --out dinov3-random.safetensors')
    .action(action('weights random', runWeightsRandom));
}
