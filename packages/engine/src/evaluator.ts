/**
 * Zero-shot evaluation: per category and the mean over categories, every metric of @hgm/metrics, maps
 * smoothed as the model does at test time; tables as Markdown, CSV and JSON; heat maps and overlays as PNG.
 */
import { join } from 'node:path';
import { atomicWriteFile } from '@hgm/tensor/node';
import { loadSample, preprocessImage, type DatasetFileSystem, type DatasetSample, type ImageDecoder } from '@hgm/data';
import { PixelSet, evaluateMetrics, parseMetricName, type PixelSetState } from '@hgm/metrics';
import type { EngineModel } from './engine-model';
import { FeatureCache } from './feature-cache';
import { loadFeatureBatch, prepareSamples, type PreparedSample } from './features';
import { denormalize, heatmapPng, overlayPng, rgbPng, maskPng } from './map-images';
import { colorBarPng, originalMapPngs } from './original-maps';
import { uniqueOutputNames } from './output-names';
import type { MapSize } from './detector';
import { RateMeter, type ProgressListener } from './progress';

/** The metrics reported by default (the thesis's five, plus AUPRO@0.3 as the field reports it). */
export const DEFAULT_EVAL_METRICS = ['image_auroc', 'image_f1_max', 'image_ap', 'pixel_auroc', 'pixel_ap', 'aupro_mvtec@0.3'] as const;

export interface EvaluateOptions {
  model: EngineModel;
  samples: readonly DatasetSample[];
  fs: DatasetFileSystem;
  featureCacheDir: string;
  /** Folder for metrics.{md,csv,json} and, with saveMaps, maps/<category>/<defect>/<name>_{heatmap,overlay}.png. */
  outDir?: string;
  metrics?: readonly string[];
  batchSize?: number;
  /** Write heat maps and overlays for every image (default false). */
  saveMaps?: boolean;
  /** `original` (default): saved maps at each image's size and aspect; `model`: the model's S x S view. */
  mapSize?: MapSize;
  /** The image decoder (default `decodeImage`, the pure-JS codecs; Node callers pass `nodeImageDecoder()`). */
  decode?: ImageDecoder;
  /** Keep the maps of up to this many images per category in memory for reports (default 0). */
  keepExamples?: number;
  onProgress?: ProgressListener;
  counters?: { encoderCalls: number; encodedImages: number };
}

/** One metric value or why it is undefined (e.g. a category without anomalous pixels has no AUPRO). */
export type MetricCell = { value: number } | { error: string };

export interface CategoryResult {
  category: string;
  images: number;
  anomalous: number;
  metrics: Record<string, MetricCell>;
  /**
   * Set when some anomalous images have no ground-truth mask: their pixel labels are unknown, so pixel
   * metrics are computed over the images that have one (and every normal image), or are n/a when none has.
   */
  pixelNote?: string;
}

export interface EvaluationExample {
  category: string;
  sample: DatasetSample;
  score: number;
  /** PNG bytes. */
  input: Uint8Array;
  groundTruth: Uint8Array;
  heatmap: Uint8Array;
  overlay: Uint8Array;
}

export interface EvaluationResult {
  metrics: string[];
  categories: CategoryResult[];
  /** Mean over categories of each metric (over the categories where it is defined). */
  mean: Record<string, MetricCell & { categories?: number }>;
  /** Image scores in sample order. */
  scores: { imagePath: string; category: string; label: number; score: number }[];
  examples: EvaluationExample[];
  files: string[];
}

/** What one category's images (or a shard of them) have accumulated: image scores and the pixel set. */
interface CategoryAccumulator {
  category: string;
  scores: ShardImageScore[];
  pixels: PixelSet;
  anomalousWithMask: number;
  anomalousWithoutMask: number;
}

/** The image score of one evaluated image. */
export interface ShardImageScore {
  imagePath: string;
  label: number;
  score: number;
}

/** What scoring writes and reports besides the accumulator. */
interface ScoringContext {
  model: EngineModel;
  cache: FeatureCache;
  fs: DatasetFileSystem;
  decode?: ImageDecoder;
  batchSize: number;
  outDir?: string;
  saveMaps: boolean;
  mapSize: MapSize;
  /** Map file name (no folder, no suffix) by image path. */
  mapNames: ReadonlyMap<string, string>;
  keepExamples: number;
  examples: EvaluationExample[];
  files: string[];
  /** Called after each batch with its size. */
  onBatch: (images: number) => void;
}

