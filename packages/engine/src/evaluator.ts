/**
 * Zero-shot evaluation: per category and the mean over categories, every metric of @hgm/metrics, maps
 * smoothed as the model does at test time; tables as Markdown, CSV and JSON; heat maps and overlays as PNG.
 */
import { join } from 'node:path';
import { ConfigError, InvalidStateError, imageHW } from '@hgm/tensor';
import { atomicWriteFile } from '@hgm/tensor/node';
import { preprocessImage, type DatasetFileSystem, type DatasetSample, type ImageDecoder } from '@hgm/data';
import { PixelSet, evaluateMetrics, parseMetricName, type PixelSetState } from '@hgm/metrics';
import type { EngineModel } from './engine-model';
import { FeatureCache } from './feature-cache';
import { loadFeatureBatch, prepareSamples, type DecodedSample, type PrepareOptions } from './features';
import { denormalize, heatmapPng, overlayPng, rgbPng, maskPng } from './map-images';
import { colorBarPng, originalMapPngs } from './original-maps';
import { MapRange, describeScale, fixedScale, type MapScale, type MapScaleInfo } from './map-scale';
import { DecodedStash } from './decoded-stash';
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
  /**
   * `fixed` (default): heat maps (files and examples) coloured over 0..1; `run`: over the smallest to the
   * largest map value of the evaluation (the drawings wait, with their decoded images, in a temporary folder
   * until every map is known; each image is still decoded once).
   */
  mapScale?: MapScale;
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
  /**
   * Set when the category's images are of one class only: image AUROC is undefined, and image F1-max and AP are
   * degenerate (over anomalous images only: 1 whatever the scores; without anomalous images: 0). metrics.md
   * marks those cells with `*`.
   */
  imageNote?: string;
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
  /** The range the heat maps and examples were coloured over. */
  mapScale: MapScaleInfo;
}

/** What one category's images (or a shard of them) have accumulated: image scores and the pixel set. */
interface CategoryAccumulator {
  category: string;
  scores: ShardImageScore[];
  pixels: PixelSet;
  anomalousWithMask: number;
  anomalousWithoutMask: number;
}

function newAccumulator(category: string): CategoryAccumulator {
  return { category, scores: [], pixels: new PixelSet(category), anomalousWithMask: 0, anomalousWithoutMask: 0 };
}

/** The image score of one evaluated image. */
export interface ShardImageScore {
  imagePath: string;
  label: number;
  score: number;
}

/** A drawing to make: the maps of a sample, and whether it is one of the report's examples. */
interface Drawing {
  category: string;
  sample: DatasetSample;
  hasMask: boolean;
  score: number;
  example: boolean;
}

/**
 * Draws heat maps and overlays from the decoding that fed the model. On the fixed scale each drawing is made
 * at once; on the run's scale ({@link DecodedStash} given) the maps wait, with their decoded images, until
 * {@link finish} knows the range of every map.
 */
class MapDrawer {
  /** The range the maps are coloured over (the run's once {@link finish} ran). */
  norm: MapScaleInfo = fixedScale();
  private readonly range = new MapRange();
  private readonly deferred: Drawing[] = [];

  constructor(
    private readonly o: {
      model: EngineModel;
      outDir?: string;
      savesMaps: boolean;
      mapSize: MapSize;
      /** Map file name (no folder, no suffix) by image path. */
      mapNames: ReadonlyMap<string, string>;
      examples: EvaluationExample[];
      files: string[];
      stash?: DecodedStash;
    },
  ) {}

  /** Every map of the run passes here (the run's scale spans all of them, drawn or not). */
  observe(map: Float32Array): void {
    if (this.o.stash) this.range.add(map);
  }

  async add(d: Drawing, decoded: DecodedSample, map: Float32Array, inputMask: Uint8Array): Promise<void> {
    const stash = this.o.stash;
    if (!stash) return this.draw(d, decoded, map, inputMask);
    const needsPixels = d.example || this.o.mapSize === 'model';
    await stash.put(this.deferred.length, {
      map,
      image: decoded.image,
      mask: decoded.mask,
      inputMask,
      ...(needsPixels && decoded.pixels ? { pixels: decoded.pixels } : {}),
    });
    this.deferred.push(d);
  }

