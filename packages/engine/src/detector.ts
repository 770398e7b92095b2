/**
 * Detection on new images: anomaly-map PNGs (heat map and overlay) per image, a JSON and a CSV of image
 * scores, and, with a threshold, a decision per image.
 */
import { basename, join, relative, resolve } from 'node:path';
import { atomicWriteFile } from '@hgm/tensor/node';
import { decodeImage, preprocessImage, readBytes, type DatasetFileSystem } from '@hgm/data';
import type { EngineModel } from './engine-model';
import { denormalize, heatmapPng, overlayPng } from './map-images';
import { predictImages, mapMaximum } from './predict-images';
import { RateMeter, type ProgressListener } from './progress';

export interface DetectOptions {
  model: EngineModel;
  /** Image paths (already expanded: see expandInputs). */
  images: readonly string[];
  fs: DatasetFileSystem;
  outDir: string;
  /** Score at or above which an image is called anomalous; no decisions without it. */
  threshold?: number;
  batchSize?: number;
  /** Skip unreadable images with a warning instead of failing (default false). */
  skipCorrupt?: boolean;
  onProgress?: ProgressListener;
}

export interface Detection {
  image: string;
  score: number;
  /** Present when a threshold was given. */
  anomalous?: boolean;
  heatmap: string;
  overlay: string;
  /** Highest value of the anomaly map. */
  maxMap: number;
}

export interface DetectResult {
  detections: Detection[];
  skipped: { image: string; reason: string }[];
  scoresJson: string;
  scoresCsv: string;
}

/** Runs detection and writes maps and score tables into `outDir`. */
export async function detect(options: DetectOptions): Promise<DetectResult> {
  const { model, fs } = options;
  const size = model.preprocess.size;
  const batchSize = options.batchSize ?? 8;
  const emit = options.onProgress ?? (() => undefined);
  const detections: Detection[] = [];
  const skipped: DetectResult['skipped'] = [];
  const meter = new RateMeter();
  meter.tick(0);
  const names = uniqueStems(options.images);
  let done = 0;
  for (let i = 0; i < options.images.length; i += batchSize) {
    const paths = options.images.slice(i, i + batchSize);
    const ok: { path: string; pixels: Float32Array }[] = [];
    for (const p of paths) {
      try {
        const image = decodeImage(await readBytes(fs, p), p);
        ok.push({ path: p, pixels: preprocessImage(image, model.preprocess) });
      } catch (e) {
        if (!options.skipCorrupt) throw e;
        const reason = (e as Error).message;
        skipped.push({ image: p, reason });
        emit({ type: 'warning', message: `skipped ${reason}` });
      }
    }
    if (ok.length > 0) {
      const { maps, scores } = await predictImages(model, ok.map((o) => o.pixels));
      for (let j = 0; j < ok.length; j++) {
        const o = ok[j]!;
        const map = maps.slice(j * size * size, (j + 1) * size * size);
        const stem = names.get(o.path)!;
        const heatmap = join(options.outDir, 'maps', `${stem}_heatmap.png`);
        const overlay = join(options.outDir, 'maps', `${stem}_overlay.png`);
        await atomicWriteFile(heatmap, heatmapPng(map, size, { min: 0, max: 1 }));
        await atomicWriteFile(overlay, overlayPng(denormalize(o.pixels, model.preprocess), map, size, { min: 0, max: 1 }));
        const maxMap = mapMaximum(map);
        const score = scores[j]!;
        detections.push({ image: o.path, score, ...(options.threshold !== undefined ? { anomalous: score >= options.threshold } : {}), heatmap, overlay, maxMap });
      }
    }
    done += paths.length;
    meter.tick(paths.length);
    emit({ type: 'items', stage: 'detect', done, total: options.images.length, imagesPerSecond: meter.rate(), etaSeconds: meter.eta(options.images.length - done) });
  }
  return { detections, skipped, ...(await writeDetectionTables(options.outDir, detections, skipped, options.threshold)) };
}

/**
 * Writes `scores.json` and `scores.csv` (atomically) in the layout of a local `detect` run; the queue's
 * collector writes its results through it too.
 */
export async function writeDetectionTables(outDir: string, detections: readonly Detection[], skipped: DetectResult['skipped'], threshold: number | undefined): Promise<{ scoresJson: string; scoresCsv: string }> {
  const scoresJson = join(outDir, 'scores.json');
  const scoresCsv = join(outDir, 'scores.csv');
  await atomicWriteFile(scoresJson, JSON.stringify({ threshold: threshold ?? null, detections, skipped }, null, 2));
  const header = threshold !== undefined ? 'image,score,anomalous,max_map,heatmap,overlay' : 'image,score,max_map,heatmap,overlay';
  const rows = detections.map((d) => [csv(d.image), d.score, ...(threshold !== undefined ? [d.anomalous ? 1 : 0] : []), d.maxMap, csv(d.heatmap), csv(d.overlay)].join(','));
  await atomicWriteFile(scoresCsv, [header, ...rows].join('\n') + '\n');
  return { scoresJson, scoresCsv };
}

function csv(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Output names per image: the file stem, prefixed by its folder path when stems collide. */
export function uniqueStems(paths: readonly string[]): Map<string, string> {
  const stem = (p: string) => basename(p).replace(/\.[^.]+$/, '');
  const counts = new Map<string, number>();
  for (const p of paths) counts.set(stem(p), (counts.get(stem(p)) ?? 0) + 1);
  const common = commonDir(paths.map((p) => resolve(p)));
  const out = new Map<string, string>();
  for (const p of paths) {
    const s = stem(p);
    out.set(p, counts.get(s)! > 1 ? relative(common, resolve(p)).replace(/\.[^.]+$/, '').replace(/[\\/]/g, '__') : s);
  }
  return out;
}

function commonDir(paths: string[]): string {
  if (paths.length === 0) return '/';
  let prefix = paths[0]!.split('/').slice(0, -1);
  for (const p of paths.slice(1)) {
    const parts = p.split('/');
    let k = 0;
    while (k < prefix.length && prefix[k] === parts[k]) k++;
    prefix = prefix.slice(0, k);
  }
  return prefix.join('/') || '/';
}
