/**
 * `hgm import anomalyclip`: AnomalyCLIP's published prompt learner (`checkpoints/.../epoch_15.pth`, saved by its
 * train.py as `torch.save({"prompt_learner": state_dict})`) as an hgm model: the AnomalyCLIP baseline with the
 * settings of its test.sh, the CLIP weights resolved as `hgm train` resolves them, written as the
 * `model.safetensors` that `hgm detect`, `hgm eval` and `hgm serve` take. The settings are recorded in the model.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { openTensorFile, atomicWriteFile } from '@hgm/tensor/node';
import { clipConfigFromConstructorArgs, vvBlocksFromDpamLayer, type OpenaiClipConstructorArgs } from '@hgm/backbone';
import type { DualAnchorConfigInput } from '@hgm/dual-anchor';
import type { ActionFactory, CommandContext } from '../command-context';
import { CliError, EXIT } from '../exit-codes';
import { DEFAULT_WEIGHTS, createModel, presetConfig } from '../models';

/** test.sh's settings (zqhang/AnomalyCLIP): `--features_list 24 --image_size 518 --depth 9 --n_ctx 12 --t_n_ctx 4`; test.py's DPAM_layer 20 and sigma 4. */
export const ANOMALYCLIP_TEST_SETTINGS = { features: [24], imageSize: 518, depth: 9, nCtx: 12, tNCtx: 4, dpamLayer: 20, sigma: 4 } as const;

function positiveInteger(flags: Record<string, unknown>, key: string, option: string, fallback: number): number {
  const v = flags[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`option ${option} must be a positive integer, found ${JSON.stringify(v)}`, EXIT.usage);
  return n;
}

function featureList(v: unknown): number[] {
  if (v === undefined) return [...ANOMALYCLIP_TEST_SETTINGS.features];
  const xs = String(v)
    .split(',')
    .map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1))
    throw new CliError(
      `option --features must be comma-separated 1-based block indices as AnomalyCLIP's --features_list, found ${JSON.stringify(v)}`,
      EXIT.usage,
    );
  return xs;
}

/** The CLIP architecture of `--clip-config`: a JSON file with "constructor", openai CLIP's constructor arguments. */
async function clipArchitecture(file: string): Promise<DualAnchorConfigInput['clip']> {
  let doc: { constructor?: unknown; derived?: { vision_heads?: number } };
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as typeof doc;
  } catch (e) {
    throw new CliError(`--clip-config ${file}: ${(e as Error).message}`, EXIT.usage);
  }
  const ctor = Object.prototype.hasOwnProperty.call(doc, 'constructor') ? doc.constructor : undefined;
  if (!ctor || typeof ctor !== 'object') throw new CliError(`--clip-config ${file}: no "constructor" object (openai CLIP's constructor arguments)`, EXIT.usage);
  return clipConfigFromConstructorArgs(ctor as OpenaiClipConstructorArgs, {
    name: file,
    ...(typeof doc.derived?.vision_heads === 'number' ? { visionHeads: doc.derived.vision_heads } : {}),
  });
}

