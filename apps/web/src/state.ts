/**
 * The page's state logic, free of the DOM and of tfjs: which dropped files are images and which are
 * ground-truth masks, the gallery order, decisions at a threshold, the contour of the thresholded map, the
 * scores CSV (the columns of `hgm detect`'s scores.csv) and the metrics over what was dropped.
 */
import { evaluateMetrics, PixelSet, type MetricOutcome } from '@hgm/metrics';
import { formatImageSize, imageHW, sameImageSize, type ImageSize } from '@hgm/tensor';

/** A dropped file: its path as the browser gives it (`webkitRelativePath` or the bare name) and its bytes. */
export interface DroppedFile {
  path: string;
  bytes: Uint8Array;
}

/** One image of the gallery. */
export interface ImageEntry {
  /** Stable id (order of arrival). */
  id: number;
  /** Path as dropped (folder-relative where the browser gives it). */
  path: string;
  status: 'queued' | 'done' | 'error';
  /** Image score (0..1) once computed. */
  score?: number;
  /** Anomaly map [height * width], values 0..1, once computed. */
  map?: Float32Array;
  /** The model input as 8-bit RGB [height * width * 3] (what the map is aligned with). */
  rgb?: Uint8Array;
  /** Side of the map and of `rgb`. */
  /** The model input size (a side, or `[height, width]`). */
  size?: ImageSize;
  /** Ground-truth mask at the map's size (1 = defect), when one was dropped. */
  mask?: Uint8Array;
  /** Why the image has no result. */
  error?: string;
}

export type SortOrder = 'score-desc' | 'score-asc' | 'name';

const IMAGE_FILE = /\.(png|jpe?g|bmp)$/i;

function parts(path: string): string[] {
  return path.split(/[\\/]/).filter((p) => p.length > 0);
}

/** File stem: the name without folders and extension. */
export function stemOf(path: string): string {
  return (parts(path).pop() ?? path).replace(/\.[^.]+$/, '');
}

/** True for a ground-truth mask: `*_mask.<ext>`, or any image under a `ground_truth` folder (MVTec layout). */
export function isMaskPath(path: string): boolean {
  return (
    /_mask$/i.test(stemOf(path)) ||
    parts(path)
      .slice(0, -1)
      .some((p) => p.toLowerCase() === 'ground_truth')
  );
}

/**
 * The key that pairs an image with its mask: parent folder and stem. MVTec's `test/<defect>/000.png` and
 * `ground_truth/<defect>/000_mask.png` share `<defect>/000`; `x.png` and `x_mask.png` side by side share it too.
 */
export function pairingKey(path: string): string {
  const p = parts(path);
  const parent = p.length > 1 ? p[p.length - 2]! : '';
  return `${parent}/${stemOf(path).replace(/_mask$/i, '')}`;
}

/** Splits dropped files into images and masks; a mask is paired with the image of the same key. Other files are listed as ignored. */
export function splitDropped<T extends { path: string }>(files: readonly T[]): { images: T[]; masks: Map<string, T>; ignored: T[] } {
  const images: T[] = [];
  const masks = new Map<string, T>();
  const ignored: T[] = [];
  for (const f of files) {
    if (!IMAGE_FILE.test(f.path)) ignored.push(f);
    else if (isMaskPath(f.path)) masks.set(pairingKey(f.path), f);
    else images.push(f);
  }
  return { images, masks, ignored };
}

/** The gallery order: by score (images without a score last) or by path. */
export function sortEntries(entries: readonly ImageEntry[], order: SortOrder): ImageEntry[] {
  const byName = (a: ImageEntry, b: ImageEntry) => a.path.localeCompare(b.path);
  return [...entries].sort((a, b) => {
    if (order === 'name') return byName(a, b);
    if (a.score === undefined || b.score === undefined) return a.score === undefined ? (b.score === undefined ? byName(a, b) : 1) : -1;
    return (order === 'score-desc' ? b.score - a.score : a.score - b.score) || byName(a, b);
  });
}

/** The decision at a threshold, as `hgm detect --threshold` makes it: anomalous when score >= threshold. */
export function isAnomalous(score: number, threshold: number): boolean {
  return score >= threshold;
}

/**
 * Contour of the region `map >= threshold`: the region's pixels with a 4-neighbour outside it (or on the
 * image border). Returns [height * width], 1 on the contour.
 */
