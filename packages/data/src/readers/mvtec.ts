import { fileStem, joinPath, baseName } from '../file-system';
import { NORMAL_DEFECT_TYPE, type DatasetFormat, type DatasetSample, type Split } from '../sample';
import { addError, addWarning, imageFiles, subfolders, type DatasetReader, type ReaderContext } from './context';

/** How one member of the MVTec AD family lays out images and masks. */
export interface MvtecProfile {
  /** Folder names of normal images (`good`; BTAD uses `ok`). */
  normalNames: string[];
  /** Images sit in `<split>/<defect>/<imageSubfolder>/` (MVTec 3D-AD: `rgb`). */
  imageSubfolder?: string;
  /**
   * Where masks are:
   * - `ground-truth`: `<category>/ground_truth/<defect>/<stem>_mask.<ext>` or `<stem>.<ext>` (MVTec AD, MPDD, DTD-Synthetic, BTAD)
   * - `ground-truth-folder`: `<category>/ground_truth/<defect>/<stem>/*.png`, one file per defect, united (MVTec LOCO)
   * - `beside`: `<split>/<defect>/gt/<stem>.<ext>` (MVTec 3D-AD)
   */
  masks: 'ground-truth' | 'ground-truth-folder' | 'beside';
}

/** The profiles of the MVTec-like layouts. */
export const MVTEC_PROFILES: Record<'mvtec' | 'mpdd' | 'btad' | 'dtd-synthetic' | 'mvtec-3d' | 'mvtec-loco', MvtecProfile> = {
  mvtec: { normalNames: ['good'], masks: 'ground-truth' },
  mpdd: { normalNames: ['good'], masks: 'ground-truth' },
  'dtd-synthetic': { normalNames: ['good'], masks: 'ground-truth' },
  btad: { normalNames: ['ok', 'good'], masks: 'ground-truth' },
  'mvtec-3d': { normalNames: ['good'], imageSubfolder: 'rgb', masks: 'beside' },
  'mvtec-loco': { normalNames: ['good'], masks: 'ground-truth-folder' },
};

const SPLITS: [string, Split][] = [
  ['train', 'train'],
  ['validation', 'validation'],
  ['test', 'test'],
];

/** Category folders under `root`: its sub-folders holding `train/` or `test/`, or `root` itself when it does. */
export async function mvtecCategories(ctx: ReaderContext, root: string): Promise<string[]> {
  const own = await subfolders(ctx, root);
  if (own.includes('test') || own.includes('train')) return [root];
  const out: string[] = [];
  for (const name of own) {
    const inner = await subfolders(ctx, joinPath(root, name));
    if (inner.includes('test') || inner.includes('train')) out.push(joinPath(root, name));
  }
  return out;
}

/** A reader for one MVTec-like layout. */
export function mvtecReader(format: keyof typeof MVTEC_PROFILES): DatasetReader {
  const profile = MVTEC_PROFILES[format];
  return async (root, ctx) => {
    const categories = await mvtecCategories(ctx, root);
    if (categories.length === 0) {
      addError(ctx, root, 'layout', `no category folder with train/ or test/ found (expected the ${format} layout <category>/test/<defect>/...)`);
      return [];
    }
    const samples: DatasetSample[] = [];
    for (const categoryDir of categories) samples.push(...(await readCategory(ctx, categoryDir, profile, format)));
    return samples;
  };
}

async function readCategory(ctx: ReaderContext, categoryDir: string, profile: MvtecProfile, format: DatasetFormat): Promise<DatasetSample[]> {
  const category = baseName(categoryDir);
  const samples: DatasetSample[] = [];
  const usedMasks = new Set<string>();
  const gtRoot = joinPath(categoryDir, 'ground_truth');
  const gtDefects = new Map<string, Set<string>>();
  const gtEntries = async (defect: string): Promise<Set<string>> => {
    let set = gtDefects.get(defect);
    if (!set) {
      const dir = joinPath(gtRoot, defect);
      set = new Set((await ctx.fs.kind(dir)) === 'directory' ? (await ctx.fs.list(dir)).map((e) => e.name) : []);
      gtDefects.set(defect, set);
    }
    return set;
  };

  for (const [folder, split] of SPLITS) {
    const splitDir = joinPath(categoryDir, folder);
    for (const defect of await subfolders(ctx, splitDir)) {
      const normal = profile.normalNames.includes(defect);
      const defectDir = joinPath(splitDir, defect);
      const imageDir = profile.imageSubfolder ? joinPath(defectDir, profile.imageSubfolder) : defectDir;
      if (profile.imageSubfolder && (await ctx.fs.kind(imageDir)) !== 'directory') {
        addError(ctx, defectDir, 'layout', `expected a ${profile.imageSubfolder}/ folder of images (${format} layout)`);
        continue;
      }
      const quiet = (name: string) => /\.(tiff?|txt|json|md)$/i.test(name);
      for (const name of await imageFiles(ctx, imageDir, quiet)) {
        const stem = fileStem(name);
        const imagePath = joinPath(imageDir, name);
        let maskPaths: string[] = [];
        if (profile.masks === 'ground-truth') {
          const entries = await gtEntries(defect);
          const found = [...entries].filter((e) => e.startsWith(`${stem}_mask.`) || fileStem(e) === stem).sort();
          const preferred = found.find((e) => e.startsWith(`${stem}_mask.`)) ?? found[0];
          if (preferred) maskPaths = [joinPath(gtRoot, defect, preferred)];
        } else if (profile.masks === 'ground-truth-folder') {
          const dir = joinPath(gtRoot, defect, stem);
          if ((await ctx.fs.kind(dir)) === 'directory') maskPaths = (await imageFiles(ctx, dir)).map((m) => joinPath(dir, m));
        } else {
          const gtDir = joinPath(defectDir, 'gt');
          for (const candidate of [`${stem}.png`, `${stem}.PNG`, `${stem}.bmp`]) {
            if ((await ctx.fs.kind(joinPath(gtDir, candidate))) === 'file') {
              maskPaths = [joinPath(gtDir, candidate)];
              break;
            }
          }
        }
        if (!normal && maskPaths.length === 0 && split === 'test') {
          const expected =
            profile.masks === 'ground-truth'
              ? joinPath(gtRoot, defect, `${stem}_mask.png`)
              : profile.masks === 'ground-truth-folder'
                ? joinPath(gtRoot, defect, stem, '000.png')
                : joinPath(defectDir, 'gt', `${stem}.png`);
          addError(ctx, imagePath, 'missing-mask', `anomalous image has no mask (expected ${expected})`);
        }
        for (const m of maskPaths) usedMasks.add(m);
        samples.push({ imagePath, maskPaths, label: normal ? 0 : 1, category, defectType: normal ? NORMAL_DEFECT_TYPE : defect, split });
      }
    }
  }
  if (profile.masks !== 'beside') {
    for (const defect of await subfolders(ctx, gtRoot)) {
      const dir = joinPath(gtRoot, defect);
      const names = profile.masks === 'ground-truth-folder' ? await subfolders(ctx, dir) : await imageFiles(ctx, dir);
      for (const name of names) {
        const path = joinPath(dir, name);
        const used = profile.masks === 'ground-truth-folder' ? [...usedMasks].some((m) => m.startsWith(`${path}/`)) : usedMasks.has(path);
        if (!used) addWarning(ctx, path, 'orphan-mask', 'mask without a matching test image; ignored');
      }
    }
  }
  return samples;
}
