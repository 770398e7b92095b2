import { describe, expect, it } from 'vitest';
import { isMaskPath, pageMetrics, pairingKey, scoresCsv, sortEntries, splitDropped, thresholdContour, type ImageEntry } from './state';

const entry = (id: number, path: string, score?: number, extra: Partial<ImageEntry> = {}): ImageEntry => ({
  id,
  path,
  status: score === undefined ? 'error' : 'done',
  ...(score === undefined ? {} : { score, map: new Float32Array([score, 0, 0, 0]), size: 2 }),
  ...extra,
});

describe('dropped files', () => {
  it('pairs masks with images in the MVTec layout and side by side, and ignores other files', () => {
    const files = ['bottle/test/broken/000.png', 'bottle/ground_truth/broken/000_mask.png', 'a.png', 'a_mask.png', 'notes.txt', 'b.jpg'].map((path) => ({
      path,
    }));
    const { images, masks, ignored } = splitDropped(files);
    expect(images.map((f) => f.path)).toEqual(['bottle/test/broken/000.png', 'a.png', 'b.jpg']);
    expect(ignored.map((f) => f.path)).toEqual(['notes.txt']);
    expect(masks.get(pairingKey('bottle/test/broken/000.png'))?.path).toBe('bottle/ground_truth/broken/000_mask.png');
    expect(masks.get(pairingKey('a.png'))?.path).toBe('a_mask.png');
    expect(masks.has(pairingKey('b.jpg'))).toBe(false);
    expect(isMaskPath('x/ground_truth/crack/001.png')).toBe(true);
    expect(isMaskPath('x/test/crack/001.png')).toBe(false);
  });
});

describe('gallery order', () => {
  const entries = [entry(0, 'b.png', 0.2), entry(1, 'a.png', 0.9), entry(2, 'c.png'), entry(3, 'd.png', 0.5)];
  it('sorts by score either way with unscored images last, or by name', () => {
    expect(sortEntries(entries, 'score-desc').map((e) => e.path)).toEqual(['a.png', 'd.png', 'b.png', 'c.png']);
    expect(sortEntries(entries, 'score-asc').map((e) => e.path)).toEqual(['b.png', 'd.png', 'a.png', 'c.png']);
    expect(sortEntries(entries, 'name').map((e) => e.path)).toEqual(['a.png', 'b.png', 'c.png', 'd.png']);
  });
});

describe('threshold contour', () => {
  it('marks the border pixels of the region at or above the threshold', () => {
    // 4 x 4 map with a 2 x 2 block of 1s and a single 0.6 pixel.
    const map = new Float32Array([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0.6]);
    expect(Array.from(thresholdContour(map, 4, 0.5))).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1]);
    expect(Array.from(thresholdContour(map, 4, 0.7))).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
    // a 2 x 3 map (height x width): the contour follows rows of 3
    expect(Array.from(thresholdContour([0, 1, 1, 0, 1, 1], [2, 3], 0.5))).toEqual([0, 1, 1, 0, 1, 1]);
    expect(() => thresholdContour([0, 1, 1, 0], [2, 3], 0.5)).toThrow('anomaly map: expected 2 x 3 = 6 values, found 4');
    const full = new Float32Array(9).fill(1);
    expect(Array.from(thresholdContour(full, 3, 0.5))).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 1]);
    expect(() => thresholdContour(new Float32Array(5), 3, 0.5)).toThrow(/expected 3 x 3 = 9 values, found 5/);
  });
});

describe('scores CSV', () => {
  it('has the columns of hgm detect, with decisions only when a threshold is given', () => {
    const entries = [entry(0, 'x/a.png', 0.75), entry(1, 'y/a.png', 0.25), entry(2, 'bad.png'), entry(3, 'q,r.png', 0.5)];
    expect(scoresCsv(entries, 0.5).split('\n')).toEqual([
      'image,score,anomalous,max_map,heatmap,overlay',
      'x/a.png,0.75,1,0.75,maps/x__a_heatmap.png,maps/x__a_overlay.png',
      'y/a.png,0.25,0,0.25,maps/y__a_heatmap.png,maps/y__a_overlay.png',
      '"q,r.png",0.5,1,0.5,"maps/q,r_heatmap.png","maps/q,r_overlay.png"',
      '',
    ]);
    expect(scoresCsv(entries).split('\n')[0]).toBe('image,score,max_map,heatmap,overlay');
  });
});

describe('page metrics', () => {
  it('are absent without masks and computed over every image with a result when masks were dropped', () => {
    const noMasks = [entry(0, 'a.png', 0.1), entry(1, 'b.png', 0.9)];
    expect(pageMetrics(noMasks)).toBeUndefined();
    const good = entry(0, 'good.png', 0.1, { map: new Float32Array([0.1, 0.1, 0.1, 0.1]) });
    const bad = entry(1, 'bad.png', 0.9, { map: new Float32Array([0.9, 0.2, 0.1, 0.1]), mask: new Uint8Array([1, 0, 0, 0]) });
    const r = pageMetrics([good, bad, entry(2, 'corrupt.png')])!;
    expect(r.images).toBe(2);
    expect(r.anomalous).toBe(1);
    const value = (name: string) => r.rows.find((row) => row.name === name)?.value;
    expect(value('image_auroc')).toBe(1);
    expect(value('image_ap')).toBe(1);
    expect(value('pixel_auroc')).toBe(1);
    expect(value('aupro_mvtec@0.3')).toBeGreaterThan(0.9);
  });

  it('say why a metric is undefined (only one class dropped)', () => {
    const bad = entry(0, 'bad.png', 0.9, { map: new Float32Array([0.9, 0.2, 0.1, 0.1]), mask: new Uint8Array([1, 0, 0, 0]) });
    const r = pageMetrics([bad])!;
    const auroc = r.rows.find((row) => row.name === 'image_auroc')!;
    expect(auroc.value).toBeUndefined();
    expect(auroc.reason).toMatch(/\w/);
  });
});
