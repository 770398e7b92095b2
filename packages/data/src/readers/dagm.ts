import { fileStem, joinPath } from '../file-system';
import { NORMAL_DEFECT_TYPE, type DatasetSample, type Split } from '../sample';
import { addError, addWarning, imageFiles, subfolders, type DatasetReader, type ReaderContext } from './context';

/** `Class1` ... `Class10` (the development and competition sets use the same names). */
export const DAGM_CLASS_PATTERN = /^Class\d+(_def)?$/;

/** DAGM class folders under `root`; accepts the `ClassN/ClassN/Train` nesting some archives have. */
export async function dagmClasses(ctx: ReaderContext, root: string): Promise<{ category: string; dir: string }[]> {
  const out: { category: string; dir: string }[] = [];
  for (const name of await subfolders(ctx, root)) {
    if (!DAGM_CLASS_PATTERN.test(name)) continue;
    const dir = joinPath(root, name);
    const inner = await subfolders(ctx, dir);
    if (inner.includes('Train') || inner.includes('Test')) out.push({ category: name, dir });
    else if (inner.includes(name)) out.push({ category: name, dir: joinPath(dir, name) });
  }
  return out;
}

/**
 * DAGM 2007: `<root>/ClassN/{Train,Test}/` images with `Label/Labels.txt`, whose rows are
 * `<id> <defective 0|1> <image file> <unused> [<mask file>]` (tab separated, after a one-number first line),
 * and masks `Label/<stem>_label.PNG`. Every listed image must exist, every defective one needs its mask;
 * images the label file does not list are reported as warnings.
 */
export const dagmReader: DatasetReader = async (root, ctx) => {
  const classes = await dagmClasses(ctx, root);
  if (classes.length === 0) {
    addError(ctx, root, 'layout', 'no DAGM class folder (Class1 ... Class10 with Train/ and Test/) found');
    return [];
  }
  const samples: DatasetSample[] = [];
  for (const { category, dir } of classes) {
    for (const [folder, split] of [
      ['Train', 'train'],
      ['Test', 'test'],
    ] as [string, Split][]) {
      const splitDir = joinPath(dir, folder);
      if ((await ctx.fs.kind(splitDir)) !== 'directory') continue;
      const labelsPath = joinPath(splitDir, 'Label', 'Labels.txt');
      if ((await ctx.fs.kind(labelsPath)) !== 'file') {
        addError(ctx, labelsPath, 'missing-file', 'DAGM label file not found');
        continue;
      }
      const present = new Set(await imageFiles(ctx, splitDir));
      const listed = new Set<string>();
      const lines = new TextDecoder().decode(await ctx.fs.readFile(labelsPath)).split(/\r?\n/);
      lines.forEach((raw, i) => {
        const fields = raw.trim().split(/\s+/).filter(Boolean);
        if (fields.length === 0 || (i === 0 && fields.length === 1)) return;
        const where = `${labelsPath}:${i + 1}`;
        if (fields.length < 3) {
          addError(ctx, where, 'layout', `expected '<id> <0|1> <image> ...', got '${raw.trim()}'`);
          return;
        }
        const flag = fields[1];
        const image = fields[2]!;
        if (flag !== '0' && flag !== '1') {
          addError(ctx, where, 'layout', `defect flag must be 0 or 1, got '${flag}'`);
          return;
        }
        listed.add(image);
        const imagePath = joinPath(splitDir, image);
        if (!present.has(image)) {
          addError(ctx, imagePath, 'missing-file', `image listed in ${where} does not exist`);
          return;
        }
        const anomalous = flag === '1';
        const maskPaths: string[] = [];
        if (anomalous) {
          const named = fields[4] && fields[4] !== '0' ? fields[4] : `${fileStem(image)}_label.PNG`;
          maskPaths.push(joinPath(splitDir, 'Label', named));
        }
        samples.push({ imagePath, maskPaths, label: anomalous ? 1 : 0, category, defectType: anomalous ? 'defect' : NORMAL_DEFECT_TYPE, split });
      });
      for (const name of present) {
        if (!listed.has(name)) addWarning(ctx, joinPath(splitDir, name), 'ignored-file', `image not listed in ${labelsPath}; ignored`);
      }
    }
  }
  // Check the masks exist (after listing, so that the label files are read once).
  const checked = await Promise.all(samples.map(async (s) => (s.maskPaths[0] ? (await ctx.fs.kind(s.maskPaths[0])) === 'file' : true)));
  samples.forEach((s, i) => {
    if (checked[i]) return;
    addError(ctx, s.imagePath, 'missing-mask', `defective image has no mask (expected ${s.maskPaths[0]})`);
    s.maskPaths = [];
  });
  return samples;
};
