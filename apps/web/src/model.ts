/**
 * The model as the page runs it (inside the Web Worker): rebuilt from a saved model (`model.safetensors` from
 * `hgm train`) exactly as `hgm detect` rebuilds it, and one image at a time turned into an anomaly map and an
 * image score with the same decoding, preprocessing and prediction as `hgm detect`.
 */
import { SafetensorsReader, bufferSource, type HostTensor, type ImageSize } from '@hgm/tensor';
import { ClipTokenizer, prepareSource, readAllTensors } from '@hgm/backbone';
import { buildModel, buildRandomModel, resolveConfig, type DualAnchorConfig, type DualAnchorConfigInput } from '@hgm/dual-anchor';
import { DualAnchorEngineModel, denormalize, predictImages, savedModelRecord, type FrozenWeights } from '@hgm/engine';
import { binarizeMask, preprocessImage, preprocessMask, type DecodedImage } from '@hgm/data';

/** Frozen weights given as files (safetensors bytes), for a model trained on real CLIP/DINO weights. */
export interface FrozenWeightFiles {
  clip?: { name: string; bytes: Uint8Array };
  backbone?: { name: string; bytes: Uint8Array };
}

/** A model ready to run, with what the page says about it. */
export interface PageModel {
  engine: DualAnchorEngineModel;
  config: DualAnchorConfig;
  frozen: FrozenWeights;
  /** Name of the checkpoint it was loaded from. */
  source: string;
}

/** What a checkpoint needs before it can run: the frozen weights it names (none for random frozen weights). */
export function frozenNeeds(bytes: Uint8Array, name: string): Promise<{ frozen: FrozenWeights | undefined; config: DualAnchorConfig }> {
  return SafetensorsReader.open(bufferSource(bytes, name)).then(async (reader) => {
    try {
      const record = savedModelRecord(reader.metadata, name);
      return { frozen: record.frozen, config: parseConfig(record.configText, name) };
    } finally {
      await reader.close();
    }
  });
}

function parseConfig(text: string, name: string): DualAnchorConfig {
  try {
    return resolveConfig(JSON.parse(text) as DualAnchorConfigInput);
  } catch (e) {
    throw new Error(`checkpoint ${name}: its configuration is not valid (${(e as Error).message})`);
  }
}

async function readWeights(file: { name: string; bytes: Uint8Array }, family: 'clip' | 'dino', c: DualAnchorConfig): Promise<Map<string, HostTensor>> {
  const reader = await SafetensorsReader.open(bufferSource(file.bytes, file.name));
  try {
    const numHeads = c.backbone.kind === 'clip' ? c.clip.vision.heads : c.backbone.config.numHeads;
    return await readAllTensors(prepareSource(reader, family === 'dino' ? { context: { numHeads } } : {}).source);
  } finally {
    await reader.close();
  }
}

/**
 * Rebuilds a saved model: random frozen weights come back from their seed; real ones from the files given.
 * @throws Error naming the checkpoint and what does not fit (not an hgm model, missing frozen weights, parameters of another configuration)
 */
export async function loadSavedModel(bytes: Uint8Array, name: string, tokenizer: ClipTokenizer, weights: FrozenWeightFiles = {}): Promise<PageModel> {
  const reader = await SafetensorsReader.open(bufferSource(bytes, name)).catch((e: Error) => {
    throw new Error(`checkpoint ${name}: cannot read it as safetensors (${e.message})`);
  });
  try {
    const record = savedModelRecord(reader.metadata, name);
    const config = parseConfig(record.configText, name);
    let frozen: FrozenWeights;
    let model;
    if (record.frozen?.kind === 'random') {
      frozen = record.frozen;
      model = buildRandomModel(config, tokenizer, { backboneSeed: record.frozen.seed });
    } else {
      const wanted =
        record.frozen?.kind === 'files'
          ? ` (it was trained with ${[record.frozen.clip.name, record.frozen.backbone?.name].filter(Boolean).join(' and ')})`
          : '';
      if (!weights.clip) throw new Error(`checkpoint ${name}: needs the CLIP weights file${wanted}; add it with "frozen weights"`);
      if (config.backbone.kind !== 'clip' && !weights.backbone)
        throw new Error(`checkpoint ${name}: its ${config.backbone.kind} backbone needs its weights file${wanted}`);
      const clip = await readWeights(weights.clip, 'clip', config);
      const backbone = weights.backbone && config.backbone.kind !== 'clip' ? await readWeights(weights.backbone, 'dino', config) : undefined;
      model = await buildModel(config, { clip, ...(backbone ? { backbone } : {}), tokenizer });
      frozen = {
        kind: 'files',
        clip: { name: weights.clip.name, path: weights.clip.name, sizeBytes: weights.clip.bytes.length },
        ...(backbone && weights.backbone
          ? { backbone: { name: weights.backbone.name, path: weights.backbone.name, sizeBytes: weights.backbone.bytes.length } }
          : {}),
      };
    }
    const engine = new DualAnchorEngineModel(model, { backbone: config.backbone.kind, weights: frozen.kind });
    try {
      await engine.loadTrainable(reader);
    } catch (e) {
      engine.dispose();
      throw new Error(`${(e as Error).message} (the checkpoint was trained with another configuration)`);
    }
    return { engine, config, frozen, source: name };
  } finally {
    await reader.close();
  }
}

/** The result for one image. */
export interface ImageResult {
  score: number;
  /** [height * width], 0..1. */
  map: Float32Array;
  /** The model input as 8-bit RGB [height * width * 3]. */
  rgb: Uint8Array;
  /** The model input size: a side, or `[height, width]`. */
  size: ImageSize;
}

/**
 * Anomaly map and image score of one decoded image, as `hgm detect` computes them (preprocess, encode, predict).
 * Every tensor it creates is disposed.
 */
export async function detectImage(engine: DualAnchorEngineModel, image: DecodedImage): Promise<ImageResult> {
  const pixels = preprocessImage(image, engine.preprocess);
  const { scores, maps, size } = await predictImages(engine, [pixels]);
  return { score: scores[0]!, map: maps, rgb: denormalize(pixels, engine.preprocess), size };
}

/** A ground-truth mask at the map's size (nearest neighbour, as the evaluation resizes masks). */
export function maskAtSize(image: DecodedImage, engine: DualAnchorEngineModel): Uint8Array {
  return preprocessMask(binarizeMask(image), engine.preprocess);
}
