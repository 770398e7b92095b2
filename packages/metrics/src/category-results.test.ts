import { describe, expect, it } from 'vitest';
import { evaluateCategories, resultsToCsv, resultsToJson, resultsToMarkdown } from './category-results';
import { PixelSet } from './pixel-set';
import { parseMetricName, formatMetricName } from './metric-names';
import { imageAuroc } from './image-metrics';

describe('per-category results', () => {
  const pixels = (flip: boolean) => new PixelSet().add(Float32Array.of(0.1, 0.9, 0.2, flip ? 0.95 : 0.05), Uint8Array.of(0, 1, 0, 0), { height: 2, width: 2 });
  const table = evaluateCategories(
    [
      { name: 'bottle', image: { labels: [0, 1, 1, 0], scores: [0.1, 0.8, 0.7, 0.2] }, pixels: pixels(false) },
      { name: 'cable', image: { labels: [0, 1, 1, 0], scores: [0.1, 0.8, 0.05, 0.2] }, pixels: pixels(true) },
      { name: 'good_only', image: { labels: [0, 0], scores: [0.1, 0.2] }, pixels: pixels(false) },
    ],
    ['image_auroc', 'pixel_auroc', 'aupro_mvtec@0.3'],
  );
  it('gives per-category values, null with the reason where undefined, and the mean over categories', () => {
    expect(table.rows[0]!.values.image_auroc).toBe(1);
    expect(table.rows[1]!.values.image_auroc).toBe(imageAuroc([0, 1, 1, 0], [0.1, 0.8, 0.05, 0.2]));
    expect(table.rows[2]!.values.image_auroc).toBeNull();
    expect(table.rows[2]!.errors.image_auroc!.code).toBe('single-class');
    expect(table.mean.image_auroc).toBeNull();
    expect(table.mean.pixel_auroc).toBeCloseTo((1 + 2 / 3 + 1) / 3, 15);
  });
  it('prints Markdown, CSV and JSON', () => {
    const md = resultsToMarkdown(table);
    expect(md.split('\n')[0]).toBe('| category | image_auroc | pixel_auroc | aupro_mvtec@0.3 |');
    expect(md).toContain('| bottle | 100.0 | 100.0 |');
    expect(md).toContain('| good_only | n/a |');
    const csv = resultsToCsv(table).trim().split('\n');
    expect(csv[0]).toBe('category,image_auroc,pixel_auroc,aupro_mvtec@0.3');
    expect(csv[3]!.startsWith('good_only,,1,')).toBe(true);
    expect(csv[4]!.startsWith('mean,,')).toBe(true);
    expect(JSON.parse(resultsToJson(table)).rows).toHaveLength(3);
  });
  it('parses and formats metric names', () => {
    expect(parseMetricName('aupro_anomalib@0.05')).toEqual({ level: 'pixel', metric: 'aupro', variant: 'anomalib', fprLimit: 0.05 });
    expect(formatMetricName(parseMetricName('pixel_f1_max_threshold'))).toBe('pixel_f1_max_threshold');
    expect(() => parseMetricName('aupro_private@0.3')).toThrow(/unknown AUPRO variant/);
    expect(() => parseMetricName('pixel_f1_max_index')).toThrow(/image-level/);
  });
});
