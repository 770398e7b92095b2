/**
 * Detection on new images: anomaly-map PNGs (heat map and overlay) per image, a JSON and a CSV of image
 * scores, and, with a threshold, a decision per image.
 */
import { join } from 'node:path';
import { atomicWriteFile } from '@hgm/tensor/node';
import { imageHW } from '@hgm/tensor';
import { decodeImage, preprocessImage, readBytes, type DatasetFileSystem, type DecodedImage, type ImageDecoder } from '@hgm/data';
import type { EngineModel } from './engine-model';
import { denormalize, heatmapPng, overlayPng } from './map-images';
import { colorBarPng, originalMapPngs } from './original-maps';
import { MapRange, describeScale, fixedScale, type MapScale, type MapScaleInfo } from './map-scale';
import { uniqueOutputNames } from './output-names';
import { predictImages, mapMaximum } from './predict-images';
import { DecodedStash } from './decoded-stash';
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
  /** The image decoder (default `decodeImage`, the pure-JS codecs; Node callers pass `nodeImageDecoder()`). */
  decode?: ImageDecoder;
  /**
   * `original` (default): maps at each image's own size and aspect, the crop's border hatched as not
   * evaluated, with the threshold contour; `model`: the model's S x S view.
   */
  mapSize?: MapSize;
  /**
   * `fixed` (default): heat maps coloured over 0..1; `run`: over the smallest to the largest map value of
   * this run (each map and its decoded image, or its model input with `mapSize: 'model'`, wait in a temporary
   * folder until the range is known: every image is still decoded once, and memory holds one batch).
   */
  mapScale?: MapScale;
  /** Write the heat maps, overlays and colour bar (default true); without them only the score tables. */
  saveMaps?: boolean;
  onProgress?: ProgressListener;
}

/** Size of the written heat maps and overlays. */
export type MapSize = 'original' | 'model';

export interface Detection {
  image: string;
  score: number;
  /** Present when a threshold was given. */
  anomalous?: boolean;
  /** The written heat map and overlay; null when maps were not written (`saveMaps: false`). */
  heatmap: string | null;
  overlay: string | null;
  /** Highest value of the anomaly map. */
  maxMap: number;
}

export interface DetectResult {
  detections: Detection[];
  skipped: { image: string; reason: string }[];
  scoresJson: string;
  scoresCsv: string;
  /** The colour bar of the heat maps (maps/colorbar.png); null without maps. */
  colorBar: string | null;
  /** The range the heat maps were coloured over (also in scores.json). */
  scale: MapScaleInfo;
}

