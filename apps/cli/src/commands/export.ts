/** `hgm export onnx`: a frozen vision encoder as an ONNX model for one image size (weights inline, or external above 2 GiB). */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { openSafetensors } from '@hgm/tensor/node';
import { imageHW } from '@hgm/tensor';
import {
  CLIP_VIT_L_14_336,
  ClipModel,
  clipConfigFromConstructorArgs,
  DINOV2_VITL14_REG,
  DINOV3_VITL16,
  Dinov2VisionTransformer,
  Dinov3VisionTransformer,
  dinov2ConfigFromReference,
  dinov3ConfigFromReference,
  prepareSource,
  readAllTensors,
  type ClipConfig,
  type Dinov2Config,
  type Dinov3Config,
  type OpenaiClipConstructorArgs,
} from '@hgm/backbone';
import { WeightsManager } from '@hgm/backbone/node';
import { exportVisionGraph, writeOnnxModel } from '@hgm/onnx';
import type { ActionFactory, CommandContext } from '../command-context';
import { CliError, EXIT } from '../exit-codes';
import { IMAGE_SIZE_FORMS, parseImageSizeOption } from '../image-size-option';

/** Named architectures, and the families whose architecture comes from `--config`. */
const NAMED = {
  'dinov3-vitl16': { family: 'dinov3', config: DINOV3_VITL16 },
  'dinov2-vitl14-reg': { family: 'dinov2', config: DINOV2_VITL14_REG },
  'clip-vit-l-14-336': { family: 'clip', config: CLIP_VIT_L_14_336 },
} as const;
const FAMILIES = ['dinov3', 'dinov2', 'clip'] as const;

type Arch = { family: 'dinov3'; config: Partial<Dinov3Config> } | { family: 'dinov2'; config: Partial<Dinov2Config> } | { family: 'clip'; config: ClipConfig };

async function architecture(backbone: string, configFile: string | undefined): Promise<Arch> {
  if (backbone in NAMED) {
    if (configFile) throw new CliError(`--config is for --backbone ${FAMILIES.join('|')}; ${backbone} is a named architecture`, EXIT.usage);
    return NAMED[backbone as keyof typeof NAMED] as Arch;
  }
  if (!(FAMILIES as readonly string[]).includes(backbone)) {
    throw new CliError(`option --backbone must be one of ${[...Object.keys(NAMED), ...FAMILIES].join(', ')}, found ${JSON.stringify(backbone)}`, EXIT.usage);
  }
  if (!configFile)
    throw new CliError(`--backbone ${backbone} needs --config (a JSON file with "constructor": the reference constructor's arguments)`, EXIT.usage);
  const { args } = await readConstructorArgs(configFile, '--config');
  if (backbone === 'dinov3') return { family: 'dinov3', config: dinov3ConfigFromReference(args) };
  if (backbone === 'dinov2') return { family: 'dinov2', config: dinov2ConfigFromReference(args) };
  return { family: 'clip', config: clipConfigFromConstructorArgs(args as unknown as OpenaiClipConstructorArgs, { name: configFile }) };
}

/**
 * A JSON file with "constructor" (a reference model's constructor arguments, as the golden fixtures' config.json
 * records them) and optionally "derived" (values derived from them, such as `vision_heads`).
 * @throws CliError (exit 64) naming the option and the file when it is unreadable or has no "constructor" object
 */
export async function readConstructorArgs(file: string, option: string): Promise<{ args: Record<string, unknown>; derived: Record<string, unknown> }> {
  let doc: { constructor?: unknown; derived?: unknown };
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as typeof doc;
  } catch (e) {
    throw new CliError(`${option} ${file}: ${(e as Error).message}`, EXIT.usage);
  }
  const ctor = Object.prototype.hasOwnProperty.call(doc, 'constructor') ? doc.constructor : undefined;
  if (!ctor || typeof ctor !== 'object') throw new CliError(`${option} ${file}: no "constructor" object (the reference constructor's arguments)`, EXIT.usage);
  const derived = doc.derived && typeof doc.derived === 'object' ? (doc.derived as Record<string, unknown>) : {};
  return { args: ctor as Record<string, unknown>, derived };
}

function parseLayers(s: string | undefined): number[] | undefined {
  if (s === undefined) return undefined;
  const xs = s.split(',').map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 0))
    throw new CliError(`option --layers must be comma-separated 0-based block indices, found ${JSON.stringify(s)}`, EXIT.usage);
  return xs;
}