  /** Draws what waited for the run's range (nothing on the fixed scale). */
  async finish(emit: (message: string) => void): Promise<void> {
    const stash = this.o.stash;
    if (!stash) return;
    this.norm = this.range.scale();
    emit(`drawing ${this.deferred.length} maps on the ${describeScale(this.norm)}`);
    for (const [k, d] of this.deferred.entries()) {
      const item = await stash.get(k);
      await this.draw(d, { image: item.image!, mask: item.mask ?? null, ...(item.pixels ? { pixels: item.pixels } : {}) }, item.map, item.inputMask!);
    }
  }

  private async draw(d: Drawing, decoded: DecodedSample, map: Float32Array, inputMask: Uint8Array): Promise<void> {
    const { model, mapSize } = this.o;
    const size = model.preprocess.size;
    const norm = this.norm;
    // the model-size view: for the report's examples and for --map-size model
    let modelView: { rgb: Uint8Array; heat: Uint8Array; over: Uint8Array } | undefined;
    if (d.example || mapSize === 'model') {
      const rgb = denormalize(decoded.pixels ?? preprocessImage(decoded.image, model.preprocess), model.preprocess);
      modelView = { rgb, heat: heatmapPng(map, size, norm), over: overlayPng(rgb, map, size, norm, d.hasMask ? inputMask : undefined) };
    }
    if (this.o.savesMaps && this.o.outDir) {
      const name = this.o.mapNames.get(d.sample.imagePath);
      if (name === undefined) throw new InvalidStateError(`evaluation: no map name for ${d.sample.imagePath}`);
      const base = join(this.o.outDir, 'maps', safe(d.category), safe(d.sample.defectType), name);
      const pngs =
        mapSize === 'original'
          ? originalMapPngs(decoded.image, map, model.preprocess, { norm, mask: decoded.mask })
          : { heatmap: modelView!.heat, overlay: modelView!.over };
      await atomicWriteFile(`${base}_heatmap.png`, pngs.heatmap);
      await atomicWriteFile(`${base}_overlay.png`, pngs.overlay);
      this.o.files.push(`${base}_heatmap.png`, `${base}_overlay.png`);
    }
    if (d.example)
      this.o.examples.push({
        category: d.category,
        sample: d.sample,
        score: d.score,
        input: rgbPng(modelView!.rgb, size),
        groundTruth: maskPng(inputMask, size),
        heatmap: modelView!.heat,
        overlay: modelView!.over,
      });
  }
}

/** What scoring needs besides the accumulator. */
interface ScoringContext {
  model: EngineModel;
  cache: FeatureCache;
  prepare: Omit<PrepareOptions, 'keepDecoded'>;
  batchSize: number;
  /** Whether any map is drawn (then every prepared sample keeps its decoding). */
  drawsMaps: boolean;
  savesMaps: boolean;
  keepExamples: number;
  drawer: MapDrawer;
  /** Called after each batch with its size. */
  onBatch: (images: number) => void;
}

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

/** The samples grouped by category, categories in the order the tables list them (by name), samples in their given order. */
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

/**
 * Scores the samples of one category in batches: each batch is prepared (decoded, checked, encoded when its
 * features are not cached) when it is scored, and its maps reuse that decoding, so memory holds one batch.
 * Adds image scores and pixels to `acc` and hands the maps to the drawer.
 */
async function scoreSamples(ctx: ScoringContext, list: readonly DatasetSample[], acc: CategoryAccumulator): Promise<void> {
  const { model, cache } = ctx;
  const [height, width] = imageHW(model.preprocess.size);
  let kept = 0;
  for (let i = 0; i < list.length; i += ctx.batchSize) {
    const batch = await prepareSamples(model, list.slice(i, i + ctx.batchSize), { ...ctx.prepare, keepDecoded: ctx.drawsMaps });
    const features = await loadFeatureBatch(cache, batch);
    let pred;
    try {
      pred = await model.predict(features);
    } finally {
      for (const t of features.values()) t.dispose();
    }
    const maps = (await pred.anomalyMap.data()) as Float32Array;
    const batchScores = (await pred.imageScore.data()) as Float32Array;
    pred.anomalyMap.dispose();
    pred.imageScore.dispose();
    for (let b = 0; b < batch.length; b++) {
      const s = batch[b]!;
      const map = maps.slice(b * height * width, (b + 1) * height * width);
      const score = batchScores[b]!;
      acc.scores.push({ imagePath: s.sample.imagePath, label: s.label, score });
      // an anomalous image without a mask has unknown pixel labels: it stays out of the pixel metrics
      if (s.label === 1) {
        if (s.hasMask) acc.anomalousWithMask++;
        else acc.anomalousWithoutMask++;
      }
      if (s.label === 0 || s.hasMask) acc.pixels.add(map, s.mask, { height, width });
      ctx.drawer.observe(map);
      const example = kept < ctx.keepExamples && (s.label === 1 || kept === 0);
      if (example) kept++;
      // drawing happens only when drawsMaps, and then every prepared sample keeps its decoding
      if (ctx.savesMaps || example)
        await ctx.drawer.add({ category: acc.category, sample: s.sample, hasMask: s.hasMask, score, example }, s.decoded!, map, s.mask);
    }
    ctx.onBatch(batch.length);
  }
}

