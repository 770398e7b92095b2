/**
 * `hgm import anomalyclip`: AnomalyCLIP's published prompt learner (`checkpoints/.../epoch_15.pth`, saved by its
 * train.py as `torch.save({"prompt_learner": state_dict})`) as an hgm model: the AnomalyCLIP baseline with the
 * settings of its test.sh, the CLIP weights resolved as `hgm train` resolves them, written as the
 * `model.safetensors` that `hgm detect`, `hgm eval` and `hgm serve` take. The settings are recorded in the model.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { formatImageSize, type ImageSize } from '@hgm/tensor';
import { openTensorFile, atomicWriteFile } from '@hgm/tensor/node';
import { clipConfigFromConstructorArgs, vvBlocksFromDpamLayer, type OpenaiClipConstructorArgs } from '@hgm/backbone';
import type { DualAnchorConfigInput } from '@hgm/dual-anchor';
import { BACKEND_FIELD, resolveCommandOptions, type ActionFactory, type CommandContext } from '../command-context';
import type { Schema } from '../config-file';
import { readConstructorArgs } from './export';
import { CliError, EXIT } from '../exit-codes';
import { DEFAULT_WEIGHTS, createModel, presetConfig } from '../models';

/** test.sh's settings (zqhang/AnomalyCLIP): `--features_list 24 --image_size 518 --depth 9 --n_ctx 12 --t_n_ctx 4`; test.py's DPAM_layer 20 and sigma 4. */
export const ANOMALYCLIP_TEST_SETTINGS = { features: [24], imageSize: 518, depth: 9, nCtx: 12, tNCtx: 4, dpamLayer: 20, sigma: 4 } as const;

const IMPORT_SCHEMA: Schema = {
  file: { type: 'string', description: 'the checkpoint' },
  out: { type: 'string', description: 'the model to write' },
  clipWeights: { type: 'string', description: 'CLIP weights' },
  clipConfig: { type: 'string', description: 'CLIP architecture file' },
  imageSize: { type: 'image-size', min: 8, description: 'input size' },
  features: { type: 'integer[]', min: 1, description: "1-based blocks, as AnomalyCLIP's --features_list" },
  depth: { type: 'integer', min: 1, description: 'deep text prompt depth' },
  nCtx: { type: 'integer', min: 1, description: 'learnable context tokens' },
  tNCtx: { type: 'integer', min: 1, description: 'deep text prompt length' },
  dpamLayer: { type: 'integer', min: 1, description: 'DPAM_layer' },
  sigma: { type: 'number', min: 0, description: 'Gaussian blur of the maps' },
  backend: BACKEND_FIELD,
};

type ImportOptions = {
  file?: string;
  out?: string;
  clipWeights: string;
  clipConfig?: string;
  imageSize: ImageSize;
  features: number[];
  depth: number;
  nCtx: number;
  tNCtx: number;
  dpamLayer: number;
  sigma: number;
  backend: string;
};

export async function runImportAnomalyClip(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const s = ANOMALYCLIP_TEST_SETTINGS;
  const defaults: ImportOptions = { ...s, features: [...s.features], clipWeights: DEFAULT_WEIGHTS.anomalyclip.clip!, backend: 'auto' };
  const o = await resolveCommandOptions(IMPORT_SCHEMA, defaults, flags, ['file', 'out']);
  const file = o.file!;
  let clip: DualAnchorConfigInput['clip'] | undefined;
  if (o.clipConfig !== undefined) {
    const { args, derived } = await readConstructorArgs(o.clipConfig, '--clip-config');
    const visionHeads = derived['vision_heads'];
    clip = clipConfigFromConstructorArgs(args as unknown as OpenaiClipConstructorArgs, {
      name: o.clipConfig,
      ...(typeof visionHeads === 'number' ? { visionHeads } : {}),
    });
  }
  const overrides: DualAnchorConfigInput = {
    name: 'AnomalyCLIP',
    imageSize: o.imageSize,
    layers: o.features.map((l) => l - 1),
    backbone: { kind: 'clip', vvAttentionBlocks: vvBlocksFromDpamLayer(o.dpamLayer), globalToken: 'no-ln-post' },
    blur: { sigma: o.sigma, truncate: 4 },
    staticPrompts: { contextTokens: o.nCtx, deepPromptDepth: o.depth, deepPromptLength: o.tNCtx },
    ...(clip ? { clip } : {}),
  };
  const clipWeights = o.clipWeights;
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
  await ctx.backend(o.backend);
  const model = await createModel({ config: presetConfig('anomalyclip', overrides), clipWeights, log: (l) => ctx.info(l) });
  try {
    const report = await model.model.loadAnomalyClipPrompts(prompts);
    const path = resolve(o.out!);
    await atomicWriteFile(path, await model.saveTrainable());
    const c = model.model.config;
    const settings = {
      imageSize: c.imageSize,
      features: o.features,
      depth: c.staticPrompts.deepPromptDepth,
      nCtx: c.staticPrompts.contextTokens,
      tNCtx: c.staticPrompts.deepPromptLength,
      dpamLayer: o.dpamLayer,
      sigma: c.blur.sigma,
    };
    ctx.result(
      { command: 'import anomalyclip', source: resolve(file), out: path, clipWeights, loaded: report.loaded.length, settings },
      [
        `imported AnomalyCLIP's prompt learner from ${file}: ${report.loaded.length} tensors`,
        `settings: image size ${formatImageSize(c.imageSize)}, features ${o.features.join(',')}, depth ${settings.depth}, n_ctx ${settings.nCtx}, t_n_ctx ${settings.tNCtx}, DPAM layer ${o.dpamLayer}, sigma ${settings.sigma}`,
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
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys); flags override it')
    .option('--json', 'print the result as JSON on stdout')
    .option('--verbose', 'more detail')
    .action(action('import anomalyclip', runImportAnomalyClip));
}
