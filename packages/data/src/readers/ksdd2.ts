import { decodeImage } from '../codecs/decode-image';
import { DataError } from '../errors';
import { fileStem, joinPath } from '../file-system';
import { binarizeMask, countMaskPixels } from '../mask';
import { NORMAL_DEFECT_TYPE, type DatasetSample, type Split } from '../sample';
import { addError, addWarning, imageFiles, type DatasetReader } from './context';

/**
 * KolektorSDD2: `<root>/train/<id>.png` with `<root>/train/<id>_GT.png`, the same under `test/`. The set has no
 * label file: an image is anomalous when its GT mask has a positive pixel, so the reader decodes every mask.
 * Every image needs its GT file. All samples get the category `ksdd2`.
 */
export const ksdd2Reader: DatasetReader = async (root, ctx) => {
  const samples: DatasetSample[] = [];
  for (const split of ['train', 'test'] as Split[]) {
    const dir = joinPath(root, split);
    if ((await ctx.fs.kind(dir)) !== 'directory') {
      addError(ctx, dir, 'layout', 'KSDD2 split folder not found');
      continue;
    }
    const files = await imageFiles(ctx, dir);
    const set = new Set(files);
    for (const name of files) {
      const stem = fileStem(name);
      if (stem.endsWith('_GT')) {
        const image = files.find((f) => fileStem(f) === stem.slice(0, -3));
        if (!image) addWarning(ctx, joinPath(dir, name), 'orphan-mask', 'GT mask without a matching image; ignored');
        continue;
      }
      const imagePath = joinPath(dir, name);
      const gtName = [`${stem}_GT.png`, `${stem}_GT.PNG`, `${stem}_GT.bmp`].find((g) => set.has(g));
      if (!gtName) {
        addError(ctx, imagePath, 'missing-mask', `image has no GT mask (expected ${joinPath(dir, `${stem}_GT.png`)})`);
        continue;
      }
      const maskPath = joinPath(dir, gtName);
      let positive: number;
      try {
        positive = countMaskPixels(binarizeMask(decodeImage(await ctx.fs.readFile(maskPath), maskPath)));
      } catch (e) {
        const message = e instanceof DataError ? e.detail : (e as Error).message;
        if (ctx.skipCorrupt) addWarning(ctx, maskPath, 'skipped-corrupt', `${message}; skipped with its image ${imagePath}`);
        else addError(ctx, maskPath, 'corrupt', message);
        continue;
      }
      const anomalous = positive > 0;
      samples.push({
        imagePath,
        maskPaths: [maskPath],
        label: anomalous ? 1 : 0,
        category: 'ksdd2',
        defectType: anomalous ? 'defect' : NORMAL_DEFECT_TYPE,
        split,
      });
    }
  }
  return samples;
};
