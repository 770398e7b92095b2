/**
 * `npm run bench -- metrics [--maps 100] [--size 512] [--images 1725] [--repeats 3] [--anomalib-maps 8] [--seed 1]`:
 * scores the same synthetic data with @hgm/metrics and with the Python references (sklearn; an MVTec-style
 * AUPRO written after MVTec's published algorithm, see metrics-reference.py), and prints times and ratios.
 * Targets: AUPRO >= 10x faster than the MVTec-style reference, pixel AUROC/AP at least as fast as sklearn.
 * Each timing of ours includes building the pixel set from the maps (keys, regions), as the references
 * start from the raw arrays too. The Python side is skipped, with a message, when python3 with numpy,
 * scipy and scikit-learn is not found (set HGM_PYTHON to choose an interpreter).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@hgm/tensor';
import { PixelSet, aupro, imageAuroc, pixelAuroc, pixelAveragePrecision, pixelF1Max } from '@hgm/metrics';

interface Options {
  maps: number;
  size: number;
  images: number;
  repeats: number;
  anomalibMaps: number;
  seed: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { maps: 100, size: 512, images: 1725, repeats: 3, anomalibMaps: 8, seed: 1 };
  for (let i = 0; i < args.length; i++) {
    const k = args[i]!.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Options;
    if (!(k in o)) throw new Error(`bench metrics: unknown option ${args[i]}; options: --maps --size --images --repeats --anomalib-maps --seed`);
    o[k] = Number(args[++i]);
  }
  return o;
}

/**
 * Synthetic anomaly maps: a fifth of the images normal, the others with 1-4 elliptic defects; scores are a
 * sigmoid of a smooth bump over each defect plus smooth noise and some false-positive bumps.
 */
function makeMaps(o: Options): { maps: Float32Array; masks: Uint8Array } {
  const rng = new Rng(o.seed);
  const r = (): number => rng.uniform();
  const S = o.size,
    per = S * S;
  const maps = new Float32Array(o.maps * per);
  const masks = new Uint8Array(o.maps * per);
  const field = new Float32Array(per);
  for (let n = 0; n < o.maps; n++) {
    field.fill(0);
    const bump = (cx: number, cy: number, rx: number, ry: number, amp: number, mark: boolean): void => {
      const x0 = Math.max(0, Math.floor(cx - 2 * rx)),
        x1 = Math.min(S - 1, Math.ceil(cx + 2 * rx));
      const y0 = Math.max(0, Math.floor(cy - 2 * ry)),
        y1 = Math.min(S - 1, Math.ceil(cy + 2 * ry));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
          field[y * S + x] = field[y * S + x]! + amp * Math.exp(-d);
          if (mark && d <= 1) masks[n * per + y * S + x] = 1;
        }
      }
    };
    if (n % 5 !== 0) {
      const k = 1 + Math.floor(r() * 4);
      for (let j = 0; j < k; j++) bump(r() * S, r() * S, 3 + r() * S * 0.08, 3 + r() * S * 0.08, 4 + 3 * r(), true);
    }
    for (let j = 0; j < 3; j++) bump(r() * S, r() * S, 5 + r() * 20, 5 + r() * 20, 2.5 * r(), false);
    // smooth noise: a coarse random grid, bilinearly upsampled, plus fine noise
    const G = 16,
      grid = Float32Array.from({ length: (G + 1) * (G + 1) }, () => r() - 0.5);
    for (let y = 0; y < S; y++) {
      const gy = (y / S) * G,
        iy = Math.floor(gy),
        fy = gy - iy;
      for (let x = 0; x < S; x++) {
        const gx = (x / S) * G,
          ix = Math.floor(gx),
          fx = gx - ix;
        const g =
          (grid[iy * (G + 1) + ix]! * (1 - fx) + grid[iy * (G + 1) + ix + 1]! * fx) * (1 - fy) +
          (grid[(iy + 1) * (G + 1) + ix]! * (1 - fx) + grid[(iy + 1) * (G + 1) + ix + 1]! * fx) * fy;
        const v = field[y * S + x]! + 2 * g + 0.3 * (r() - 0.5) - 2.5;
        maps[n * per + y * S + x] = 1 / (1 + Math.exp(-v));
      }
    }
  }
  return { maps, masks };
}

function makeImageScores(o: Options): { labels: Uint8Array; scores: Float32Array } {
  const rng = new Rng(o.seed + 7);
  const labels = Uint8Array.from({ length: o.images }, () => (rng.uniform() < 0.7 ? 1 : 0));
  const scores = Float32Array.from(labels, (l) => 1.5 * l + rng.normal());
  return { labels, scores };
}

function best<T>(repeats: number, fn: () => T): { value: T; seconds: number } {
  let t = Infinity,
    value!: T;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    value = fn();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return { value, seconds: t };
}

function findPython(): { python?: string; why: string } {
  const candidates = [process.env.HGM_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  const tried: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import numpy, scipy, sklearn'], { encoding: 'utf8' });
    if (r.status === 0) return { python: py, why: '' };
    tried.push(`${py}: ${r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop()}`);
  }
  return { why: tried.join('; ') };
}

