import { describe, it, expect } from 'vitest';
import { colorOf, heatmapRgb, overlayRgb, minMax, drawMaskOutline } from './colormap';
import { renderReport, lossCurveSvg, escapeHtml, stepTicks } from './html-report';
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
      tables: [
        {
          title: 'Metrics',
          columns: ['category', 'image AUROC'],
          rows: [
            ['wood', 0.91234],
            ['mean', 0.9],
          ],
        },
      ],
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

  it('draws the colour scale of the examples, commands as code, and numbered steps on the loss chart', () => {
    const html = renderReport({
      title: 'r',
      summary: [],
      tables: [],
      lossCurve: { series: [{ name: 'total', values: Array.from({ length: 24 }, (_, i) => 1 / (i + 1)) }], stepsPerEpoch: 6 },
      exampleColumns: ['map'],
      examples: [{ caption: 'a', images: ['a.png'] }],
      colorScale: { min: 0.25, max: 0.75, label: 'run scale 0.2500 .. 0.7500' },
      commands: { title: 'To run the real model:', lines: ['node apps/cli/bin/hgm.js eval --data <root>'] },
    });
    expect(html).toContain('colour scale of the anomaly maps: run scale 0.2500 .. 0.7500');
    expect(html).toContain('linear-gradient(to right,rgb(48,18,59) 0%');
    expect(html).toContain('rgb(122,4,3) 100%');
    for (const t of ['0.2500', '0.3750', '0.5000', '0.6250', '0.7500']) expect(html).toContain(`>${t}</span>`);
    expect(html).toContain('<pre><code>node apps/cli/bin/hgm.js eval --data &lt;root&gt;</code></pre>');
    expect(html).toContain('6 steps per epoch, 4 epochs');
    // x-axis labels are 1-based step numbers at round values
    expect(stepTicks(24).map((t) => t + 1)).toEqual([1, 5, 10, 15, 20, 24]);
    expect(stepTicks(1)).toEqual([0]);
    expect(stepTicks(3).map((t) => t + 1)).toEqual([1, 2, 3]);
    expect(stepTicks(1000).map((t) => t + 1)).toEqual([1, 200, 400, 600, 800, 1000]);
    expect(html).toMatch(/<text [^>]*text-anchor="middle">24<\/text>/);
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
