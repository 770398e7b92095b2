import { afterAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { readDataset, detectFormat } from './read-dataset';
import { nodeFileSystem as fs } from '../node-file-system';
import { loadSample } from '../load-sample';
import { DatasetError } from '../errors';
import { encodeBmp } from '../codecs/bmp';
import { encodeJpeg } from '../codecs/jpeg';
import { countMaskPixels } from '../mask';
import { maskPng, rgbPng, writeTree } from '../test-tree';
import type { DatasetIndex } from '../sample';

const roots: string[] = [];
async function tree(files: Record<string, Uint8Array | string>): Promise<string> {
  const root = await writeTree(files);
  roots.push(root);
  return root;
}
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

const img = rgbPng(8, 6);
const mask = maskPng(8, 6, [1, 1, 4, 3]);
const empty = maskPng(8, 6, null);
const counts = (index: DatasetIndex) => ({
  normal: index.samples.filter((s) => s.label === 0).length,
  anomalous: index.samples.filter((s) => s.label === 1).length,
});
const rel = (root: string, p: string) => p.slice(root.length + 1);

describe('MVTec AD family', () => {
  it('mvtec: train/good, test/<defect>, ground_truth/<defect>/<stem>_mask.png', async () => {
    const root = await tree({
      'bottle/train/good/000.png': img,
      'bottle/train/good/001.png': img,
      'bottle/test/good/000.png': img,
      'bottle/test/broken_large/000.png': img,
      'bottle/test/contamination/000.png': img,
      'bottle/ground_truth/broken_large/000_mask.png': mask,
      'bottle/ground_truth/contamination/000_mask.png': mask,
      'bottle/license.txt': 'x',
      'grid/test/good/000.png': img,
      'grid/test/bent/000.png': img,
      'grid/ground_truth/bent/000_mask.png': mask,
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'mvtec' });
    const index = await readDataset(root, { fs });
    expect(index.format).toBe('mvtec');
    expect(index.detected).toBe(true);
    expect(counts(index)).toEqual({ normal: 4, anomalous: 3 });
    const s = index.samples.find((x) => x.imagePath.endsWith('bottle/test/contamination/000.png'))!;
    expect(s).toMatchObject({ label: 1, category: 'bottle', defectType: 'contamination', split: 'test' });
    expect(s.maskPaths.map((p) => rel(root, p))).toEqual(['bottle/ground_truth/contamination/000_mask.png']);
    expect(index.samples.filter((x) => x.split === 'train')).toHaveLength(2);
    const loaded = await loadSample(s, fs);
    expect(countMaskPixels(loaded.mask!)).toBe(6);
    // The same reader serves MPDD and DTD-Synthetic.
    expect(counts(await readDataset(root, { fs, format: 'mpdd' }))).toEqual({ normal: 4, anomalous: 3 });
    expect((await readDataset(root, { fs, format: 'dtd-synthetic' })).format).toBe('dtd-synthetic');
  });

  it('a category folder itself can be the root', async () => {
    const root = await tree({ 'test/good/000.png': img, 'test/cut/000.png': img, 'ground_truth/cut/000_mask.png': mask });
    const index = await readDataset(root, { fs, format: 'mvtec' });
    expect(counts(index)).toEqual({ normal: 1, anomalous: 1 });
  });

  it('btad: ok/ko folders, BMP images, masks with the image stem', async () => {
    const bmp = encodeBmp({ width: 8, height: 6, channels: 3, data: new Uint8Array(8 * 6 * 3).fill(90) });
    const bmpMask = encodeBmp({ width: 8, height: 6, channels: 1, data: new Uint8Array(48).fill(255) });
    const root = await tree({
      '01/train/ok/0000.bmp': bmp,
      '01/test/ok/0000.bmp': bmp,
      '01/test/ko/0000.bmp': bmp,
      '01/ground_truth/ko/0000.png': mask,
      '03/train/ok/0000.bmp': bmp,
      '03/test/ko/0001.bmp': bmp,
      '03/ground_truth/ko/0001.bmp': bmpMask,
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'btad' });
    const index = await readDataset(root, { fs });
    expect(counts(index)).toEqual({ normal: 3, anomalous: 2 });
    const ko = index.samples.find((x) => x.category === '03' && x.label === 1)!;
    expect(ko.defectType).toBe('ko');
    expect(rel(root, ko.maskPaths[0]!)).toBe('03/ground_truth/ko/0001.bmp');
    expect(countMaskPixels((await loadSample(ko, fs)).mask!)).toBe(48);
  });

  it('mvtec-3d: rgb/ images with gt/ masks beside them, validation split', async () => {
    const root = await tree({
      'bagel/train/good/rgb/000.png': img,
      'bagel/train/good/xyz/000.tiff': 'not read',
      'bagel/validation/good/rgb/000.png': img,
      'bagel/test/good/rgb/000.png': img,
      'bagel/test/good/gt/000.png': empty,
      'bagel/test/crack/rgb/000.png': img,
      'bagel/test/crack/gt/000.png': mask,
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'mvtec-3d' });
    const index = await readDataset(root, { fs });
    expect(index.samples.map((s) => `${s.split}/${s.defectType}/${s.label}/${s.maskPaths.length}`)).toEqual([
      'train/good/0/0',
      'validation/good/0/0',
      'test/crack/1/1',
      'test/good/0/1',
    ]);
    for (const s of index.samples) await loadSample(s, fs);
  });

  it('mvtec-loco: one mask folder per image, masks united', async () => {
    const second = maskPng(8, 6, [5, 4, 7, 6]);
    const root = await tree({
      'juice_bottle/train/good/000.png': img,
      'juice_bottle/validation/good/000.png': img,
      'juice_bottle/test/good/000.png': img,
      'juice_bottle/test/logical_anomalies/000.png': img,
      'juice_bottle/test/structural_anomalies/000.png': img,
      'juice_bottle/ground_truth/logical_anomalies/000/000.png': mask,
      'juice_bottle/ground_truth/logical_anomalies/000/001.png': second,
      'juice_bottle/ground_truth/structural_anomalies/000/000.png': mask,
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'mvtec-loco' });
    const index = await readDataset(root, { fs });
    expect(counts(index)).toEqual({ normal: 3, anomalous: 2 });
    const logical = index.samples.find((s) => s.defectType === 'logical_anomalies')!;
    expect(logical.maskPaths).toHaveLength(2);
    expect(countMaskPixels((await loadSample(logical, fs)).mask!)).toBe(6 + 4);
  });

  it('reports an anomalous image without a mask, naming the image and the expected mask', async () => {
    const root = await tree({
      'cable/test/good/000.png': img,
      'cable/test/cut/000.png': img,
      'cable/test/cut/001.png': img,
      'cable/ground_truth/cut/000_mask.png': mask,
    });
    const err = await readDataset(root, { fs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    const issue = (err as DatasetError).issues[0]!;
    expect(issue.kind).toBe('missing-mask');
    expect(issue.path).toBe(`${root}/cable/test/cut/001.png`);
    expect(issue.message).toContain('cable/ground_truth/cut/001_mask.png');
    const lenient = await readDataset(root, { fs, strict: false });
    expect(lenient.errors).toHaveLength(1);
  });

  it('warns about orphan masks and non-image files instead of skipping them silently', async () => {
    const root = await tree({
      'wood/test/good/000.png': img,
      'wood/test/hole/000.png': img,
      'wood/test/hole/notes.doc': 'x',
      'wood/ground_truth/hole/000_mask.png': mask,
      'wood/ground_truth/hole/007_mask.png': mask,
    });
    const index = await readDataset(root, { fs });
    expect(index.warnings.map((w) => `${w.kind} ${rel(root, w.path)}`).sort()).toEqual([
      'ignored-file wood/test/hole/notes.doc',
      'orphan-mask wood/ground_truth/hole/007_mask.png',
    ]);
  });
});

describe('VisA', () => {
  const csv = [
    'object,split,label,image,mask',
    'candle,train,normal,candle/Data/Images/Normal/0000.JPG,',
    'candle,test,normal,candle/Data/Images/Normal/0001.JPG,',
    'candle,test,anomaly,candle/Data/Images/Anomaly/000.JPG,candle/Data/Masks/Anomaly/000.png',
    '',
  ].join('\n');
  const jpg = encodeJpeg({ width: 8, height: 6, channels: 3, data: new Uint8Array(144).fill(100) });
  // VisA masks store small values; the > 0 rule must count them.
  const visaMask = (() => {
    const m = new Uint8Array(48);
    m[9] = 1;
    m[10] = 1;
    return m;
  })();

  it('reads split_csv/1cls.csv', async () => {
    const { encodePng } = await import('../codecs/png');
    const root = await tree({
      'split_csv/1cls.csv': csv,
      'candle/Data/Images/Normal/0000.JPG': jpg,
      'candle/Data/Images/Normal/0001.JPG': jpg,
      'candle/Data/Images/Anomaly/000.JPG': jpg,
      'candle/Data/Masks/Anomaly/000.png': encodePng({ width: 8, height: 6, channels: 1, bitDepth: 8, data: visaMask }),
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'visa' });
    const index = await readDataset(root, { fs });
    expect(index.samples.map((s) => [s.category, s.split, s.label, s.defectType])).toEqual([
      ['candle', 'train', 0, 'good'],
      ['candle', 'test', 0, 'good'],
      ['candle', 'test', 1, 'anomaly'],
    ]);
    expect(countMaskPixels((await loadSample(index.samples[2]!, fs)).mask!)).toBe(2);
  });

  it('names the CSV line of a bad row and the missing file', async () => {
    const root = await tree({
      'split_csv/1cls.csv': 'object,split,label,image,mask\ncandle,test,broken,a.JPG,\ncandle,test,normal,missing.JPG,\n',
    });
    const err = (await readDataset(root, { fs }).catch((e: unknown) => e)) as DatasetError;
    expect(err.issues.map((i) => `${rel(root, i.path)}: ${i.message}`)).toEqual([
      "split_csv/1cls.csv:2: label must be 'normal' or 'anomaly', got 'broken'",
      'missing.JPG: image listed in ' + `${root}/split_csv/1cls.csv:3 does not exist`,
    ]);
  });

  it('refuses a header without the expected columns', async () => {
    const root = await tree({ 'split_csv/1cls.csv': 'object,split,image\n' });
    await expect(readDataset(root, { fs })).rejects.toThrow(/missing label, mask/);
  });
});

describe('KSDD2', () => {
  it('labels from the GT masks', async () => {
    const root = await tree({
      'train/10000.png': img,
      'train/10000_GT.png': empty,
      'train/10001.png': img,
      'train/10001_GT.png': mask,
      'test/20000.png': img,
      'test/20000_GT.png': mask,
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'ksdd2' });
    const index = await readDataset(root, { fs });
    expect(index.samples.map((s) => [s.split, s.label, s.defectType])).toEqual([
      ['train', 0, 'good'],
      ['train', 1, 'defect'],
      ['test', 1, 'defect'],
    ]);
  });

  it('a missing GT is an error; a corrupt GT fails or, with skipCorrupt, is a counted warning', async () => {
    const root = await tree({
      'train/1.png': img,
      'train/2.png': img,
      'train/2_GT.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5]),
      'test/3.png': img,
      'test/3_GT.png': mask,
    });
    const err = (await readDataset(root, { fs, format: 'ksdd2' }).catch((e: unknown) => e)) as DatasetError;
    expect(err.issues.map((i) => `${i.kind} ${rel(root, i.path)}`)).toEqual(['missing-mask train/1.png', 'corrupt train/2_GT.png']);
    const skipped = await readDataset(root, { fs, format: 'ksdd2', skipCorrupt: true, strict: false });
    expect(skipped.warnings.map((w) => `${w.kind} ${rel(root, w.path)}`)).toEqual(['skipped-corrupt train/2_GT.png']);
  });
});

describe('DAGM 2007', () => {
  const labels = ['1', '1\t0\t0001.PNG\t0', '2\t1\t0002.PNG\t0\t0002_label.PNG', '3\t1\t0003.PNG\t0', ''].join('\n');
  it('reads Labels.txt and the _label masks', async () => {
    const root = await tree({
      'Class1/Train/0001.PNG': img,
      'Class1/Train/0002.PNG': img,
      'Class1/Train/0003.PNG': img,
      'Class1/Train/Label/Labels.txt': labels,
      'Class1/Train/Label/0002_label.PNG': mask,
      'Class1/Train/Label/0003_label.PNG': mask,
      'Class2/Class2/Test/0001.PNG': img,
      'Class2/Class2/Test/Label/Labels.txt': '1\n1\t0\t0001.PNG\t0\n',
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'dagm' });
    const index = await readDataset(root, { fs });
    expect(index.samples.map((s) => [s.category, s.split, s.label, s.maskPaths.map((p) => rel(root, p))])).toEqual([
      ['Class1', 'train', 0, []],
      ['Class1', 'train', 1, ['Class1/Train/Label/0002_label.PNG']],
      ['Class1', 'train', 1, ['Class1/Train/Label/0003_label.PNG']],
      ['Class2', 'test', 0, []],
    ]);
  });

  it('names a listed image that is missing, a defective image without mask and an unlisted image', async () => {
    const root = await tree({
      'Class1/Train/0001.PNG': img,
      'Class1/Train/0003.PNG': img,
      'Class1/Train/0009.PNG': img,
      'Class1/Train/Label/Labels.txt': labels,
    });
    const index = await readDataset(root, { fs, strict: false });
    expect(index.errors.map((i) => `${i.kind} ${rel(root, i.path)}`)).toEqual(['missing-file Class1/Train/0002.PNG', 'missing-mask Class1/Train/0003.PNG']);
    expect(index.warnings.map((i) => `${i.kind} ${rel(root, i.path)}`)).toEqual(['ignored-file Class1/Train/0009.PNG']);
  });
});

describe('meta.json (AnomalyCLIP / AdaCLIP)', () => {
  const meta = {
    train: {},
    test: {
      brain: [
        { img_path: 'brain/test/good/img/0.png', mask_path: '', cls_name: 'brain', specie_name: 'good', anomaly: 0 },
        { img_path: 'brain/test/Ungood/img/1.png', mask_path: 'brain/test/Ungood/label/1.png', cls_name: 'brain', specie_name: 'Ungood', anomaly: 1 },
      ],
      headct: [{ img_path: 'headct/1.png', mask_path: '', cls_name: 'headct', specie_name: 'hemorrhage', anomaly: 1 }],
    },
  };
  it('reads entries; classification-only anomalies have no mask', async () => {
    const root = await tree({
      'meta.json': JSON.stringify(meta),
      'brain/test/good/img/0.png': img,
      'brain/test/Ungood/img/1.png': img,
      'brain/test/Ungood/label/1.png': mask,
      'headct/1.png': img,
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'meta-json' });
    const index = await readDataset(root, { fs });
    expect(index.samples.map((s) => [s.category, s.defectType, s.label, s.maskPaths.length])).toEqual([
      ['brain', 'good', 0, 0],
      ['brain', 'Ungood', 1, 1],
      ['headct', 'hemorrhage', 1, 0],
    ]);
  });

  it('names bad entries and missing files', async () => {
    const bad = {
      test: {
        x: [
          { img_path: 'a.png', mask_path: 'gone.png', cls_name: 'x', specie_name: 'y', anomaly: 1 },
          { img_path: 'a.png', anomaly: 3 },
        ],
      },
      dev: {},
    };
    const root = await tree({ 'meta.json': JSON.stringify(bad), 'a.png': img });
    const index = await readDataset(root, { fs, strict: false });
    expect(index.errors.map((e) => `${e.kind} ${rel(root, e.path)}: ${e.message}`)).toEqual([
      'layout meta.json test.x[1]: anomaly must be 0 or 1, got 3',
      "layout meta.json: unknown split key 'dev' (expected train, test or val)",
      `missing-mask gone.png: mask listed in ${root}/meta.json test.x[0] does not exist`,
    ]);
    const broken = await tree({ 'meta.json': '{not json' });
    await expect(readDataset(broken, { fs })).rejects.toThrow(/meta\.json: not valid JSON/);
  });
});

describe('plain folder layout', () => {
  it('good/ and defect folders, optional masks', async () => {
    const root = await tree({
      'line3/good/a.png': img,
      'line3/good/b.jpg': encodeJpeg({ width: 8, height: 6, channels: 3, data: new Uint8Array(144).fill(30) }),
      'line3/dent/c.png': img,
      'line3/dent/d.png': img,
      'line3/masks/dent/c_mask.png': mask,
      'line4/good/a.png': img,
      'line4/scratch/x.bmp': encodeBmp({ width: 8, height: 6, channels: 3, data: new Uint8Array(144) }),
      'line4/ground_truth/scratch/x.png': mask,
    });
    expect(await detectFormat(root, fs)).toEqual({ format: 'folder' });
    const index = await readDataset(root, { fs });
    expect(index.samples.map((s) => [s.category, s.defectType, s.label, s.maskPaths.map((p) => rel(root, p))])).toEqual([
      ['line3', 'dent', 1, ['line3/masks/dent/c_mask.png']],
      ['line3', 'dent', 1, []],
      ['line3', 'good', 0, []],
      ['line3', 'good', 0, []],
      ['line4', 'good', 0, []],
      ['line4', 'scratch', 1, ['line4/ground_truth/scratch/x.png']],
    ]);
    expect(index.samples.every((s) => s.split === 'test')).toBe(true);
  });

  it('lists a mask folder once: an ignored file in it and an orphan mask are each reported once', async () => {
    const root = await tree({
      'good/a.png': img,
      'dent/c.png': img,
      'dent/d.png': img,
      'dent/e.png': img,
      'masks/dent/c.png': mask,
      'masks/dent/z.png': mask,
      'masks/dent/notes.txt': 'x',
    });
    const index = await readDataset(root, { fs, format: 'folder' });
    expect(index.samples.map((s) => s.maskPaths.map((p) => rel(root, p)))).toEqual([['masks/dent/c.png'], [], [], []]);
    expect(index.warnings.map((w) => `${w.kind} ${rel(root, w.path)}`)).toEqual(['ignored-file masks/dent/notes.txt', 'orphan-mask masks/dent/z.png']);
  });
});

describe('folder layout with other folder names (BrainMRI and HeadCT as distributed: no/ + yes/)', () => {
  it('reads no/ as normal and yes/ as anomalous, found by detection too; other folders are left out with a warning', async () => {
    const root = await tree({
      'brain_mri/no/1 no.jpeg': encodeJpeg({ width: 8, height: 6, channels: 3, data: new Uint8Array(8 * 6 * 3) }),
      'brain_mri/no/2.png': img,
      'brain_mri/yes/Y1.png': img,
      'brain_mri/yes/Y2.png': img,
      'brain_mri/notes/x.png': img,
    });
    await expect(readDataset(root, { fs })).rejects.toThrow(/no known layout/);
    const folder = { normalDir: 'no', abnormalDirs: ['yes'] };
    expect(await detectFormat(root, fs, folder)).toEqual({ format: 'folder' });
    const index = await readDataset(root, { fs, folder });
    expect(index.format).toBe('folder');
    expect(counts(index)).toEqual({ normal: 2, anomalous: 2 });
    expect(index.samples.map((s) => [rel(root, s.imagePath), s.label, s.defectType, s.category])).toEqual([
      ['brain_mri/no/1 no.jpeg', 0, 'good', 'brain_mri'],
      ['brain_mri/no/2.png', 0, 'good', 'brain_mri'],
      ['brain_mri/yes/Y1.png', 1, 'yes', 'brain_mri'],
      ['brain_mri/yes/Y2.png', 1, 'yes', 'brain_mri'],
    ]);
    expect(index.warnings.map((w) => [rel(root, w.path), w.message])).toEqual([
      ['brain_mri/notes', 'folder notes/ is neither the normal folder (no/) nor an anomalous one (yes); left out'],
    ]);
    // a misspelled anomalous folder is an error naming it
    await expect(readDataset(root, { fs, folder: { normalDir: 'no', abnormalDirs: ['yse'] } })).rejects.toThrow(
      /anomalous-image folder yse\/ does not exist \(found: no, notes, yes\)/,
    );
    await expect(readDataset(root, { fs, folder: { normalDir: 'normal' } })).rejects.toThrow(/no normal\/ folder found/);
  });
});

describe('detection and bad roots', () => {
  it('explains what it found when nothing matches, and a missing root', async () => {
    const root = await tree({ 'photos/a.png': img });
    await expect(readDataset(root, { fs })).rejects.toThrow(/cannot detect the dataset layout: no known layout \(found folders: photos\)/);
    await expect(readDataset(`${root}/nope`, { fs })).rejects.toThrow(/folder does not exist/);
    await expect(readDataset(`${root}/nope`, { fs, format: 'mvtec' })).rejects.toThrow(/dataset folder does not exist/);
    await expect(readDataset(root, { fs, format: 'mvtec' })).rejects.toThrow(/no category folder with train\/ or test\//);
  });
});