const MAP_NORM = { min: 0, max: 1 };

/** Map names, unique inside each maps/<category>/<defect>/ folder (Y92.jpg and Y92.png get Y92_jpg, Y92_png). */
export function evaluationMapNames(samples: readonly DatasetSample[]): Map<string, string> {
  const mapNames = new Map<string, string>();
  const folders = new Map<string, string[]>();
  for (const s of samples) {
    const k = `${s.category}\u0000${s.defectType}`;
    folders.set(k, [...(folders.get(k) ?? []), s.imagePath]);
  }
  for (const paths of folders.values()) for (const [path, name] of uniqueOutputNames(paths)) mapNames.set(path, name);
  return mapNames;
}

/** The samples grouped by category, categories in the order the tables list them. */
export function samplesByCategory<T extends { sample: DatasetSample } | DatasetSample>(items: readonly T[]): [string, T[]][] {
  const byCategory = new Map<string, T[]>();
  for (const item of items) {
    const category = 'sample' in item ? item.sample.category : item.category;
    const list = byCategory.get(category) ?? [];
    list.push(item);
    byCategory.set(category, list);
  }
  return [...byCategory.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Scores prepared samples of one category in batches: image scores, pixel set, maps and examples. */
async function scoreSamples(ctx: ScoringContext, list: readonly PreparedSample[], acc: CategoryAccumulator): Promise<void> {
  const { model, fs, decode } = ctx;
  const size = model.preprocess.size;
  const category = acc.category;
  let kept = 0;
  for (let i = 0; i < list.length; i += ctx.batchSize) {
    const batch = list.slice(i, i + ctx.batchSize);
    const features = await loadFeatureBatch(ctx.cache, batch);
    const pred = model.predict(features);
    for (const t of features.values()) t.dispose();
    const maps = (await pred.anomalyMap.data()) as Float32Array;
    const batchScores = (await pred.imageScore.data()) as Float32Array;
    pred.anomalyMap.dispose();
    pred.imageScore.dispose();
    for (let b = 0; b < batch.length; b++) {
      const s = batch[b]!;
      const map = maps.slice(b * size * size, (b + 1) * size * size);
      const score = batchScores[b]!;
      acc.scores.push({ imagePath: s.sample.imagePath, label: s.label, score });
      // an anomalous image without a mask has unknown pixel labels: it stays out of the pixel metrics
      if (s.label === 1) {
        if (s.hasMask) acc.anomalousWithMask++;
        else acc.anomalousWithoutMask++;
      }
      if (s.label === 0 || s.hasMask) acc.pixels.add(map, s.mask, { height: size, width: size });
      const wantExample = kept < ctx.keepExamples && (s.label === 1 || kept === 0);
      if (ctx.saveMaps || wantExample) {
        const loaded = await loadSample(s.sample, fs, decode ? { decode } : {});
        const rgb = denormalize(preprocessImage(loaded.image, model.preprocess), model.preprocess);
        const heat = heatmapPng(map, size, MAP_NORM);
        const over = overlayPng(rgb, map, size, MAP_NORM, s.hasMask ? s.mask : undefined);
        if (ctx.saveMaps && ctx.outDir) {
          const name = ctx.mapNames.get(s.sample.imagePath);
          if (name === undefined) throw new Error(`evaluation: no map name for ${s.sample.imagePath}`);
          const base = join(ctx.outDir, 'maps', safe(category), safe(s.sample.defectType), name);
          const pngs = ctx.mapSize === 'original' ? originalMapPngs(loaded.image, map, model.preprocess, { norm: MAP_NORM, mask: loaded.mask }) : { heatmap: heat, overlay: over };
          await atomicWriteFile(`${base}_heatmap.png`, pngs.heatmap);
          await atomicWriteFile(`${base}_overlay.png`, pngs.overlay);
          ctx.files.push(`${base}_heatmap.png`, `${base}_overlay.png`);
        }
        if (wantExample) {
          kept++;
          ctx.examples.push({ category, sample: s.sample, score, input: rgbPng(rgb, size), groundTruth: maskPng(s.mask, size), heatmap: heat, overlay: over });
        }
      }
    }
    ctx.onBatch(batch.length);
  }
}

/** One category's row of the tables from its accumulator. */
function categoryResult(metrics: readonly string[], acc: CategoryAccumulator): CategoryResult {
  const { category, pixels, anomalousWithMask, anomalousWithoutMask } = acc;
  const labels = Uint8Array.from(acc.scores, (s) => s.label);
  const noMasks = anomalousWithoutMask > 0 && anomalousWithMask === 0;
  const values = evaluateMetrics(metrics, { image: { labels, scores: Float32Array.from(acc.scores, (s) => s.score) }, ...(pixels.imageCount > 0 && !noMasks ? { pixels } : {}) });
  const cells: Record<string, MetricCell> = {};
  for (const m of metrics) {
    const v = values.get(m)!;
    if (noMasks && isPixelMetric(m)) cells[m] = { error: `no masks: none of the ${anomalousWithoutMask} anomalous images has a ground-truth mask, so pixel labels are unknown` };
    // the table names the metric already: drop the metric's own prefix from the reason
    else cells[m] = 'value' in v ? { value: v.value } : { error: v.error.message.startsWith(`${m}: `) ? v.error.message.slice(m.length + 2) : v.error.message };
  }
  const pixelNote =
    anomalousWithoutMask === 0
      ? undefined
      : noMasks
        ? `no masks: pixel metrics n/a (${anomalousWithoutMask} anomalous images without a ground-truth mask)`
        : `pixel metrics over the ${anomalousWithMask} of ${anomalousWithMask + anomalousWithoutMask} anomalous images that have a mask (and every normal image)`;
  return { category, images: acc.scores.length, anomalous: labels.filter((l) => l === 1).length, metrics: cells, ...(pixelNote ? { pixelNote } : {}) };
}

/** The tables of every category (in table order) and their mean. */
function finishEvaluation(metrics: string[], accumulators: readonly CategoryAccumulator[], examples: EvaluationExample[], files: string[]): EvaluationResult {
  const categories = accumulators.map((acc) => categoryResult(metrics, acc));
  const mean: EvaluationResult['mean'] = {};
  for (const m of metrics) {
    const vals = categories.map((c) => c.metrics[m]!).filter((c): c is { value: number } => 'value' in c).map((c) => c.value);
    const noMasksEverywhere = categories.length > 0 && categories.every((c) => { const cell = c.metrics[m]!; return 'error' in cell && cell.error.startsWith('no masks'); });
    mean[m] =
      vals.length > 0
        ? { value: vals.reduce((a, b) => a + b, 0) / vals.length, categories: vals.length }
        : { error: noMasksEverywhere ? 'no masks: no category has a ground-truth mask for its anomalous images' : 'undefined in every category' };
  }
  const scores = accumulators.flatMap((acc) => acc.scores.map((s) => ({ imagePath: s.imagePath, category: acc.category, label: s.label, score: s.score })));
  return { metrics, categories, mean, scores, examples, files };
}

/** Evaluates a model on labelled samples (usually a test split). */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  const { model, fs } = options;
  const metrics = [...(options.metrics ?? DEFAULT_EVAL_METRICS)];
  const cache = new FeatureCache(options.featureCacheDir);
  const emit = options.onProgress ?? (() => undefined);
  const files: string[] = [];
  emit({ type: 'stage', stage: 'features', message: `preparing ${options.samples.length} test images` });
  const decode = options.decode;
  const prepared = await prepareSamples(model, options.samples, {
    fs,
    cache,
    onProgress: emit,
    stage: 'features',
    ...(options.counters ? { counters: options.counters } : {}),
    ...(decode ? { decode } : {}),
  });
  if (options.saveMaps && options.outDir) files.push(await writeColorBar(options.outDir));
  const examples: EvaluationExample[] = [];
  const meter = new RateMeter();
  let done = 0;
  meter.tick(0);
  const ctx: ScoringContext = {
    model,
    cache,
    fs,
    ...(decode ? { decode } : {}),
    batchSize: options.batchSize ?? 8,
    ...(options.outDir ? { outDir: options.outDir } : {}),
    saveMaps: options.saveMaps ?? false,
    mapSize: options.mapSize ?? 'original',
    mapNames: evaluationMapNames(prepared.map((p) => p.sample)),
    keepExamples: options.keepExamples ?? 0,
    examples,
    files,
    onBatch: (n) => {
      done += n;
      meter.tick(n);
      emit({ type: 'items', stage: 'evaluate', done, total: prepared.length, imagesPerSecond: meter.rate(), etaSeconds: meter.eta(prepared.length - done) });
    },
  };
  const accumulators: CategoryAccumulator[] = [];
  for (const [category, list] of samplesByCategory(prepared)) {
    const acc: CategoryAccumulator = { category, scores: [], pixels: new PixelSet(category), anomalousWithMask: 0, anomalousWithoutMask: 0 };
    await scoreSamples(ctx, list, acc);
    accumulators.push(acc);
  }
  const result = finishEvaluation(metrics, accumulators, examples, files);
  if (options.outDir) files.push(...(await writeEvaluationTables(result, options.outDir)));
  return result;
}

/** Writes maps/colorbar.png (the colour scale of every heat map) and returns its path. */
export async function writeColorBar(outDir: string): Promise<string> {
  const colorBar = join(outDir, 'maps', 'colorbar.png');
  await atomicWriteFile(colorBar, colorBarPng(MAP_NORM));
  return colorBar;
}

/** A shard of an evaluation: images of one category, scored apart from the rest. */
export interface EvaluateShardOptions {
  model: EngineModel;
  /** Images of one category, in the order the single-process evaluation takes them. */
  samples: readonly DatasetSample[];
  /** Map file name of each sample (from {@link evaluationMapNames} over the whole evaluation set). */
  mapNames: readonly string[];
  fs: DatasetFileSystem;
  featureCacheDir: string;
  outDir?: string;
  batchSize?: number;
  saveMaps?: boolean;
  mapSize?: MapSize;
  decode?: ImageDecoder;
  onProgress?: ProgressListener;
}

/** What a shard has accumulated: merged in shard order they give exactly the single-process tables. */
export interface EvaluationShardState {
  category: string;
  /** Image scores in sample order. */
  scores: ShardImageScore[];
  /** The pixel set of the images with known pixel labels ({@link PixelSet.toState}). */
  pixels: PixelSetState;
  anomalousWithMask: number;
  anomalousWithoutMask: number;
}

/**
 * Scores one shard (writing its maps as {@link evaluate} does) and returns its accumulated state.
 * @throws Error when the samples are of several categories or the map names do not match them
 */
export async function evaluateShard(options: EvaluateShardOptions): Promise<EvaluationShardState> {
  const { model, fs, samples } = options;
  if (samples.length === 0) throw new Error('evaluation shard: no images, expected at least one');
  const category = samples[0]!.category;
  const other = samples.find((s) => s.category !== category);
  if (other) throw new Error(`evaluation shard: ${other.imagePath} is of category ${other.category}, expected every image of ${category}`);
  if (options.mapNames.length !== samples.length) throw new Error(`evaluation shard: ${options.mapNames.length} map names for ${samples.length} images, expected one per image`);
  const cache = new FeatureCache(options.featureCacheDir);
  const emit = options.onProgress ?? (() => undefined);
  const decode = options.decode;
  const prepared = await prepareSamples(model, samples, { fs, cache, onProgress: emit, stage: 'features', ...(decode ? { decode } : {}) });
  const meter = new RateMeter();
  let done = 0;
  meter.tick(0);
  const acc: CategoryAccumulator = { category, scores: [], pixels: new PixelSet(category), anomalousWithMask: 0, anomalousWithoutMask: 0 };
  await scoreSamples(
    {
      model,
      cache,
      fs,
      ...(decode ? { decode } : {}),
      batchSize: options.batchSize ?? 8,
      ...(options.outDir ? { outDir: options.outDir } : {}),
      saveMaps: options.saveMaps ?? false,
      mapSize: options.mapSize ?? 'original',
      mapNames: new Map(samples.map((s, i) => [s.imagePath, options.mapNames[i]!])),
      keepExamples: 0,
      examples: [],
      files: [],
      onBatch: (n) => {
        done += n;
        meter.tick(n);
        emit({ type: 'items', stage: 'evaluate', done, total: prepared.length, imagesPerSecond: meter.rate(), etaSeconds: meter.eta(prepared.length - done) });
      },
    },
    prepared,
    acc,
  );
  return { category, scores: acc.scores, pixels: acc.pixels.toState(), anomalousWithMask: acc.anomalousWithMask, anomalousWithoutMask: acc.anomalousWithoutMask };
}

/**
 * Merges shard states one at a time (a state can be dropped once added): each category's shards merged in the
 * order they are added (the order of its images in the single-process run) give tables and scores equal to
 * {@link evaluate}'s bit for bit.
 */
export class EvaluationMerger {
  private readonly byCategory = new Map<string, CategoryAccumulator>();

  constructor(private readonly metrics: readonly string[]) {}

  add(shard: EvaluationShardState): this {
    let acc = this.byCategory.get(shard.category);
    if (!acc) {
      acc = { category: shard.category, scores: [], pixels: new PixelSet(shard.category), anomalousWithMask: 0, anomalousWithoutMask: 0 };
      this.byCategory.set(shard.category, acc);
    }
    acc.scores.push(...shard.scores);
    acc.pixels.mergeState(shard.pixels);
    acc.anomalousWithMask += shard.anomalousWithMask;
    acc.anomalousWithoutMask += shard.anomalousWithoutMask;
    return this;
  }

  /** The tables of the shards added so far (writes nothing). */
  result(): EvaluationResult {
    const accumulators = [...this.byCategory.values()].sort((a, b) => a.category.localeCompare(b.category));
    return finishEvaluation([...this.metrics], accumulators, [], []);
  }
}

/** The evaluation of merged shards ({@link EvaluationMerger} over the shards in the order given). Writes nothing. */
export function mergeEvaluationShards(metrics: readonly string[], shards: readonly EvaluationShardState[]): EvaluationResult {
  const merger = new EvaluationMerger(metrics);
  for (const shard of shards) merger.add(shard);
  return merger.result();
}

function isPixelMetric(name: string): boolean {
  const spec = parseMetricName(name);
  return spec.level === 'pixel';
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

function fmtCell(c: MetricCell | undefined, digits = 1): string {
  if (!c) return '';
  return 'value' in c ? (c.value * 100).toFixed(digits) : 'n/a';
}

/** The results table as Markdown (values in percent, as papers report them). */
export function evaluationMarkdown(r: EvaluationResult): string {
  const head = ['category', 'images', 'anomalous', ...r.metrics];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const c of r.categories) lines.push(`| ${[c.category, c.images, c.anomalous, ...r.metrics.map((m) => fmtCell(c.metrics[m]))].join(' | ')} |`);
  lines.push(`| ${['**mean**', r.categories.reduce((a, c) => a + c.images, 0), r.categories.reduce((a, c) => a + c.anomalous, 0), ...r.metrics.map((m) => fmtCell(r.mean[m]))].join(' | ')} |`);
  const notes = r.categories.flatMap((c) => r.metrics.filter((m) => 'error' in c.metrics[m]!).map((m) => `- ${c.category} ${m}: ${(c.metrics[m] as { error: string }).error}`));
  const pixelNotes = r.categories.filter((c) => c.pixelNote).map((c) => `- ${c.category}: ${c.pixelNote}`);
  return `${lines.join('\n')}\n${pixelNotes.length ? `\nPixel labels:\n${pixelNotes.join('\n')}\n` : ''}${notes.length ? `\nUndefined values (n/a):\n${notes.join('\n')}\n` : ''}`;
}

/** The results table as CSV (values as fractions, full precision; empty where undefined). */
export function evaluationCsv(r: EvaluationResult): string {
  const rows = [['category', 'images', 'anomalous', ...r.metrics].join(',')];
  for (const c of r.categories) rows.push([csvField(c.category), c.images, c.anomalous, ...r.metrics.map((m) => ('value' in c.metrics[m]! ? String((c.metrics[m] as { value: number }).value) : ''))].join(','));
  rows.push(['mean', '', '', ...r.metrics.map((m) => ('value' in r.mean[m]! ? String((r.mean[m] as { value: number }).value) : ''))].join(','));
  return rows.join('\n') + '\n';
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Writes metrics.md, metrics.csv, metrics.json and scores.csv into a folder; returns the paths. */
export async function writeEvaluationTables(r: EvaluationResult, outDir: string): Promise<string[]> {
  const md = join(outDir, 'metrics.md');
  const csv = join(outDir, 'metrics.csv');
  const json = join(outDir, 'metrics.json');
  const sc = join(outDir, 'scores.csv');
  await atomicWriteFile(md, evaluationMarkdown(r));
  await atomicWriteFile(csv, evaluationCsv(r));
  await atomicWriteFile(json, JSON.stringify({ metrics: r.metrics, categories: r.categories, mean: r.mean }, null, 2));
  await atomicWriteFile(sc, ['image,category,label,score', ...r.scores.map((s) => `${csvField(s.imagePath)},${csvField(s.category)},${s.label},${s.score}`)].join('\n') + '\n');
  return [md, csv, json, sc];
}

