/**
 * Zero-shot evaluation: per category and the mean over categories, every metric of @hgm/metrics, maps
 * smoothed as the model does at test time; tables as Markdown, CSV and JSON; heat maps and overlays as PNG.
 */
import { join } from 'node:path';
import { atomicWriteFile } from '@hgm/tensor/node';
import { preprocessImage, type DatasetFileSystem, type DatasetSample, type ImageDecoder } from '@hgm/data';
import { PixelSet, evaluateMetrics, parseMetricName } from '@hgm/metrics';
import type { EngineModel } from './engine-model';
import { FeatureCache } from './feature-cache';
import { loadFeatureBatch, prepareSamples, type DecodedSample } from './features';
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

/** Evaluates a model on labelled samples (usually a test split). */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  const { model, fs } = options;
  const metrics = [...(options.metrics ?? DEFAULT_EVAL_METRICS)];
  const size = model.preprocess.size;
  const cache = new FeatureCache(options.featureCacheDir);
  const emit = options.onProgress ?? (() => undefined);
  const files: string[] = [];
  const decode = options.decode;
  const mapSize = options.mapSize ?? 'original';
  const batchSize = options.batchSize ?? 8;
  const drawsMaps = (options.saveMaps === true && options.outDir !== undefined) || (options.keepExamples ?? 0) > 0;
  const prepareOptions = {
    fs,
    cache,
    ...(options.counters ? { counters: options.counters } : {}),
    ...(decode ? { decode } : {}),
  };
  // The samples by category (categories in name order, samples in their given order).
  const byCategory = new Map<string, DatasetSample[]>();
  for (const sample of options.samples) {
    const list = byCategory.get(sample.category) ?? [];
    list.push(sample);
    byCategory.set(sample.category, list);
  }
  const ordered = [...byCategory.entries()].sort(([a], [b]) => a.localeCompare(b));
  // Each batch is prepared (decoded, checked, encoded when its features are not cached) when it is evaluated,
  // and its maps and overlays reuse that decoding: memory holds one batch. With the run's scale the drawings
  // wait, with their decoded images, in a temporary folder until every map is known.
  emit({ type: 'stage', stage: 'evaluate', message: `evaluating ${options.samples.length} test images (features cached in ${cache.dir})` });
  const savesMaps = options.saveMaps === true && options.outDir !== undefined;
  const stash = options.mapScale === 'run' && drawsMaps ? await DecodedStash.open('hgm-eval-maps-') : undefined;
  const range = new MapRange();
  let norm = fixedScale();
  // map names: unique inside each maps/<category>/<defect>/ folder (Y92.jpg and Y92.png get Y92_jpg, Y92_png)
  const mapNames = new Map<string, string>();
  const folders = new Map<string, string[]>();
  for (const sample of options.samples) {
    const k = `${sample.category}\u0000${sample.defectType}`;
    folders.set(k, [...(folders.get(k) ?? []), sample.imagePath]);
  }
  for (const paths of folders.values()) for (const [path, name] of uniqueOutputNames(paths)) mapNames.set(path, name);
  const scores: EvaluationResult['scores'] = [];
  const examples: EvaluationExample[] = [];
  const categories: CategoryResult[] = [];
  /** A drawing to make: the maps of a sample, and whether it is one of the report's examples. */
  type Drawing = { category: string; sample: DatasetSample; hasMask: boolean; score: number; example: boolean };
  const deferred: Drawing[] = [];
  const draw = async (d: Drawing, decoded: DecodedSample, map: Float32Array, inputMask: Uint8Array) => {
    // the model-size view: for the report's examples and for --map-size model
    let modelView: { rgb: Uint8Array; heat: Uint8Array; over: Uint8Array } | undefined;
    if (d.example || mapSize === 'model') {
      const rgb = denormalize(decoded.pixels ?? preprocessImage(decoded.image, model.preprocess), model.preprocess);
      modelView = { rgb, heat: heatmapPng(map, size, norm), over: overlayPng(rgb, map, size, norm, d.hasMask ? inputMask : undefined) };
    }
    if (savesMaps) {
      const base = join(options.outDir!, 'maps', safe(d.category), safe(d.sample.defectType), mapNames.get(d.sample.imagePath)!);
      const pngs = mapSize === 'original' ? originalMapPngs(decoded.image, map, model.preprocess, { norm, mask: decoded.mask }) : { heatmap: modelView!.heat, overlay: modelView!.over };
      await atomicWriteFile(`${base}_heatmap.png`, pngs.heatmap);
      await atomicWriteFile(`${base}_overlay.png`, pngs.overlay);
      files.push(`${base}_heatmap.png`, `${base}_overlay.png`);
    }
    if (d.example) examples.push({ category: d.category, sample: d.sample, score: d.score, input: rgbPng(modelView!.rgb, size), groundTruth: maskPng(inputMask, size), heatmap: modelView!.heat, overlay: modelView!.over });
  };
  const meter = new RateMeter();
  let done = 0;
  meter.tick(0);
  try {
    for (const [category, list] of ordered) {
      const pixels = new PixelSet(category);
      const labels: number[] = [];
      const catScores: number[] = [];
      let kept = 0;
      let anomalousWithMask = 0;
      let anomalousWithoutMask = 0;
      for (let i = 0; i < list.length; i += batchSize) {
        const batch = await prepareSamples(model, list.slice(i, i + batchSize), { ...prepareOptions, keepDecoded: drawsMaps });
        const features = await loadFeatureBatch(cache, batch);
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
          labels.push(s.label);
          catScores.push(score);
          scores.push({ imagePath: s.sample.imagePath, category, label: s.label, score });
          // an anomalous image without a mask has unknown pixel labels: it stays out of the pixel metrics
          if (s.label === 1) {
            if (s.hasMask) anomalousWithMask++;
            else anomalousWithoutMask++;
          }
          if (s.label === 0 || s.hasMask) pixels.add(map, s.mask, { height: size, width: size });
          if (stash) range.add(map);
          const example = kept < (options.keepExamples ?? 0) && (s.label === 1 || kept === 0);
          if (example) kept++;
          if (savesMaps || example) {
            // drawing happens only when drawsMaps, and then every prepared sample keeps its decoding
            const decoded = s.decoded!;
            const d: Drawing = { category, sample: s.sample, hasMask: s.hasMask, score, example };
            if (stash) {
              const needsPixels = example || mapSize === 'model';
              await stash.put(deferred.length, { map, image: decoded.image, mask: decoded.mask, inputMask: s.mask, ...(needsPixels && decoded.pixels ? { pixels: decoded.pixels } : {}) });
              deferred.push(d);
            } else {
              await draw(d, decoded, map, s.mask);
            }
          }
        }
        done += batch.length;
        meter.tick(batch.length);
        emit({ type: 'items', stage: 'evaluate', done, total: options.samples.length, imagesPerSecond: meter.rate(), etaSeconds: meter.eta(options.samples.length - done) });
      }
      const noMasks = anomalousWithoutMask > 0 && anomalousWithMask === 0;
      const values = evaluateMetrics(metrics, { image: { labels: Uint8Array.from(labels), scores: Float32Array.from(catScores) }, ...(pixels.imageCount > 0 && !noMasks ? { pixels } : {}) });
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
        const anomalousCount = labels.filter((l) => l === 1).length;
      const imageNote =
        anomalousCount === labels.length
          ? `no normal image: image AUROC n/a; image F1-max and AP count the ${anomalousCount} anomalous images only (1 whatever the scores)`
          : anomalousCount === 0
            ? `no anomalous image: image AUROC n/a; image F1-max and AP are 0 whatever the scores`
            : undefined;
      categories.push({ category, images: list.length, anomalous: anomalousCount, metrics: cells, ...(pixelNote ? { pixelNote } : {}), ...(imageNote ? { imageNote } : {}) });
    }
    if (stash) {
      norm = range.scale();
      emit({ type: 'stage', stage: 'maps', message: `drawing ${deferred.length} maps on the ${describeScale(norm)}` });
      for (const [k, d] of deferred.entries()) {
        const item = await stash.get(k);
        await draw(d, { image: item.image!, mask: item.mask ?? null, ...(item.pixels ? { pixels: item.pixels } : {}) }, item.map, item.inputMask!);
      }
    }
  } finally {
    await stash?.close();
  }
  if (savesMaps) {
    const colorBar = join(options.outDir!, 'maps', 'colorbar.png');
    await atomicWriteFile(colorBar, colorBarPng(norm));
    files.push(colorBar);
  }
  const mean: EvaluationResult['mean'] = {};
  for (const m of metrics) {
    const vals = categories.map((c) => c.metrics[m]!).filter((c): c is { value: number } => 'value' in c).map((c) => c.value);
    const noMasksEverywhere = categories.length > 0 && categories.every((c) => { const cell = c.metrics[m]!; return 'error' in cell && cell.error.startsWith('no masks'); });
    mean[m] =
      vals.length > 0
        ? { value: vals.reduce((a, b) => a + b, 0) / vals.length, categories: vals.length }
        : { error: noMasksEverywhere ? 'no masks: no category has a ground-truth mask for its anomalous images' : 'undefined in every category' };
  }
  const result: EvaluationResult = { metrics, categories, mean, scores, examples, files, mapScale: norm };
  if (options.outDir) files.push(...(await writeEvaluationTables(result, options.outDir)));
  return result;
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
  for (const c of r.categories) lines.push(`| ${[c.category, c.images, c.anomalous, ...r.metrics.map((m) => `${fmtCell(c.metrics[m])}${degenerate(c, m) ? '*' : ''}`)].join(' | ')} |`);
  lines.push(`| ${['**mean**', r.categories.reduce((a, c) => a + c.images, 0), r.categories.reduce((a, c) => a + c.anomalous, 0), ...r.metrics.map((m) => fmtCell(r.mean[m]))].join(' | ')} |`);
  const notes = r.categories.flatMap((c) => r.metrics.filter((m) => 'error' in c.metrics[m]!).map((m) => `- ${c.category} ${m}: ${(c.metrics[m] as { error: string }).error}`));
  const pixelNotes = r.categories.filter((c) => c.pixelNote).map((c) => `- ${c.category}: ${c.pixelNote}`);
  const imageNotes = r.categories.filter((c) => c.imageNote).map((c) => `- ${c.category}: ${c.imageNote}`);
  return `${lines.join('\n')}\n${imageNotes.length ? `\nImage labels (* degenerate values, in the means too):\n${imageNotes.join('\n')}\n` : ''}${pixelNotes.length ? `\nPixel labels:\n${pixelNotes.join('\n')}\n` : ''}${notes.length ? `\nUndefined values (n/a):\n${notes.join('\n')}\n` : ''}`;
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
  await atomicWriteFile(json, JSON.stringify({ metrics: r.metrics, categories: r.categories, mean: r.mean, mapScale: r.mapScale }, null, 2));
  await atomicWriteFile(sc, ['image,category,label,score', ...r.scores.map((s) => `${csvField(s.imagePath)},${csvField(s.category)},${s.label},${s.score}`)].join('\n') + '\n');
  return [md, csv, json, sc];
}