export function thresholdContour(map: ArrayLike<number>, size: ImageSize, threshold: number): Uint8Array {
  const [height, width] = imageHW(size);
  if (map.length !== height * width) throw new Error(`anomaly map: expected ${height} x ${width} = ${height * width} values, found ${map.length}`);
  const out = new Uint8Array(height * width);
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && map[y * width + x]! >= threshold;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y)) continue;
      if (!inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1)) out[y * width + x] = 1;
    }
  }
  return out;
}

/** Highest value of a map. */
export function maxOf(map: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < map.length; i++) if (map[i]! > m) m = map[i]!;
  return m;
}

/** Output names per image: the stem, prefixed by its folder path when stems collide (as `hgm detect` names its maps). */
export function outputStems(paths: readonly string[]): Map<string, string> {
  const counts = new Map<string, number>();
  for (const p of paths) counts.set(stemOf(p), (counts.get(stemOf(p)) ?? 0) + 1);
  return new Map(
    paths.map((p) => [
      p,
      counts.get(stemOf(p))! > 1
        ? parts(p)
            .join('__')
            .replace(/\.[^.]+$/, '')
        : stemOf(p),
    ]),
  );
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The scores as `hgm detect` writes scores.csv: `image,score[,anomalous],max_map,heatmap,overlay`, one row per
 * image with a result; the map columns name the files the page exports (`maps/<stem>_heatmap.png`).
 */
export function scoresCsv(entries: readonly ImageEntry[], threshold?: number): string {
  const done = entries.filter((e) => e.status === 'done' && e.score !== undefined && e.map !== undefined);
  const stems = outputStems(done.map((e) => e.path));
  const header = threshold !== undefined ? 'image,score,anomalous,max_map,heatmap,overlay' : 'image,score,max_map,heatmap,overlay';
  const rows = done.map((e) => {
    const stem = stems.get(e.path)!;
    const decision = threshold !== undefined ? [isAnomalous(e.score!, threshold) ? 1 : 0] : [];
    return [csvCell(e.path), e.score!, ...decision, maxOf(e.map!), csvCell(`maps/${stem}_heatmap.png`), csvCell(`maps/${stem}_overlay.png`)].join(',');
  });
  return [header, ...rows].join('\n') + '\n';
}

/** The metrics the page reports when masks were dropped. */
export const PAGE_METRICS = ['image_auroc', 'image_ap', 'pixel_auroc', 'aupro_mvtec@0.3'] as const;

/** A row of the metrics table: the value, or why it is undefined for what was dropped. */
export interface MetricRow {
  name: (typeof PAGE_METRICS)[number];
  value?: number;
  reason?: string;
}

/**
 * Metrics over the images with a result. Images dropped without a mask count as normal (an all-zero mask),
 * as in MVTec's `good` folders; none are computed when no mask at all was dropped.
 */
export function pageMetrics(entries: readonly ImageEntry[]): { rows: MetricRow[]; images: number; anomalous: number } | undefined {
  const done = entries.filter((e) => e.status === 'done' && e.score !== undefined && e.map !== undefined && e.size !== undefined);
  if (!done.some((e) => e.mask)) return undefined;
  const size = done[0]!.size!;
  const mixed = done.find((e) => !sameImageSize(e.size!, size));
  if (mixed)
    throw new Error(
      `metrics: every map must have the same size; ${mixed.path} is ${formatImageSize(mixed.size!)} px, the first is ${formatImageSize(size)} px`,
    );
  const [height, width] = imageHW(size);
  const n = height * width;
  const maps = new Float32Array(done.length * n);
  const masks = new Uint8Array(done.length * n);
  const labels: number[] = [];
  done.forEach((e, i) => {
    maps.set(e.map!, i * n);
    if (e.mask) masks.set(e.mask, i * n);
    labels.push(e.mask && e.mask.some((v) => v > 0) ? 1 : 0);
  });
  const outcomes: Map<string, MetricOutcome> = evaluateMetrics(PAGE_METRICS, {
    image: { labels, scores: done.map((e) => e.score!) },
    pixels: new PixelSet('dropped images').addBatch(maps, masks, [done.length, height, width]),
  });
  const rows = PAGE_METRICS.map((name): MetricRow => {
    const o = outcomes.get(name)!;
    return 'value' in o ? { name, value: o.value } : { name, reason: o.error.message };
  });
  return { rows, images: done.length, anomalous: labels.filter((l) => l === 1).length };
}
