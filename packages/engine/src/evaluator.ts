/**
 * Zero-shot evaluation: per category and the mean over categories, every metric of @hgm/metrics, maps
 * smoothed as the model does at test time; tables as Markdown, CSV and JSON; heat maps and overlays as PNG.
 */
import { join } from 'node:path';
import { atomicWriteFile } from '@hgm/tensor/node';
import { imageHW } from '@hgm/tensor';
import { loadSample, preprocessImage, type DatasetFileSystem, type DatasetSample, type ImageDecoder } from '@hgm/data';
import { PixelSet, evaluateMetrics, parseMetricName } from '@hgm/metrics';
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

/** Evaluates a model on labelled samples (usually a test split). */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  const { model, fs } = options;
  const metrics = [...(options.metrics ?? DEFAULT_EVAL_METRICS)];
  const size = model.preprocess.size;
  const [height, width] = imageHW(size);
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
  const mapSize = options.mapSize ?? 'original';
  const norm = { min: 0, max: 1 };
  // map names: unique inside each maps/<category>/<defect>/ folder (Y92.jpg and Y92.png get Y92_jpg, Y92_png)
  const mapNames = new Map<string, string>();
  const folders = new Map<string, string[]>();
  for (const p of prepared) {
    const k = `${p.sample.category}\u0000${p.sample.defectType}`;
    folders.set(k, [...(folders.get(k) ?? []), p.sample.imagePath]);
  }
  for (const paths of folders.values()) for (const [path, name] of uniqueOutputNames(paths)) mapNames.set(path, name);
  if (options.saveMaps && options.outDir) {
    const colorBar = join(options.outDir, 'maps', 'colorbar.png');
    await atomicWriteFile(colorBar, colorBarPng(norm));
    files.push(colorBar);
  }
  const byCategory = new Map<string, PreparedSample[]>();
  for (const p of prepared) {
    const list = byCategory.get(p.sample.category) ?? [];
    list.push(p);
    byCategory.set(p.sample.category, list);
  }
  const batchSize = options.batchSize ?? 8;
  const scores: EvaluationResult['scores'] = [];
  const examples: EvaluationExample[] = [];
  const categories: CategoryResult[] = [];
  const meter = new RateMeter();
  let done = 0;
  meter.tick(0);
  for (const [category, list] of [...byCategory.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const pixels = new PixelSet(category);
    const labels: number[] = [];
    const catScores: number[] = [];
    let kept = 0;
    let anomalousWithMask = 0;
    let anomalousWithoutMask = 0;
    for (let i = 0; i < list.length; i += batchSize) {
      const batch = list.slice(i, i + batchSize);
      const features = await loadFeatureBatch(cache, batch);
      const pred = model.predict(features);
      for (const t of features.values()) t.dispose();
      const maps = (await pred.anomalyMap.data()) as Float32Array;
      const batchScores = (await pred.imageScore.data()) as Float32Array;
      pred.anomalyMap.dispose();
      pred.imageScore.dispose();
      for (let b = 0; b < batch.length; b++) {
        const s = batch[b]!;
        const map = maps.slice(b * height * width, (b + 1) * height * width);
        const score = batchScores[b]!;
        labels.push(s.label);
        catScores.push(score);
        scores.push({ imagePath: s.sample.imagePath, category, label: s.label, score });
        // an anomalous image without a mask has unknown pixel labels: it stays out of the pixel metrics
        if (s.label === 1) {
          if (s.hasMask) anomalousWithMask++;
          else anomalousWithoutMask++;
        }
        if (s.label === 0 || s.hasMask) pixels.add(map, s.mask, { height, width });
        const wantExample = kept < (options.keepExamples ?? 0) && (s.label === 1 || kept === 0);
        if (options.saveMaps || wantExample) {
          const loaded = await loadSample(s.sample, fs, decode ? { decode } : {});
          const rgb = denormalize(preprocessImage(loaded.image, model.preprocess), model.preprocess);
          const heat = heatmapPng(map, size, norm);
          const over = overlayPng(rgb, map, size, norm, s.hasMask ? s.mask : undefined);
          if (options.saveMaps && options.outDir) {
            const base = join(options.outDir, 'maps', safe(category), safe(s.sample.defectType), mapNames.get(s.sample.imagePath)!);
            const pngs = mapSize === 'original' ? originalMapPngs(loaded.image, map, model.preprocess, { norm, mask: loaded.mask }) : { heatmap: heat, overlay: over };
            await atomicWriteFile(`${base}_heatmap.png`, pngs.heatmap);
            await atomicWriteFile(`${base}_overlay.png`, pngs.overlay);
            files.push(`${base}_heatmap.png`, `${base}_overlay.png`);
          }
          if (wantExample) {
            kept++;
            examples.push({ category, sample: s.sample, score, input: rgbPng(rgb, size), groundTruth: maskPng(s.mask, size), heatmap: heat, overlay: over });
          }
        }
      }
      done += batch.length;
      meter.tick(batch.length);
      emit({ type: 'items', stage: 'evaluate', done, total: prepared.length, imagesPerSecond: meter.rate(), etaSeconds: meter.eta(prepared.length - done) });
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
    categories.push({ category, images: list.length, anomalous: labels.filter((l) => l === 1).length, metrics: cells, ...(pixelNote ? { pixelNote } : {}) });
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
  const result: EvaluationResult = { metrics, categories, mean, scores, examples, files };
  if (options.outDir) files.push(...(await writeEvaluationTables(result, options.outDir)));
  return result;
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

