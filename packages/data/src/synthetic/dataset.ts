import { encodePng } from '../codecs/png';
import { ANOMALY_KINDS, type AnomalyKind } from './anomalies';
import { SYNTHETIC_DOMAINS, type SyntheticDomain } from './domains';
import { generateSample } from './generate-sample';

/** What {@link buildSyntheticDataset} generates. */
export interface SyntheticDatasetConfig {
  /** Master seed: the whole set is a pure function of the config. */
  seed: number | string;
  /** Image side in pixels. */
  size: number;
  /** Domains, one MVTec-style category each. */
  domains: SyntheticDomain[];
  /** Defect kinds, one `test/<kind>/` folder each. */
  kinds: AnomalyKind[];
  /** Normal training images per domain (`train/good/`). */
  trainGood: number;
  /** Normal test images per domain (`test/good/`). */
  testGood: number;
  /** Anomalous test images per domain and kind. */
  testPerKind: number;
}

/** Small by default: the offline demo trains on two CPU cores. */
export const DEFAULT_SYNTHETIC_DATASET_CONFIG: SyntheticDatasetConfig = {
  seed: 0,
  size: 64,
  domains: [...SYNTHETIC_DOMAINS],
  kinds: [...ANOMALY_KINDS],
  trainGood: 8,
  testGood: 4,
  testPerKind: 2,
};

/** Fills defaults and validates; throws naming the field. */
export function resolveSyntheticDatasetConfig(config: Partial<SyntheticDatasetConfig> = {}): SyntheticDatasetConfig {
  const c: SyntheticDatasetConfig = { ...DEFAULT_SYNTHETIC_DATASET_CONFIG, ...config };
  if (!Number.isInteger(c.size) || c.size < 16 || c.size > 1024) throw new RangeError(`synthetic.size must be an integer in [16, 1024], got ${c.size}`);
  for (const key of ['trainGood', 'testGood', 'testPerKind'] as const) {
    if (!Number.isInteger(c[key]) || c[key] < 0 || c[key] > 10_000) throw new RangeError(`synthetic.${key} must be an integer in [0, 10000], got ${c[key]}`);
  }
  if (c.domains.length === 0) throw new RangeError('synthetic.domains is empty');
  for (const d of c.domains)
    if (!SYNTHETIC_DOMAINS.includes(d)) throw new RangeError(`synthetic.domains: unknown domain '${d}' (expected ${SYNTHETIC_DOMAINS.join(', ')})`);
  for (const k of c.kinds) if (!ANOMALY_KINDS.includes(k)) throw new RangeError(`synthetic.kinds: unknown kind '${k}' (expected ${ANOMALY_KINDS.join(', ')})`);
  if (new Set(c.domains).size !== c.domains.length) throw new RangeError('synthetic.domains has duplicates');
  if (new Set(c.kinds).size !== c.kinds.length) throw new RangeError('synthetic.kinds has duplicates');
  return c;
}

/** File name of the i-th image of a folder (`000.png`). */
export function syntheticFileName(index: number): string {
  return `${String(index).padStart(3, '0')}.png`;
}

/**
 * The files of a synthetic dataset in the MVTec AD layout, as relative path -> PNG bytes (images 8-bit RGB,
 * masks 8-bit gray 0/255):
 *
 * ```
 * <domain>/train/good/000.png
 * <domain>/test/good/000.png
 * <domain>/test/<kind>/000.png
 * <domain>/ground_truth/<kind>/000_mask.png
 * ```
 *
 * Each image has its own seed derived from (seed, domain, split, kind, index), so changing a count does not
 * change the other images.
 */
export function buildSyntheticDataset(config: Partial<SyntheticDatasetConfig> = {}): Map<string, Uint8Array> {
  const c = resolveSyntheticDatasetConfig(config);
  const files = new Map<string, Uint8Array>();
  const rgb = (data: Uint8Array) => encodePng({ width: c.size, height: c.size, channels: 3, bitDepth: 8, data });
  for (const domain of c.domains) {
    for (let i = 0; i < c.trainGood; i++) {
      files.set(`${domain}/train/good/${syntheticFileName(i)}`, rgb(generateSample(domain, 'good', `${c.seed}/train/${i}`, { size: c.size }).image));
    }
    for (let i = 0; i < c.testGood; i++) {
      files.set(`${domain}/test/good/${syntheticFileName(i)}`, rgb(generateSample(domain, 'good', `${c.seed}/test/${i}`, { size: c.size }).image));
    }
    for (const kind of c.kinds) {
      for (let i = 0; i < c.testPerKind; i++) {
        const s = generateSample(domain, kind, `${c.seed}/test/${i}`, { size: c.size });
        files.set(`${domain}/test/${kind}/${syntheticFileName(i)}`, rgb(s.image));
        const mask = new Uint8Array(s.mask.length);
        for (let p = 0; p < mask.length; p++) mask[p] = s.mask[p] ? 255 : 0;
        files.set(
          `${domain}/ground_truth/${kind}/${syntheticFileName(i).replace('.png', '_mask.png')}`,
          encodePng({ width: c.size, height: c.size, channels: 1, bitDepth: 8, data: mask }),
        );
      }
    }
  }
  return files;
}
