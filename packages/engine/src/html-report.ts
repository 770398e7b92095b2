/**
 * A self-contained HTML report: a metrics table, a loss-curve plot (inline SVG) and a grid of examples
 * (input, ground truth, predicted map) whose images are relative paths or data URLs.
 */
import { colorOf } from './colormap';
import { formatScaleValue } from './map-scale';

export interface ReportTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  /** Explanatory note under the table. */
  note?: string;
}

export interface LossCurve {
  /** One series per loss term (and the total), each a value per step. */
  series: { name: string; values: number[] }[];
  /** Steps per epoch, to draw epoch boundaries. */
  stepsPerEpoch?: number;
}

export interface ExampleRow {
  caption: string;
  /** Image sources (relative path or data URL), in the order of `ReportData.exampleColumns`. */
  images: string[];
}

export interface ReportData {
  title: string;
  /** Paragraphs under the title (plain text). */
  summary: string[];
  tables: ReportTable[];
  lossCurve?: LossCurve;
  exampleColumns?: string[];
  examples?: ExampleRow[];
  /** The scale the example heat maps are coloured over: drawn as a colour bar above the examples. */
  colorScale?: ColorScale;
  /** Plain-text lines at the end. */
  footer?: string[];
  /** Shell commands after the footer, each shown as code (e.g. how to run the real model). */
  commands?: { title: string; lines: string[] };
}