/** Runs detection and writes maps and score tables into `outDir`. */
export async function detect(options: DetectOptions): Promise<DetectResult> {
  const { model, fs } = options;
  const size = model.preprocess.size;
  const [height, width] = imageHW(size);
  const batchSize = options.batchSize ?? 8;
  const emit = options.onProgress ?? (() => undefined);
  const detections: Detection[] = [];
  const skipped: DetectResult['skipped'] = [];
  const meter = new RateMeter();
  meter.tick(0);
  const names = uniqueOutputNames(options.images);
  const decode = options.decode ?? decodeImage;
  const mapSize = options.mapSize ?? 'original';
  const saveMaps = options.saveMaps ?? true;
  const byRun = saveMaps && options.mapScale === 'run';
  const range = new MapRange();
  // with the run's scale the maps wait here until every map is known (raw files: the map, and the decoded image
  // or, for model-size maps, the model input), so that drawing reuses the first decoding
  const scratch = byRun ? await DecodedStash.open('hgm-detect-maps-') : undefined;
  // original-size maps draw on the decoded image, model-size maps on the model input
  const writeMaps = async (image: DecodedImage | null, pixels: Float32Array, map: Float32Array, d: Detection, norm: MapScaleInfo) => {
    if (d.heatmap === null || d.overlay === null) return;
    if (mapSize === 'original') {
      const pngs = originalMapPngs(image!, map, model.preprocess, { norm, ...(options.threshold !== undefined ? { threshold: options.threshold } : {}) });
      await atomicWriteFile(d.heatmap, pngs.heatmap);
      await atomicWriteFile(d.overlay, pngs.overlay);
    } else {
      await atomicWriteFile(d.heatmap, heatmapPng(map, size, norm));
      await atomicWriteFile(d.overlay, overlayPng(denormalize(pixels, model.preprocess), map, size, norm));
    }
  };
  try {
    let done = 0;
    for (let i = 0; i < options.images.length; i += batchSize) {
      const paths = options.images.slice(i, i + batchSize);
      // the decoded images are kept for the overlays of this batch: each image is decoded once
      const ok: { path: string; image: DecodedImage; pixels: Float32Array }[] = [];
      for (const p of paths) {
        try {
          const image = await decode(await readBytes(fs, p), p);
          ok.push({ path: p, image, pixels: preprocessImage(image, model.preprocess) });
        } catch (e) {
          if (!options.skipCorrupt) throw e;
          const reason = (e as Error).message;
          skipped.push({ image: p, reason });
          emit({ type: 'warning', message: `skipped ${reason}` });
        }
      }
      if (ok.length > 0) {
        const { maps, scores } = await predictImages(
          model,
          ok.map((o) => o.pixels),
        );
        for (let j = 0; j < ok.length; j++) {
          const o = ok[j]!;
          const map = maps.slice(j * height * width, (j + 1) * height * width);
          const stem = names.get(o.path)!;
          const score = scores[j]!;
          const d: Detection = {
            image: o.path,
            score,
            ...(options.threshold !== undefined ? { anomalous: score >= options.threshold } : {}),
            heatmap: saveMaps ? join(options.outDir, 'maps', `${stem}_heatmap.png`) : null,
            overlay: saveMaps ? join(options.outDir, 'maps', `${stem}_overlay.png`) : null,
            maxMap: mapMaximum(map),
          };
          detections.push(d);
          if (scratch) {
            range.add(map);
            await scratch.put(detections.length - 1, mapSize === 'model' ? { map, pixels: o.pixels } : { map, image: o.image });
          } else if (saveMaps) {
            await writeMaps(o.image, o.pixels, map, d, fixedScale());
          }
        }
      }
      done += paths.length;
      meter.tick(paths.length);
      emit({
        type: 'items',
        stage: 'detect',
        done,
        total: options.images.length,
        imagesPerSecond: meter.rate(),
        etaSeconds: meter.eta(options.images.length - done),
      });
    }
    const scale = scratch ? range.scale() : fixedScale();
    if (scratch) {
      emit({ type: 'stage', stage: 'maps', message: `drawing ${detections.length} maps on the ${describeScale(scale)}` });
      for (let k = 0; k < detections.length; k++) {
        const d = detections[k]!;
        const item = await scratch.get(k);
        await writeMaps(item.image ?? null, item.pixels ?? new Float32Array(0), item.map, d, scale);
      }
    }
    const colorBar = saveMaps ? join(options.outDir, 'maps', 'colorbar.png') : null;
    if (colorBar) await atomicWriteFile(colorBar, colorBarPng(scale));
    return { detections, skipped, colorBar, scale, ...(await writeDetectionTables(options.outDir, detections, skipped, options.threshold, scale)) };
  } finally {
    if (scratch) await scratch.close();
  }
}

/**
 * Writes `scores.json` and `scores.csv` (atomically) in the layout of a local `detect` run; the queue's
 * collector writes its results through it too.
 */
export async function writeDetectionTables(
  outDir: string,
  detections: readonly Detection[],
  skipped: DetectResult['skipped'],
  threshold: number | undefined,
  scale?: MapScaleInfo,
): Promise<{ scoresJson: string; scoresCsv: string }> {
  const scoresJson = join(outDir, 'scores.json');
  const scoresCsv = join(outDir, 'scores.csv');
  await atomicWriteFile(
    scoresJson,
    JSON.stringify(
      { threshold: threshold ?? null, ...(scale && detections.some((d) => d.heatmap !== null) ? { mapScale: scale } : {}), detections, skipped },
      null,
      2,
    ),
  );
  const header = threshold !== undefined ? 'image,score,anomalous,max_map,heatmap,overlay' : 'image,score,max_map,heatmap,overlay';
  const rows = detections.map((d) =>
    [csv(d.image), d.score, ...(threshold !== undefined ? [d.anomalous ? 1 : 0] : []), d.maxMap, csv(d.heatmap ?? ''), csv(d.overlay ?? '')].join(','),
  );
  await atomicWriteFile(scoresCsv, [header, ...rows].join('\n') + '\n');
  return { scoresJson, scoresCsv };
}

function csv(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
