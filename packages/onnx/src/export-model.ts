import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { ClipModel, type DinoVisionTransformer, type Dinov2Config, type Dinov3Config } from '@hgm/backbone';
import { imageHW, imageSizeProblems, type ImageSize } from '@hgm/tensor';
import type { GraphBuilder } from './graph-builder';
import { clipPositionalFeeds, dinoPositionalFeeds } from './onnx-image-encoder';
import { clipVisionGraph, dinoGraph, tfjsWeightReader, type PositionalSource } from './vit-graphs';

/** Protobuf messages cannot exceed 2 GiB: above this, weights go to an external data file. */
export const INLINE_LIMIT_BYTES = 2 ** 31 - 2 ** 24;

/** Options of {@link exportVisionGraph}. */
export interface ExportGraphOptions {
  /**
   * Input size in pixels, a side for a square input or `[height, width]`, each a multiple of the patch size;
   * the positional tables are baked for it.
   */
  imageSize: ImageSize;
  /** 0-based blocks whose outputs the graph returns (default: the last). */
  layers?: readonly number[];
}

/**
 * The ONNX graph of a loaded vision encoder for one image size, positional tables baked in: the only input is
 * `pixel_values` [batch, 3, height, width]. CLIP outputs `image_embeds`, `global_feature` and
 * `patch_features.{l}`; DINO outputs `prenorm`, `norm`, `block.{l}` and `block_norm.{l}`.
 */
export async function exportVisionGraph(
  model: ClipModel | (DinoVisionTransformer & { config: Dinov2Config | Dinov3Config }),
  options: ExportGraphOptions,
): Promise<GraphBuilder> {
  const size = options.imageSize;
  const patch = model instanceof ClipModel ? model.config.vision.patchSize : model.config.patchSize;
  const problems = imageSizeProblems('image size', size, patch);
  if (problems.length > 0) throw new Error(`export: ${problems.join('; ')}`);
  const [height, width] = imageHW(size);
  const grid: [number, number] = [height / patch, width / patch];
  const positional = model instanceof ClipModel ? clipPositionalFeeds(model) : dinoPositionalFeeds(model);
  let source: PositionalSource;
  try {
    const tables: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, t] of Object.entries(await positional.feeds(grid))) tables[name] = { data: t.data, shape: [...t.dims] };
    source = { kind: 'baked', tables };
  } finally {
    positional.dispose();
  }
  if (model instanceof ClipModel) {
    return clipVisionGraph(model.config, tfjsWeightReader(model.params), {
      layers: options.layers ?? [model.config.vision.layers - 1],
      vvAttentionBlocks: model.vision.vvAttentionBlocks,
      positional: source,
    });
  }
  const spec =
    model.info.family === 'dinov2'
      ? ({ family: 'dinov2', config: model.config as Dinov2Config } as const)
      : ({ family: 'dinov3', config: model.config as Dinov3Config } as const);
  return dinoGraph(spec, tfjsWeightReader(model.params), { layers: options.layers ?? [model.config.depth - 1], positional: source });
}

/** What {@link writeOnnxModel} wrote. */
export interface WrittenModel {
  modelPath: string;
  /** The external data file, when the weights went there. */
  dataPath?: string;
  modelBytes: number;
  weightBytes: number;
}

/**
 * Writes a graph to `path` (atomically: temporary files renamed into place). Weights go to `<name>.data`
 * beside it when `externalData` is `always`, or `auto` (default) and they exceed what one protobuf holds.
 */
export function writeOnnxModel(graph: GraphBuilder, path: string, options: { externalData?: 'auto' | 'always' | 'never' } = {}): WrittenModel {
  const mode = options.externalData ?? 'auto';
  const weightBytes = graph.weightBytes();
  const external = mode === 'always' || (mode === 'auto' && weightBytes > INLINE_LIMIT_BYTES);
  if (!external && weightBytes > INLINE_LIMIT_BYTES)
    throw new Error(`export ${path}: ${weightBytes} bytes of weights do not fit in one protobuf (limit 2 GiB); use external data`);
  const tmpModel = `${path}.tmp-${process.pid}`;
  const dataPath = `${path}.data`;
  const tmpData = `${dataPath}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    let model: Uint8Array;
    if (external) {
      fd = openSync(tmpData, 'w');
      const f = fd;
      model = graph.toModel({ kind: 'external', location: basename(dataPath), write: (chunk) => void writeSync(f, chunk) });
      closeSync(fd);
      fd = undefined;
    } else model = graph.toModel();
    const mfd = openSync(tmpModel, 'w');
    try {
      writeSync(mfd, model);
    } finally {
      closeSync(mfd);
    }
    if (external) renameSync(tmpData, dataPath);
    renameSync(tmpModel, path);
    return { modelPath: path, ...(external ? { dataPath } : {}), modelBytes: model.byteLength, weightBytes };
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmpModel, { force: true });
    rmSync(tmpData, { force: true });
    throw e;
  }
}