/** A heat-map colour scale: the colour bar runs from `min` (left) to `max` (right). */
export interface ColorScale {
  min: number;
  max: number;
  /** What the scale is, printed beside the bar (e.g. "fixed scale 0 .. 1"). */
  label: string;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function cell(v: string | number): string {
  return typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(3) : String(v)) : escapeHtml(v);
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** An SVG line plot of the loss series (log-free, shared y axis from 0 to the maximum). */
export function lossCurveSvg(curve: LossCurve, width = 720, height = 320): string {
  const pad = { l: 56, r: 150, t: 16, b: 36 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const n = Math.max(1, ...curve.series.map((s) => s.values.length));
  let max = 0;
  for (const s of curve.series) for (const v of s.values) if (Number.isFinite(v) && v > max) max = v;
  if (max <= 0) max = 1;
  const x = (i: number) => pad.l + (n <= 1 ? 0 : (i / (n - 1)) * w);
  const y = (v: number) => pad.t + h - (Math.max(0, v) / max) * h;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="loss curve">`,
  );
  parts.push(`<rect x="${pad.l}" y="${pad.t}" width="${w}" height="${h}" fill="#fafafa" stroke="#ccc"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    parts.push(`<line x1="${pad.l}" x2="${pad.l + w}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${pad.l - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  if (curve.stepsPerEpoch && curve.stepsPerEpoch > 0) {
    for (let e = curve.stepsPerEpoch; e < n; e += curve.stepsPerEpoch) {
      parts.push(`<line x1="${x(e)}" x2="${x(e)}" y1="${pad.t}" y2="${pad.t + h}" stroke="#ddd" stroke-dasharray="3,3"/>`);
    }
  }
  for (const t of stepTicks(n)) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${pad.t + h}" y2="${pad.t + h + 4}" stroke="#888"/>`);
    parts.push(`<text x="${x(t)}" y="${pad.t + h + 16}" font-size="11" text-anchor="middle">${t + 1}</text>`);
  }
  const epochs = curve.stepsPerEpoch && curve.stepsPerEpoch > 0 ? Math.ceil(n / curve.stepsPerEpoch) : 0;
  parts.push(
    `<text x="${pad.l + w / 2}" y="${height - 4}" font-size="12" text-anchor="middle">training step${epochs > 1 ? ` (dashed lines: epoch boundaries, ${curve.stepsPerEpoch} steps per epoch, ${epochs} epochs)` : ''}</text>`,
  );
  curve.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="${si === 0 ? 2 : 1.2}" points="${pts}"/>`);
    parts.push(`<rect x="${pad.l + w + 12}" y="${pad.t + 6 + si * 18}" width="12" height="3" fill="${color}"/>`);
    parts.push(`<text x="${pad.l + w + 28}" y="${pad.t + 11 + si * 18}" font-size="12">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Indices (0-based) of about five evenly spaced x-axis ticks over `n` steps, at round step numbers; the
 * labels are 1-based step numbers.
 */
export function stepTicks(n: number): number[] {
  if (n <= 1) return [0];
  const raw = (n - 1) / 5;
  const mag = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((k) => k >= raw) ?? 10 * mag;
  const out = [0];
  for (let t = step; t <= n; t += step) if (t - 1 > 0) out.push(t - 1);
  if (out[out.length - 1] !== n - 1 && n - 1 - out[out.length - 1]! >= step / 2) out.push(n - 1);
  return out;
}

/** A horizontal colour bar with five labelled ticks, as HTML (a CSS gradient of the heat-map colours). */
export function colorScaleHtml(scale: ColorScale): string {
  const stops = Array.from({ length: 11 }, (_, k) => {
    const [r, g, b] = colorOf(k / 10);
    return `rgb(${r},${g},${b}) ${k * 10}%`;
  });
  const ticks = Array.from({ length: 5 }, (_, k) => {
    const v = scale.min + ((scale.max - scale.min) * k) / 4;
    return `<span style="position:absolute;left:${k * 25}%;transform:translateX(-50%)">${escapeHtml(formatScaleValue(v))}</span>`;
  });
  return (
    `<div class="scale"><div class="h">colour scale of the anomaly maps: ${escapeHtml(scale.label)}</div>` +
    `<div style="width:360px;height:14px;border:1px solid #999;background:linear-gradient(to right,${stops.join(',')})"></div>` +
    `<div style="position:relative;width:360px;height:1.2em;font-size:0.8rem">${ticks.join('')}</div></div>`
  );
}

/** Renders the whole report as one HTML document. */
export function renderReport(data: ReportData): string {
  const out: string[] = [];
  out.push('<!doctype html><html lang="en"><head><meta charset="utf-8">');
  out.push(`<title>${escapeHtml(data.title)}</title>`);
  out.push(
    '<style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}' +
      'table{border-collapse:collapse;margin:0.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}' +
      'th:first-child,td:first-child{text-align:left}th{background:#f0f0f0}.grid{display:grid;gap:6px;align-items:start}' +
      '.grid img{width:100%;image-rendering:pixelated;border:1px solid #ddd}.grid .h{font-weight:600;font-size:0.9rem}' +
      '.cap{font-size:0.8rem;color:#555;align-self:center}.note{color:#555;font-size:0.9rem}code{background:#f4f4f4;padding:1px 4px}' +
      'pre{background:#f4f4f4;padding:0.6rem 0.8rem;overflow-x:auto}pre code{padding:0}.scale{margin:0.5rem 0 1rem}.scale .h{font-size:0.9rem;margin-bottom:4px}</style>',
  );
  out.push('</head><body>');
  out.push(`<h1>${escapeHtml(data.title)}</h1>`);
  for (const p of data.summary) out.push(`<p>${escapeHtml(p)}</p>`);
  for (const t of data.tables) {
    out.push(`<h2>${escapeHtml(t.title)}</h2><table><thead><tr>${t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>`);
    for (const r of t.rows) out.push(`<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`);
    out.push('</tbody></table>');
    if (t.note) out.push(`<p class="note">${escapeHtml(t.note)}</p>`);
  }
  if (data.lossCurve) {
    out.push('<h2>Training loss</h2>');
    out.push(lossCurveSvg(data.lossCurve));
  }
  if (data.examples && data.examples.length > 0 && data.exampleColumns) {
    const cols = data.exampleColumns.length;
    out.push('<h2>Examples</h2>');
    if (data.colorScale) out.push(colorScaleHtml(data.colorScale));
    out.push(`<div class="grid" style="grid-template-columns:160px repeat(${cols}, minmax(0, 1fr))"><div></div>`);
    for (const c of data.exampleColumns) out.push(`<div class="h">${escapeHtml(c)}</div>`);
    for (const ex of data.examples) {
      out.push(`<div class="cap">${escapeHtml(ex.caption)}</div>`);
      for (const src of ex.images) out.push(`<img src="${escapeHtml(src)}" alt="">`);
    }
    out.push('</div>');
  }
  if (data.footer) for (const f of data.footer) out.push(`<p class="note">${escapeHtml(f)}</p>`);
  if (data.commands) {
    out.push(`<p>${escapeHtml(data.commands.title)}</p>`);
    out.push(`<pre><code>${data.commands.lines.map(escapeHtml).join('\n')}</code></pre>`);
  }
  out.push('</body></html>');
  return out.join('\n');
}
