import { baseName, fileStem, joinPath } from '../file-system';
import { NORMAL_DEFECT_TYPE, type DatasetSample } from '../sample';
import { addError, addWarning, imageFiles, subfolders, type DatasetReader, type ReaderContext } from './context';

/** Folder names that hold masks, not images, in the plain folder layout. */
export const FOLDER_MASK_DIRS = ['masks', 'ground_truth'];

/**
 * A plain folder layout for users' own data:
 *
 * ```
 * <root>/good/*.png                 normal images
 * <root>/<defect>/*.png             anomalous images, one folder per defect type
 * <root>/masks/<defect>/<stem>.png  optional masks (`<stem>_mask.png` also accepted; `ground_truth/` also accepted)
 * ```
 *
 * Several categories: `<root>/<category>/good/...`. The category is the folder holding `good/`. Every sample
 * has the split `test`. Anomalous images without a mask are allowed (image-level labels only); `inspect`
 * counts them.
 */
export const folderReader: DatasetReader = async (root, ctx) => {
  const categories = await folderCategories(ctx, root);
  if (categories.length === 0) {
    addError(ctx, root, 'layout', 'no good/ folder found (expected <root>/good/ and <root>/<defect>/, or <root>/<category>/good/)');
    return [];
  }
  const samples: DatasetSample[] = [];
  for (const dir of categories) {
    const category = baseName(dir);
    const maskRoots: string[] = [];
    for (const m of FOLDER_MASK_DIRS) if ((await ctx.fs.kind(joinPath(dir, m))) === 'directory') maskRoots.push(joinPath(dir, m));
    // Each mask folder is listed once (its ignored files are reported once), then matched against every image.
    const maskFiles = new Map<string, string[]>();
    for (const maskRoot of maskRoots) {
      for (const defect of await subfolders(ctx, maskRoot)) maskFiles.set(joinPath(maskRoot, defect), await imageFiles(ctx, joinPath(maskRoot, defect)));
    }
    const used = new Set<string>();
    for (const defect of await subfolders(ctx, dir)) {
      if (FOLDER_MASK_DIRS.includes(defect)) continue;
      const normal = defect === NORMAL_DEFECT_TYPE;
      const defectDir = joinPath(dir, defect);
      for (const name of await imageFiles(ctx, defectDir)) {
        const stem = fileStem(name);
        const maskPaths: string[] = [];
        for (const maskRoot of maskRoots) {
          const maskDir = joinPath(maskRoot, defect);
          const files = maskFiles.get(maskDir);
          if (!files) continue;
          const found = files.filter((f) => fileStem(f) === stem || fileStem(f) === `${stem}_mask`);
          if (found.length > 1) addError(ctx, joinPath(maskDir, found[1]!), 'layout', `several masks for ${joinPath(defectDir, name)}: ${found.join(', ')}`);
          if (found[0]) maskPaths.push(joinPath(maskDir, found[0]));
        }
        if (maskPaths.length > 1) addError(ctx, maskPaths[1]!, 'layout', `several masks for ${joinPath(defectDir, name)}: ${maskPaths.join(', ')}`);
        const chosen = maskPaths.slice(0, 1);
        for (const m of chosen) used.add(m);
        samples.push({ imagePath: joinPath(defectDir, name), maskPaths: chosen, label: normal ? 0 : 1, category, defectType: defect, split: 'test' });
      }
    }
    for (const [maskDir, files] of maskFiles) {
      for (const name of files) {
        const path = joinPath(maskDir, name);
        if (!used.has(path)) addWarning(ctx, path, 'orphan-mask', 'mask without a matching image; ignored');
      }
    }
  }
  return samples;
};

/** Folders holding `good/`: the root itself, or its sub-folders. */
export async function folderCategories(ctx: ReaderContext, root: string): Promise<string[]> {
  const own = await subfolders(ctx, root);
  if (own.includes(NORMAL_DEFECT_TYPE)) return [root];
  const out: string[] = [];
  for (const name of own) if ((await subfolders(ctx, joinPath(root, name))).includes(NORMAL_DEFECT_TYPE)) out.push(joinPath(root, name));
  return out;
}
