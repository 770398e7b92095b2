import { joinPath } from '../file-system';
import { NORMAL_DEFECT_TYPE, type DatasetSample, type Split } from '../sample';
import { parseCsv } from './csv';
import { addError, type DatasetReader } from './context';

/** The VisA split file read by default (one-class protocol). */
export const VISA_DEFAULT_SPLIT_FILE = 'split_csv/1cls.csv';

const REQUIRED = ['object', 'split', 'label', 'image', 'mask'] as const;

/**
 * VisA: `<root>/split_csv/1cls.csv` with columns `object,split,label,image,mask`; `label` is `normal` or
 * `anomaly`; `image` and `mask` are paths relative to the root (`candle/Data/Images/Anomaly/000.JPG`,
 * `candle/Data/Masks/Anomaly/000.png`). Every listed file must exist; anomalous rows need a mask. VisA does not
 * name defect types in its split files, so anomalous samples get the defect type `anomaly`.
 */
export function visaReader(splitFile = VISA_DEFAULT_SPLIT_FILE): DatasetReader {
  return async (root, ctx) => {
    const csvPath = joinPath(root, splitFile);
    if ((await ctx.fs.kind(csvPath)) !== 'file') {
      addError(ctx, csvPath, 'missing-file', 'VisA split file not found');
      return [];
    }
    const rows = parseCsv(new TextDecoder().decode(await ctx.fs.readFile(csvPath)));
    const header = rows.shift();
    const col = new Map<string, number>();
    header?.fields.forEach((h, i) => col.set(h.trim(), i));
    const missing = REQUIRED.filter((c) => !col.has(c));
    if (!header || missing.length > 0) {
      addError(
        ctx,
        csvPath,
        'layout',
        `header must have columns ${REQUIRED.join(',')}; missing ${missing.join(', ')} (found ${header?.fields.join(',') ?? 'no header'})`,
      );
      return [];
    }
    const samples: DatasetSample[] = [];
    const existence = new Map<string, Promise<'file' | 'directory' | null>>();
    const kindOf = (p: string) => {
      let k = existence.get(p);
      if (!k) {
        k = ctx.fs.kind(p);
        existence.set(p, k);
      }
      return k;
    };
    for (const { line, fields } of rows) {
      const get = (c: (typeof REQUIRED)[number]) => (fields[col.get(c)!] ?? '').trim();
      const where = `${csvPath}:${line}`;
      const label = get('label');
      const split = get('split');
      if (label !== 'normal' && label !== 'anomaly') {
        addError(ctx, where, 'layout', `label must be 'normal' or 'anomaly', got '${label}'`);
        continue;
      }
      if (split !== 'train' && split !== 'test' && split !== 'val') {
        addError(ctx, where, 'layout', `split must be 'train', 'test' or 'val', got '${split}'`);
        continue;
      }
      const image = get('image');
      const mask = get('mask');
      if (!image) {
        addError(ctx, where, 'layout', 'empty image path');
        continue;
      }
      const imagePath = joinPath(root, image);
      if ((await kindOf(imagePath)) !== 'file') {
        addError(ctx, imagePath, 'missing-file', `image listed in ${where} does not exist`);
        continue;
      }
      const maskPaths: string[] = [];
      if (mask) {
        const maskPath = joinPath(root, mask);
        if ((await kindOf(maskPath)) !== 'file') addError(ctx, maskPath, 'missing-mask', `mask listed in ${where} does not exist`);
        else maskPaths.push(maskPath);
      } else if (label === 'anomaly') {
        addError(ctx, imagePath, 'missing-mask', `anomalous image has no mask in ${where}`);
      }
      const anomalous = label === 'anomaly';
      samples.push({
        imagePath,
        maskPaths,
        label: anomalous ? 1 : 0,
        category: get('object'),
        defectType: anomalous ? 'anomaly' : NORMAL_DEFECT_TYPE,
        split: (split === 'val' ? 'validation' : split) as Split,
      });
    }
    return samples;
  };
}
