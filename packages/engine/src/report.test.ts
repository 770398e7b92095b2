import { describe, it, expect } from 'vitest';
import { colorOf, heatmapRgb, overlayRgb, minMax, drawMaskOutline } from './colormap';
import { renderReport, lossCurveSvg, escapeHtml } from './html-report';
import { RateMeter, formatDuration } from './progress';

describe('colormap', () => {
  it('maps the ends of the scale and clamps outside it', () => {
    expect(colorOf(0)).toEqual([48, 18, 59]);
    expect(colorOf(1)).toEqual([122, 4, 3]);
    expect(colorOf(-5)).toEqual(colorOf(0));
    expect(colorOf(NaN)).toEqual(colorOf(0));
    const heat = heatmapRgb([0, 0.5, 1], { min: 0, max: 1 });
    expect(Array.from(heat.slice(0, 3))).toEqual([48, 18, 59]);
    expect(Array.from(heat.slice(6, 9))).toEqual([122, 4, 3]);
    expect(minMax([2, 2, 2])).toEqual({ min: 2, max: 3 });
  });

  it('blends overlays and outlines masks', () => {
    expect(Array.from(overlayRgb(Uint8Array.of(0, 100, 200), Uint8Array.of(200, 100, 0), 0.25))).toEqual([50, 100, 150]);
    expect(() => overlayRgb(new Uint8Array(3), new Uint8Array(6))).toThrow('overlay: image has 3 bytes, heat map has 6');
    const img = new Uint8Array(5 * 5 * 3);
    const mask = new Uint8Array(25);
    for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) mask[y * 5 + x] = 1;
    drawMaskOutline(img, mask, 5, 5);
    expect(img[(1 * 5 + 1) * 3]).toBe(255);
    expect(img[(2 * 5 + 2) * 3]).toBe(0); // the interior stays untouched
  });
});

describe('html report', () => {
  it('renders tables, the loss plot and the example grid, escaping text', () => {
    const html = renderReport({
      title: 'Demo <report>',
      summary: ['trained on a & b'],
      tables: [{ title: 'Metrics', columns: ['category', 'image AUROC'], rows: [['wood', 0.91234], ['mean', 0.9]] }],
      lossCurve: { series: [{ name: 'total', values: [3, 2, 1.5, 1] }], stepsPerEpoch: 2 },
      exampleColumns: ['input', 'ground truth', 'prediction'],
      examples: [{ caption: 'wood/crack/000', images: ['a.png', 'b.png', 'c.png'] }],
      footer: ['hgm weights pull dinov3-vitl16'],
    });
    expect(html).toContain('<title>Demo &lt;report&gt;</title>');
    expect(html).toContain('<td>0.912</td>');
    expect(html).toContain('trained on a &amp; b');
    expect(html).toContain('<polyline');
    expect(html.match(/<img /g)?.length).toBe(3);
    expect(escapeHtml('"x"')).toBe('&quot;x&quot;');
    const svg = lossCurveSvg({ series: [{ name: 'total', values: [2, 1] }] }, 300, 200);
    expect(svg).toContain('points="56.0,16.0 150.0,90.0"');
  });
});

describe('progress helpers', () => {
  it('measures rates and formats durations', () => {
    let t = 0;
    const m = new RateMeter(10, () => t);
    m.tick(0);
    t = 1000;
    m.tick(8);
    t = 2000;
    m.tick(8);
    expect(m.rate()).toBe(8);
    expect(m.eta(16)).toBe(2);
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(Infinity)).toBe('?');
  });
});