/** One category's row of the tables from its accumulator. */
function categoryResult(metrics: readonly string[], acc: CategoryAccumulator): CategoryResult {
  const { category, pixels, anomalousWithMask, anomalousWithoutMask } = acc;
  const labels = Uint8Array.from(acc.scores, (s) => s.label);
  const noMasks = anomalousWithoutMask > 0 && anomalousWithMask === 0;
  const values = evaluateMetrics(metrics, {
    image: { labels, scores: Float32Array.from(acc.scores, (s) => s.score) },
    ...(pixels.imageCount > 0 && !noMasks ? { pixels } : {}),
  });
  const cells: Record<string, MetricCell> = {};
  for (const m of metrics) {
    const v = values.get(m)!;
    if (noMasks && isPixelMetric(m))
      cells[m] = { error: `no masks: none of the ${anomalousWithoutMask} anomalous images has a ground-truth mask, so pixel labels are unknown` };
    // the table names the metric already: drop the metric's own prefix from the reason
    else cells[m] = 'value' in v ? { value: v.value } : { error: v.error.message.startsWith(`${m}: `) ? v.error.message.slice(m.length + 2) : v.error.message };
  }
  const pixelNote =
    anomalousWithoutMask === 0
      ? undefined
      : noMasks
        ? `no masks: pixel metrics n/a (${anomalousWithoutMask} anomalous images without a ground-truth mask)`
        : `pixel metrics over the ${anomalousWithMask} of ${anomalousWithMask + anomalousWithoutMask} anomalous images that have a mask (and every normal image)`;
  const anomalousCount = labels.filter((l) => l === 1).length;
  const imageNote =
    anomalousCount === labels.length
      ? `no normal image: image AUROC n/a; image F1-max and AP count the ${anomalousCount} anomalous images only (1 whatever the scores)`
      : anomalousCount === 0
        ? `no anomalous image: image AUROC n/a; image F1-max and AP are 0 whatever the scores`
        : undefined;
  return {
    category,
    images: labels.length,
    anomalous: anomalousCount,
    metrics: cells,
    ...(pixelNote ? { pixelNote } : {}),
    ...(imageNote ? { imageNote } : {}),
  };
}

/** The tables of every category (in table order) and their mean over the categories where each metric is defined. */
function finishEvaluation(
  metrics: string[],
  accumulators: readonly CategoryAccumulator[],
  examples: EvaluationExample[],
  files: string[],
  mapScale: MapScaleInfo,
): EvaluationResult {
  const categories = accumulators.map((acc) => categoryResult(metrics, acc));
  const mean: EvaluationResult['mean'] = {};
  for (const m of metrics) {
    const vals = categories
      .map((c) => c.metrics[m]!)
      .filter((c): c is { value: number } => 'value' in c)
      .map((c) => c.value);
    const noMasksEverywhere =
      categories.length > 0 &&
      categories.every((c) => {
        const cell = c.metrics[m]!;
        return 'error' in cell && cell.error.startsWith('no masks');
      });
    mean[m] =
      vals.length > 0
        ? { value: vals.reduce((a, b) => a + b, 0) / vals.length, categories: vals.length }
        : { error: noMasksEverywhere ? 'no masks: no category has a ground-truth mask for its anomalous images' : 'undefined in every category' };
  }
  const scores = accumulators.flatMap((acc) => acc.scores.map((s) => ({ imagePath: s.imagePath, category: acc.category, label: s.label, score: s.score })));
  return { metrics, categories, mean, scores, examples, files, mapScale };
}

