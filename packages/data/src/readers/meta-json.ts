import { joinPath } from '../file-system';
import { NORMAL_DEFECT_TYPE, type DatasetSample, type Split } from '../sample';
import { addError, type DatasetReader } from './context';

/** One entry of an AnomalyCLIP / AdaCLIP `meta.json`. */
export interface MetaJsonEntry {
  img_path: string;
  mask_path: string;
  cls_name: string;
  specie_name: string;
  anomaly: 0 | 1;
}

const SPLIT_KEYS: Record<string, Split> = { train: 'train', test: 'test', val: 'validation', validation: 'validation' };

/**
 * The `meta.json` AnomalyCLIP and AdaCLIP write for every set they use (medical ones included):
 * `{ "train": { "<class>": [entry, ...] }, "test": { ... } }` with entries
 * `{ img_path, mask_path, cls_name, specie_name, anomaly }`, paths relative to the folder of `meta.json`.
 * `mask_path` is `""` for normal images and for classification-only sets (those anomalous samples then have
 * no mask, which `inspect` reports). `specie_name` becomes the defect type.
 */
export function metaJsonReader(fileName = 'meta.json'): DatasetReader {
  return async (root, ctx) => {
    const metaPath = joinPath(root, fileName);
    if ((await ctx.fs.kind(metaPath)) !== 'file') {
      addError(ctx, metaPath, 'missing-file', 'meta.json not found');
      return [];
    }
    let meta: unknown;
    try {
      meta = JSON.parse(new TextDecoder().decode(await ctx.fs.readFile(metaPath)));
    } catch (e) {
      addError(ctx, metaPath, 'layout', `not valid JSON (${(e as Error).message})`);
      return [];
    }
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
      addError(ctx, metaPath, 'layout', 'expected an object {"train": {...}, "test": {...}}');
      return [];
    }
    const samples: DatasetSample[] = [];
    const checks: Promise<void>[] = [];
    for (const [key, classes] of Object.entries(meta as Record<string, unknown>)) {
      const split = SPLIT_KEYS[key];
      if (!split) {
        addError(ctx, metaPath, 'layout', `unknown split key '${key}' (expected train, test or val)`);
        continue;
      }
      if (typeof classes !== 'object' || classes === null || Array.isArray(classes)) {
        addError(ctx, metaPath, 'layout', `'${key}' must map class names to lists of entries`);
        continue;
      }
      for (const [cls, entries] of Object.entries(classes as Record<string, unknown>)) {
        if (!Array.isArray(entries)) {
          addError(ctx, metaPath, 'layout', `'${key}.${cls}' must be a list of entries`);
          continue;
        }
        entries.forEach((raw, i) => {
          const where = `${metaPath} ${key}.${cls}[${i}]`;
          const e = raw as Partial<MetaJsonEntry>;
          if (typeof e !== 'object' || e === null || typeof e.img_path !== 'string' || e.img_path === '') {
            addError(ctx, where, 'layout', 'entry needs a non-empty img_path');
            return;
          }
          const anomaly = Number(e.anomaly);
          if (anomaly !== 0 && anomaly !== 1) {
            addError(ctx, where, 'layout', `anomaly must be 0 or 1, got ${JSON.stringify(e.anomaly)}`);
            return;
          }
          const sample: DatasetSample = {
            imagePath: joinPath(root, e.img_path),
            maskPaths: typeof e.mask_path === 'string' && e.mask_path !== '' ? [joinPath(root, e.mask_path)] : [],
            label: anomaly,
            category: typeof e.cls_name === 'string' && e.cls_name ? e.cls_name : cls,
            defectType: anomaly === 0 ? NORMAL_DEFECT_TYPE : typeof e.specie_name === 'string' && e.specie_name ? e.specie_name : 'anomaly',
            split,
          };
          samples.push(sample);
          checks.push(
            (async () => {
              if ((await ctx.fs.kind(sample.imagePath)) !== 'file') addError(ctx, sample.imagePath, 'missing-file', `image listed in ${where} does not exist`);
              const m = sample.maskPaths[0];
              if (m && (await ctx.fs.kind(m)) !== 'file') {
                addError(ctx, m, 'missing-mask', `mask listed in ${where} does not exist`);
                sample.maskPaths = [];
              }
            })(),
          );
        });
      }
    }
    await Promise.all(checks);
    return samples;
  };
}