export async function run(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const S = o.size,
    per = S * S;
  console.log(
    `metrics benchmark: ${o.maps} maps of ${S} x ${S} (${((o.maps * per) / 1e6).toFixed(1)} M pixels), ${o.images} image scores, best of ${o.repeats}`,
  );
  const { maps, masks } = makeMaps(o);
  const { labels, scores } = makeImageScores(o);
  const build = (n = o.maps): PixelSet => new PixelSet('bench').addBatch(maps.subarray(0, n * per), masks.subarray(0, n * per), [n, S, S]);

  // warm-up (JIT) on a small set, so that timings measure steady-state code
  {
    const warm = new PixelSet('warm-up').addBatch(maps.subarray(per, 2 * per), masks.subarray(per, 2 * per), [1, S, S]); // map 1 has defects
    pixelAuroc(warm);
    pixelAveragePrecision(warm);
    pixelF1Max(warm);
    aupro(warm);
    aupro(warm, { variant: 'anomalyclip' });
    imageAuroc(labels, scores);
  }
  const ours: Record<string, { value: number; seconds: number }> = {};
  ours.image_auroc = best(o.repeats, () => imageAuroc(labels, scores));
  ours.pixel_auroc = best(o.repeats, () => pixelAuroc(build()));
  ours.pixel_ap = best(o.repeats, () => pixelAveragePrecision(build()));
  ours['aupro_mvtec@0.3'] = best(o.repeats, () => aupro(build()));
  const set = build();
  const shared = best(o.repeats, () => {
    const s = build();
    pixelAuroc(s);
    pixelAveragePrecision(s);
    pixelF1Max(s);
    return aupro(s);
  });
  ours['pixel_f1_max'] = { value: pixelF1Max(set).f1, seconds: NaN };
  ours['aupro_anomalyclip@0.3'] = best(1, () => aupro(build(), { variant: 'anomalyclip' }));
  const addTime = best(o.repeats, () => build()).seconds;
  let anomalibRow = '';
  if (o.anomalibMaps > 0) {
    const n = Math.min(o.anomalibMaps, o.maps);
    const a = best(1, () => aupro(build(n), { variant: 'anomalib' }));
    anomalibRow = `aupro_anomalib@0.3 on the first ${n} maps: ${a.value.toFixed(6)} in ${a.seconds.toFixed(2)} s (no Python reference here: anomalib needs torch)`;
  }

  // Python references
  const { python, why } = findPython();
  let ref: Record<string, { value: number; seconds: number }> | undefined;
  let refNote = '';
  if (!python) {
    refNote = `Python side skipped: no python3 with numpy, scipy and scikit-learn found (${why}). On Debian: apt-get install -y python3-sklearn python3-scipy`;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'hgm-bench-metrics-'));
    try {
      writeFileSync(join(dir, 'meta.json'), JSON.stringify({ shape: [o.maps, S, S] }));
      writeFileSync(join(dir, 'maps.f32'), new Uint8Array(maps.buffer, maps.byteOffset, maps.byteLength));
      writeFileSync(join(dir, 'masks.u8'), masks);
      writeFileSync(join(dir, 'labels.u8'), labels);
      writeFileSync(join(dir, 'scores.f32'), new Uint8Array(scores.buffer));
      const script = join(dirname(fileURLToPath(import.meta.url)), 'metrics-reference.py');
      const r = spawnSync(python, [script, dir, String(Math.max(1, Math.min(o.repeats, 2)))], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) refNote = `Python side failed (${python}): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`;
      else {
        const parsed = JSON.parse(r.stdout) as Record<string, { value: number; seconds: number }> & { versions?: Record<string, string> };
        refNote = `Python references via ${python} (numpy ${parsed.versions?.numpy}, scikit-learn ${parsed.versions?.sklearn})`;
        delete parsed.versions;
        ref = parsed;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const refName: Record<string, string> = {
    image_auroc: 'sklearn roc_auc_score',
    pixel_auroc: 'sklearn roc_auc_score',
    pixel_ap: 'sklearn average_precision_score',
    'aupro_mvtec@0.3': 'MVTec-style AUPRO (numpy/scipy)',
  };
  const rows: string[][] = [];
  for (const k of Object.keys(ours)) {
    const a = ours[k]!;
    const b = ref?.[k];
    rows.push([
      k,
      Number.isNaN(a.seconds) ? 'shared' : a.seconds.toFixed(3),
      b ? b.seconds.toFixed(3) : '-',
      b ? (b.seconds / a.seconds).toFixed(1) + 'x' : '-',
      a.value.toFixed(6),
      b ? Math.abs(a.value - b.value).toExponential(1) : '-',
      refName[k] ?? '(ours only)',
    ]);
  }
  const head = ['metric', 'ours s', 'reference s', 'speed-up', 'value', '|diff|', 'reference'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`\nours: building the pixel set (float32 keys + 8-connected regions) takes ${addTime.toFixed(3)} s of each pixel timing;`);
  console.log(`all pixel metrics (AUROC, AP, F1-max, AUPRO mvtec) from one set: ${shared.seconds.toFixed(3)} s`);
  if (anomalibRow) console.log(anomalibRow);
  console.log(refNote);
  if (ref) {
    const aup = ref['aupro_mvtec@0.3']!.seconds / ours['aupro_mvtec@0.3']!.seconds;
    const auroc = ref.pixel_auroc!.seconds / ours.pixel_auroc!.seconds;
    const ap = ref.pixel_ap!.seconds / ours.pixel_ap!.seconds;
    console.log(
      `targets: AUPRO >= 10x MVTec-style: ${aup.toFixed(1)}x ${aup >= 10 ? 'met' : 'NOT met'}; pixel AUROC >= sklearn: ${auroc.toFixed(1)}x ${auroc >= 1 ? 'met' : 'NOT met'}; pixel AP >= sklearn: ${ap.toFixed(1)}x ${ap >= 1 ? 'met' : 'NOT met'}`,
    );
  }
}