/** Evaluates a model on labelled samples (usually a test split). */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  const { model, fs } = options;
  const metrics = [...(options.metrics ?? DEFAULT_EVAL_METRICS)];
  const cache = new FeatureCache(options.featureCacheDir);
  const emit = options.onProgress ?? (() => undefined);
  const files: string[] = [];
  const examples: EvaluationExample[] = [];
  const decode = options.decode;
  const savesMaps = options.saveMaps === true && options.outDir !== undefined;
  const drawsMaps = savesMaps || (options.keepExamples ?? 0) > 0;
  emit({ type: 'stage', stage: 'evaluate', message: `evaluating ${options.samples.length} test images (features cached in ${cache.dir})` });
  const stash = options.mapScale === 'run' && drawsMaps ? await DecodedStash.open('hgm-eval-maps-') : undefined;
  const drawer = new MapDrawer({
    model,
    ...(options.outDir ? { outDir: options.outDir } : {}),
    savesMaps,
    mapSize: options.mapSize ?? 'original',
    mapNames: evaluationMapNames(options.samples),
    examples,
    files,
    ...(stash ? { stash } : {}),
  });
  const meter = new RateMeter();
  let done = 0;
  meter.tick(0);
  const ctx: ScoringContext = {
    model,
    cache,
    prepare: { fs, cache, ...(options.counters ? { counters: options.counters } : {}), ...(decode ? { decode } : {}) },
    batchSize: options.batchSize ?? 8,
    drawsMaps,
    savesMaps,
    keepExamples: options.keepExamples ?? 0,
    drawer,
    onBatch: (n) => {
      done += n;
      meter.tick(n);
      emit({
        type: 'items',
        stage: 'evaluate',
        done,
        total: options.samples.length,
        imagesPerSecond: meter.rate(),
        etaSeconds: meter.eta(options.samples.length - done),
      });
    },
  };
  const accumulators: CategoryAccumulator[] = [];
  try {
    for (const [category, list] of samplesByCategory(options.samples)) {
      const acc = newAccumulator(category);
      await scoreSamples(ctx, list, acc);
      accumulators.push(acc);
    }
    await drawer.finish((message) => emit({ type: 'stage', stage: 'maps', message }));
  } finally {
    await stash?.close();
  }
  if (savesMaps) files.push(await writeColorBar(options.outDir!, drawer.norm));
  const result = finishEvaluation(metrics, accumulators, examples, files, drawer.norm);
  if (options.outDir) files.push(...(await writeEvaluationTables(result, options.outDir)));
  return result;
}

/** Writes maps/colorbar.png (the colour scale of every heat map; 0..1 by default) and returns its path. */
export async function writeColorBar(outDir: string, norm: MapScaleInfo = fixedScale()): Promise<string> {
  const colorBar = join(outDir, 'maps', 'colorbar.png');
  await atomicWriteFile(colorBar, colorBarPng(norm));
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
  /** Write heat maps and overlays (on the fixed 0..1 scale: a shard does not know the run's range). */
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
 * Scores one shard (writing its maps as {@link evaluate} does on the fixed scale) and returns its accumulated state.
 * @throws ConfigError when the samples are of several categories or the map names do not match them
 */
export async function evaluateShard(options: EvaluateShardOptions): Promise<EvaluationShardState> {
  const { model, fs, samples } = options;
  if (samples.length === 0) throw new ConfigError('evaluation shard: no images, expected at least one');
  const category = samples[0]!.category;
  const other = samples.find((s) => s.category !== category);
  if (other) throw new ConfigError(`evaluation shard: ${other.imagePath} is of category ${other.category}, expected every image of ${category}`);
  if (options.mapNames.length !== samples.length)
    throw new ConfigError(`evaluation shard: ${options.mapNames.length} map names for ${samples.length} images, expected one per image`);
  const cache = new FeatureCache(options.featureCacheDir);
  const emit = options.onProgress ?? (() => undefined);
  const decode = options.decode;
  const savesMaps = options.saveMaps === true && options.outDir !== undefined;
  const drawer = new MapDrawer({
    model,
    ...(options.outDir ? { outDir: options.outDir } : {}),
    savesMaps,
    mapSize: options.mapSize ?? 'original',
    mapNames: new Map(samples.map((s, i) => [s.imagePath, options.mapNames[i]!])),
    examples: [],
    files: [],
  });
  const meter = new RateMeter();
  let done = 0;
  meter.tick(0);
  const acc = newAccumulator(category);
  await scoreSamples(
    {
      model,
      cache,
      prepare: { fs, cache, ...(decode ? { decode } : {}) },
      batchSize: options.batchSize ?? 8,
      drawsMaps: savesMaps,
      savesMaps,
      keepExamples: 0,
      drawer,
      onBatch: (n) => {
        done += n;
        meter.tick(n);
        emit({ type: 'items', stage: 'evaluate', done, total: samples.length, imagesPerSecond: meter.rate(), etaSeconds: meter.eta(samples.length - done) });
      },
    },
    samples,
    acc,
  );
  return {
    category,
    scores: acc.scores,
    pixels: acc.pixels.toState(),
    anomalousWithMask: acc.anomalousWithMask,
    anomalousWithoutMask: acc.anomalousWithoutMask,
  };
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
      acc = newAccumulator(shard.category);
      this.byCategory.set(shard.category, acc);
    }
    acc.scores.push(...shard.scores);
    acc.pixels.mergeState(shard.pixels);
    acc.anomalousWithMask += shard.anomalousWithMask;
    acc.anomalousWithoutMask += shard.anomalousWithoutMask;
    return this;
  }

  /** The tables of the shards added so far (writes nothing; maps of shards are on the fixed scale). */
  result(): EvaluationResult {
    const accumulators = [...this.byCategory.values()].sort((a, b) => a.category.localeCompare(b.category));
    return finishEvaluation([...this.metrics], accumulators, [], [], fixedScale());
  }
}