export async function runImportAnomalyClip(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const file = flags['file'] as string | undefined;
  const out = flags['out'] as string | undefined;
  if (!file || !out) throw new CliError('hgm import anomalyclip needs <file.pth> and --out <model.safetensors>', EXIT.usage);
  const s = ANOMALYCLIP_TEST_SETTINGS;
  const features = featureList(flags['features']);
  const dpamLayer = positiveInteger(flags, 'dpamLayer', '--dpam-layer', s.dpamLayer);
  const overrides: DualAnchorConfigInput = {
    name: 'AnomalyCLIP',
    imageSize: positiveInteger(flags, 'imageSize', '--image-size', s.imageSize),
    layers: features.map((l) => l - 1),
    backbone: { kind: 'clip', vvAttentionBlocks: vvBlocksFromDpamLayer(dpamLayer), globalToken: 'no-ln-post' },
    blur: { sigma: positiveInteger(flags, 'sigma', '--sigma', s.sigma), truncate: 4 },
    staticPrompts: {
      contextTokens: positiveInteger(flags, 'nCtx', '--n-ctx', s.nCtx),
      deepPromptDepth: positiveInteger(flags, 'depth', '--depth', s.depth),
      deepPromptLength: positiveInteger(flags, 'tNCtx', '--t-n-ctx', s.tNCtx),
    },
    ...(typeof flags['clipConfig'] === 'string' ? { clip: await clipArchitecture(flags['clipConfig']) } : {}),
  };
  const clipWeights = (flags['clipWeights'] as string | undefined) ?? DEFAULT_WEIGHTS.anomalyclip.clip!;
  // the checkpoint first: a wrong file is found before the CLIP weights are loaded
  const reader = await openTensorFile(resolve(file));
  let prompts;
  try {
    prompts = await reader.readAllHost();
  } finally {
    await reader.close();
  }
  if (![...prompts.keys()].some((k) => k.startsWith('prompt_learner.'))) {
    throw new CliError(
      `${file}: no prompt_learner entry (found ${[...prompts.keys()].slice(0, 5).join(', ') || 'no tensors'}); expected a checkpoint saved by AnomalyCLIP's train.py, torch.save({"prompt_learner": state_dict})`,
      EXIT.dataError,
    );
  }
  await ctx.backend((flags['backend'] as string | undefined) ?? 'auto');
  const model = await createModel({ config: presetConfig('anomalyclip', overrides), clipWeights, log: (l) => ctx.info(l) });
  try {
    const report = await model.model.loadAnomalyClipPrompts(prompts);
    const path = resolve(out);
    await atomicWriteFile(path, await model.saveTrainable());
    const c = model.model.config;
    const settings = {
      imageSize: c.imageSize,
      features: features,
      depth: c.staticPrompts.deepPromptDepth,
      nCtx: c.staticPrompts.contextTokens,
      tNCtx: c.staticPrompts.deepPromptLength,
      dpamLayer,
      sigma: c.blur.sigma,
    };
    ctx.result(
      { command: 'import anomalyclip', source: resolve(file), out: path, clipWeights, loaded: report.loaded.length, settings },
      [
        `imported AnomalyCLIP's prompt learner from ${file}: ${report.loaded.length} tensors`,
        `settings: image size ${settings.imageSize}, features ${features.join(',')}, depth ${settings.depth}, n_ctx ${settings.nCtx}, t_n_ctx ${settings.tNCtx}, DPAM layer ${dpamLayer}, sigma ${settings.sigma}`,
        `written: ${path} (run it with: hgm detect <images> --checkpoint ${path})`,
      ].join('\n'),
    );
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}

export function registerImport(program: Command, action: ActionFactory): void {
  const imp = program.command('import').description("turn another project's published checkpoint into an hgm model");
  imp
    .command('anomalyclip')
    .description(
      "AnomalyCLIP's trained prompt learner (epoch_15.pth of its checkpoints/ folder) as an hgm model, with the settings of its test.sh; run it with hgm detect, eval or serve",
    )
    .argument('<file>', 'the .pth that AnomalyCLIP\'s train.py saved (torch.save({"prompt_learner": state_dict}))')
    .option('--out <file>', 'the model to write (model.safetensors)')
    .option('--clip-weights <name|path>', 'CLIP weights: catalogue name or file (default clip-vit-l-14-336)')
    .option('--clip-config <file>', 'another CLIP architecture: a JSON file with "constructor" (openai CLIP\'s constructor arguments); default ViT-L/14@336px')
    .option('--image-size <n>', `input size (default ${ANOMALYCLIP_TEST_SETTINGS.imageSize}, as test.sh)`)
    .option(
      '--features <list>',
      `1-based blocks whose maps are summed, as --features_list (default ${ANOMALYCLIP_TEST_SETTINGS.features.join(',')}, as test.sh; test.py's default is 6,12,18,24)`,
    )
    .option('--depth <n>', `deep text prompt depth (default ${ANOMALYCLIP_TEST_SETTINGS.depth})`)
    .option('--n-ctx <n>', `learnable context tokens (default ${ANOMALYCLIP_TEST_SETTINGS.nCtx})`)
    .option('--t-n-ctx <n>', `deep text prompt length (default ${ANOMALYCLIP_TEST_SETTINGS.tNCtx})`)
    .option('--dpam-layer <n>', `DPAM_layer: V-V attention in the last n-1 blocks (default ${ANOMALYCLIP_TEST_SETTINGS.dpamLayer})`)
    .option('--sigma <n>', `Gaussian blur of the maps (default ${ANOMALYCLIP_TEST_SETTINGS.sigma})`)
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default auto)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--verbose', 'more detail')
    .action(action('import anomalyclip', runImportAnomalyClip));
}
