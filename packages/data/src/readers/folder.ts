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
 *
 * Other names for the folders ({@link FolderLayout}, as anomalib's Folder datamodule takes them): BrainMRI and
 * HeadCT as distributed are `no/` (normal) + `yes/` (anomalous), read with `normalDir: 'no', abnormalDirs: ['yes']`.
 * Normal samples get the defect type `good` whatever their folder's name.
 */
export const folderReader: DatasetReader = (root, ctx) => readFolderLayout(root, ctx, {});

/** The names of a folder layout's folders. */
export interface FolderLayout {
  /** The folder of normal images (default `good`). */
  normalDir?: string;
  /**
   * The folders of anomalous images (default: every other folder but the mask folders). When given, other
   * folders are left out with a warning, and a missing one is an error.
   */
  abnormalDirs?: readonly string[];
}

/** The folder reader for other folder names. */
export function folderReaderWith(layout: FolderLayout): DatasetReader {
  return (root, ctx) => readFolderLayout(root, ctx, layout);
}

async function readFolderLayout(root: string, ctx: ReaderContext, layout: FolderLayout): Promise<DatasetSample[]> {
  const normalDir = layout.normalDir ?? NORMAL_DEFECT_TYPE;
  const categories = await folderCategories(ctx, root, normalDir);
  if (categories.length === 0) {
    addError(
      ctx,
      root,
      'layout',
      `no ${normalDir}/ folder found (expected <root>/${normalDir}/ and <root>/<defect>/, or <root>/<category>/${normalDir}/${normalDir === NORMAL_DEFECT_TYPE ? '; other names: --normal-dir / --abnormal-dir' : ''})`,
    );
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
    const folders = await subfolders(ctx, dir);
    for (const missing of (layout.abnormalDirs ?? []).filter((d) => !folders.includes(d))) {
      addError(ctx, joinPath(dir, missing), 'layout', `anomalous-image folder ${missing}/ does not exist (found: ${folders.join(', ') || 'none'})`);
    }
    for (const defect of folders) {
      if (FOLDER_MASK_DIRS.includes(defect)) continue;
      const normal = defect === normalDir;
      if (!normal && layout.abnormalDirs && !layout.abnormalDirs.includes(defect)) {
        addWarning(
          ctx,
          joinPath(dir, defect),
          'ignored-file',
          `folder ${defect}/ is neither the normal folder (${normalDir}/) nor an anomalous one (${layout.abnormalDirs.join(', ')}); left out`,
        );
        continue;
      }
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
        samples.push({
          imagePath: joinPath(defectDir, name),
          maskPaths: chosen,
          label: normal ? 0 : 1,
          category,
          defectType: normal ? NORMAL_DEFECT_TYPE : defect,
          split: 'test',
        });
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
}

/** Folders holding the normal folder (`good/` by default): the root itself, or its sub-folders. */
export async function folderCategories(ctx: ReaderContext, root: string, normalDir: string = NORMAL_DEFECT_TYPE): Promise<string[]> {
  const own = await subfolders(ctx, root);
  if (own.includes(normalDir)) return [root];
  const out: string[] = [];
  for (const name of own) if ((await subfolders(ctx, joinPath(root, name))).includes(normalDir)) out.push(joinPath(root, name));
  return out;
}