/** The evaluation of merged shards ({@link EvaluationMerger} over the shards in the order given). Writes nothing. */
export function mergeEvaluationShards(metrics: readonly string[], shards: readonly EvaluationShardState[]): EvaluationResult {
  const merger = new EvaluationMerger(metrics);
  for (const shard of shards) merger.add(shard);
  return merger.result();
}

/** Image F1-max (and its threshold) and AP: defined, but degenerate, on a one-class set. */
function isDegenerateImageMetric(name: string): boolean {
  const spec = parseMetricName(name);
  return spec.level === 'image' && spec.metric !== 'auroc';
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
  // one-class categories: their image F1-max and AP are degenerate, marked *
  const degenerate = (c: CategoryResult, m: string) => c.imageNote !== undefined && isDegenerateImageMetric(m) && 'value' in c.metrics[m]!;
  for (const c of r.categories)
    lines.push(`| ${[c.category, c.images, c.anomalous, ...r.metrics.map((m) => `${fmtCell(c.metrics[m])}${degenerate(c, m) ? '*' : ''}`)].join(' | ')} |`);
  lines.push(
    `| ${['**mean**', r.categories.reduce((a, c) => a + c.images, 0), r.categories.reduce((a, c) => a + c.anomalous, 0), ...r.metrics.map((m) => fmtCell(r.mean[m]))].join(' | ')} |`,
  );
  const notes = r.categories.flatMap((c) =>
    r.metrics.filter((m) => 'error' in c.metrics[m]!).map((m) => `- ${c.category} ${m}: ${(c.metrics[m] as { error: string }).error}`),
  );
  const pixelNotes = r.categories.filter((c) => c.pixelNote).map((c) => `- ${c.category}: ${c.pixelNote}`);
  const imageNotes = r.categories.filter((c) => c.imageNote).map((c) => `- ${c.category}: ${c.imageNote}`);
  return `${lines.join('\n')}\n${imageNotes.length ? `\nImage labels (* degenerate values, in the means too):\n${imageNotes.join('\n')}\n` : ''}${pixelNotes.length ? `\nPixel labels:\n${pixelNotes.join('\n')}\n` : ''}${notes.length ? `\nUndefined values (n/a):\n${notes.join('\n')}\n` : ''}`;
}

/** The results table as CSV (values as fractions, full precision; empty where undefined). */
export function evaluationCsv(r: EvaluationResult): string {
  const rows = [['category', 'images', 'anomalous', ...r.metrics].join(',')];
  for (const c of r.categories)
    rows.push(
      [
        csvField(c.category),
        c.images,
        c.anomalous,
        ...r.metrics.map((m) => ('value' in c.metrics[m]! ? String((c.metrics[m] as { value: number }).value) : '')),
      ].join(','),
    );
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
  await atomicWriteFile(json, JSON.stringify({ metrics: r.metrics, categories: r.categories, mean: r.mean, mapScale: r.mapScale }, null, 2));
  await atomicWriteFile(
    sc,
    ['image,category,label,score', ...r.scores.map((s) => `${csvField(s.imagePath)},${csvField(s.category)},${s.label},${s.score}`)].join('\n') + '\n',
  );
  return [md, csv, json, sc];
}
