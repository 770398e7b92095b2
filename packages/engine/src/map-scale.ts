/**
 * The value range heat maps are coloured over. `fixed` draws 0..1 for every run (maps of different runs
 * compare directly); `run` draws the smallest to the largest map value of the run, so weak maps that stay
 * in a narrow band are not drawn as one flat colour. The range is written into the legend and the report.
 */
import { ConfigError } from '@hgm/tensor';
import type { Normalization } from './colormap';

/** How heat maps are scaled: `fixed` (0..1) or `run` (min..max over every map of the run). */
export type MapScale = 'fixed' | 'run';

export const MAP_SCALES: readonly MapScale[] = ['fixed', 'run'];

/** The range of the fixed scale. */
export const FIXED_SCALE: Readonly<Normalization> = { min: 0, max: 1 };

/** The scale a run's maps were drawn with (written to scores.json, metrics.json and the report). */
export interface MapScaleInfo extends Normalization {
  mode: MapScale;
}

/** Checks a scale name from the outside (CLI flag, config file). */
export function parseMapScale(value: string | undefined): MapScale {
  if (value === undefined) return 'fixed';
  if ((MAP_SCALES as readonly string[]).includes(value)) return value as MapScale;
  throw new ConfigError(`map scale: expected ${MAP_SCALES.join(' or ')}, got "${value}"`);
}

/** Smallest and largest finite value over many maps, fed one map at a time. */
export class MapRange {
  min = Infinity;
  max = -Infinity;

  add(map: ArrayLike<number>): void {
    for (let i = 0; i < map.length; i++) {
      const v = map[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
    }
  }

  /**
   * The run's scale. A run without finite values draws 0..1; a constant run draws [v, v + 1e-6] so the
   * division stays finite (every pixel at the bottom colour).
   */
  scale(): MapScaleInfo {
    if (!(this.max >= this.min)) return { mode: 'run', ...FIXED_SCALE };
    return { mode: 'run', min: this.min, max: this.max > this.min ? this.max : this.min + 1e-6 };
  }
}

/** The fixed scale as a {@link MapScaleInfo}. */
export function fixedScale(): MapScaleInfo {
  return { mode: 'fixed', ...FIXED_SCALE };
}

/** One line for logs and reports: `run scale 0.1234 .. 0.5678`. */
export function describeScale(s: MapScaleInfo): string {
  return `${s.mode} scale ${formatScaleValue(s.min)} .. ${formatScaleValue(s.max)}`;
}

/** A scale end with enough digits to tell narrow ranges apart. */
export function formatScaleValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 0.01 ? v.toFixed(4) : v.toExponential(2);
}