export async function runExportOnnx(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const backbone = flags['backbone'] as string | undefined;
  const weights = flags['weights'] as string | undefined;
  const out = flags['out'] as string | undefined;
  if (!backbone || !weights || !out || flags['imageSize'] === undefined)
    throw new CliError('hgm export onnx needs --backbone, --weights, --image-size and --out', EXIT.usage);
  const size = parseImageSizeOption(flags['imageSize']);
  if (size === undefined) throw new CliError(`option --image-size must be ${IMAGE_SIZE_FORMS}, found ${JSON.stringify(flags['imageSize'])}`, EXIT.usage);
  const [height, width] = imageHW(size);
  const externalData = (flags['externalData'] as string | undefined) ?? 'auto';
  if (!['auto', 'always', 'never'].includes(externalData))
    throw new CliError(`option --external-data must be auto, always or never, found ${JSON.stringify(externalData)}`, EXIT.usage);
  const vvBlocks = flags['vvBlocks'] === undefined ? 0 : Number(flags['vvBlocks']);
  if (!Number.isInteger(vvBlocks) || vvBlocks < 0)
    throw new CliError(`option --vv-blocks must be a non-negative integer, found ${JSON.stringify(flags['vvBlocks'])}`, EXIT.usage);
  const arch = await architecture(backbone, flags['config'] as string | undefined);
  const layers = parseLayers(flags['layers'] as string | undefined);
  await ctx.backend('cpu');
  const resolved = await new WeightsManager().resolve(weights);
  ctx.info(`weights: ${resolved.path} (${resolved.source})`);
  const reader = await openSafetensors(resolved.path);
  let model: ClipModel | Dinov2VisionTransformer | Dinov3VisionTransformer;
  try {
    const numHeads = arch.family === 'clip' ? arch.config.vision.heads : (arch.config.numHeads ?? 16);
    const tensors = await readAllTensors(prepareSource(reader, arch.family === 'clip' ? {} : { context: { numHeads } }).source);
    const source = { source: resolved.path };
    model =
      arch.family === 'clip'
        ? await ClipModel.fromStateDict(arch.config, tensors, {
            towers: 'vision',
            vvAttentionBlocks: vvBlocks,
            ignore: ['^prompt_learner\\.'],
            source: resolved.path,
          })
        : arch.family === 'dinov2'
          ? await Dinov2VisionTransformer.fromStateDict(arch.config, tensors, { load: source })
          : await Dinov3VisionTransformer.fromStateDict(arch.config, tensors, { load: source });
  } catch (e) {
    throw new CliError(`--weights ${weights}: ${(e as Error).message}`, EXIT.dataError);
  } finally {
    await reader.close();
  }
  try {
    const graph = await exportVisionGraph(model, { imageSize: size, ...(layers ? { layers } : {}) });
    const path = resolve(out);
    await mkdir(dirname(path), { recursive: true });
    const written = writeOnnxModel(graph, path, { externalData: externalData as 'auto' | 'always' | 'never' });
    const lines = [
      `written: ${written.modelPath} (${(written.modelBytes / 2 ** 20).toFixed(1)} MiB)${written.dataPath ? `, weights in ${written.dataPath} (${(written.weightBytes / 2 ** 20).toFixed(1)} MiB)` : ''}`,
      `input: pixel_values [batch, 3, ${height}, ${width}]`,
    ];
    ctx.result({ command: 'export onnx', backbone, imageSize: size, ...written }, lines.join('\n'));
    return EXIT.ok;
  } catch (e) {
    throw new CliError(`export: ${(e as Error).message}`, EXIT.software);
  } finally {
    model.dispose();
  }
}

export function registerExport(program: Command, action: ActionFactory): void {
  const e = program.command('export').description('export a frozen encoder for other runtimes');
  e.command('onnx')
    .description('a vision encoder as an ONNX model for one image size (positional tables baked in; weights in <out>.data above 2 GiB)')
    .option('--backbone <name>', `${Object.keys(NAMED).join(', ')}, or ${FAMILIES.join('|')} with --config`)
    .option('--config <file>', 'JSON file with "constructor": the reference constructor arguments (for --backbone dinov3|dinov2|clip)')
    .option('--weights <name|path>', 'safetensors checkpoint (catalogue name or path)')
    .option('--image-size <size>', 'input size: a side in pixels (512) or WIDTHxHEIGHT (512x384: 512 wide, 384 high), each side a multiple of the patch size')
    .option('--layers <list>', 'comma-separated 0-based blocks to output (default: the last)')
    .option('--vv-blocks <n>', 'CLIP only: AnomalyCLIP V-V attention in the last n blocks (default 0)')
    .option('--external-data <mode>', 'auto (above 2 GiB), always or never (default auto)')
    .option('--out <file>', 'the .onnx file to write')
    .option('--json', 'print the result as JSON on stdout')
    .option('--verbose', 'more detail')
    .addHelpText(
      'after',
      '\nExample:\n  hgm export onnx --backbone dinov3-vitl16 --weights dinov3-vitl16 --image-size 512 --layers 5,11,17,23 --out dinov3-512.onnx',
    )
    .action(action('export onnx', runExportOnnx));
}
