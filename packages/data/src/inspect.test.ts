import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cp, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { inspectDataset, formatInspectReport } from './inspect';
import { nodeFileSystem as fs } from './node-file-system';
import { writeSyntheticDataset } from './node';
import { maskPng, rgbPng, writeTree } from './test-tree';
import { runInspectCommand } from './inspect-cli';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const roots: string[] = [];
let synthetic = '';

beforeAll(async () => {
  synthetic = await writeTree({});
  roots.push(synthetic);
  await writeSyntheticDataset(synthetic, { seed: 1, domains: ['wood', 'cap'], trainGood: 3, testGood: 2, testPerKind: 1 });
});
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npm', ['run', '-s', 'data:inspect', '--', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 110_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('inspectDataset', () => {
  it('counts a synthetic set per category', async () => {
    const report = await inspectDataset(synthetic, { fs });
    expect(report.ok).toBe(true);
    expect(report.format).toBe('mvtec');
    expect(report.categories.map((c) => [c.category, c.normal, c.anomalous, c.masks, c.imageSizes])).toEqual([
      ['cap', 5, 6, 6, { '64x64': 11 }],
      ['wood', 5, 6, 6, { '64x64': 11 }],
    ]);
    expect(report.categories[0]!.splits).toEqual({ train: { normal: 3, anomalous: 0 }, test: { normal: 2, anomalous: 6 } });
    expect(report.totals).toEqual({ images: 22, normal: 10, anomalous: 12, masks: 12, skipped: 0 });
    expect(formatInspectReport(report)).toMatch(/wood\s+5\s+6\s+6\s+0\s+0\s+train 3\/0, test 2\/6\s+64x64 \(11\)/);
  });

  it('names every faulty file: size and label mismatches, corrupt images', async () => {
    const img = rgbPng(8, 8);
    const root = await writeTree({
      'obj/test/good/000.png': img,
      'obj/test/good/001.png': new Uint8Array([1, 2, 3]),
      'obj/test/dent/000.png': img,
      'obj/test/dent/001.png': img,
      'obj/test/dent/002.png': img,
      'obj/ground_truth/dent/000_mask.png': maskPng(8, 8, [0, 0, 2, 2]),
      'obj/ground_truth/dent/001_mask.png': maskPng(16, 8, [0, 0, 2, 2]),
      'obj/ground_truth/dent/002_mask.png': maskPng(8, 8, null),
    });
    roots.push(root);
    const report = await inspectDataset(root, { fs });
    expect(report.ok).toBe(false);
    expect(report.errors.map((e) => `${e.kind} ${e.path.slice(root.length + 1)}`)).toEqual([
      'size-mismatch obj/ground_truth/dent/001_mask.png',
      'label-mismatch obj/ground_truth/dent/002_mask.png',
      'corrupt obj/test/good/001.png',
    ]);
    expect(report.errors[0]!.message).toBe(`mask is 16x8, but its image ${root}/obj/test/dent/001.png is 8x8`);
    const skipping = await inspectDataset(root, { fs, skipCorrupt: true });
    expect(skipping.errors.map((e) => e.kind)).toEqual(['size-mismatch', 'label-mismatch']);
    expect(skipping.totals.skipped).toBe(1);
    expect(skipping.warnings.find((w) => w.kind === 'skipped-corrupt')!.path).toBe(`${root}/obj/test/good/001.png`);
  });

  it('a normal image with a non-empty mask is a label mismatch', async () => {
    const root = await writeTree({
      'bagel/test/good/rgb/000.png': rgbPng(8, 8),
      'bagel/test/good/gt/000.png': maskPng(8, 8, [1, 1, 2, 2]),
      'bagel/test/hole/rgb/000.png': rgbPng(8, 8),
      'bagel/test/hole/gt/000.png': maskPng(8, 8, [1, 1, 3, 3]),
    });
    roots.push(root);
    const report = await inspectDataset(root, { fs });
    expect(report.format).toBe('mvtec-3d');
    expect(report.errors.map((e) => `${e.kind} ${e.path.slice(root.length + 1)}: ${e.message.replace(root, '')}`)).toEqual([
      'label-mismatch bagel/test/good/gt/000.png: mask has 1 anomalous pixels, but its image /bagel/test/good/rgb/000.png is labelled normal',
    ]);
  });

  it('inspects each dataset of a root holding several layouts, and names the folders it did not inspect', async () => {
    const img = rgbPng(8, 8);
    const root = await writeTree({
      'mvtec-set/bottle/test/good/000.png': img,
      'mvtec-set/bottle/test/broken/000.png': img,
      'mvtec-set/bottle/ground_truth/broken/000_mask.png': maskPng(8, 8, [1, 1, 3, 3]),
      'own/parts/good/a.png': img,
      'own/parts/scratch/b.png': img,
      'notes/readme.txt': 'about these sets',
    });
    roots.push(root);
    const report = await inspectDataset(root, { fs });
    expect(report.datasets!.map((d) => [d.root.slice(root.length + 1), d.format, d.ok])).toEqual([
      ['mvtec-set', 'mvtec', true],
      ['own', 'folder', true],
    ]);
    expect(report.ok).toBe(true);
    expect(report.format).toBeNull();
    expect(report.categories.map((c) => [c.category, c.normal, c.anomalous])).toEqual([
      ['mvtec-set/bottle', 1, 1],
      ['own/parts', 1, 1],
    ]);
    expect(report.totals).toEqual({ images: 4, normal: 2, anomalous: 2, masks: 1, skipped: 0 });
    expect(report.skippedFolders).toEqual([{ path: `${root}/notes`, reason: expect.stringMatching(/^not inspected: no known layout/) }]);
    expect(report.warnings.filter((w) => w.kind === 'skipped-folder').map((w) => w.path)).toEqual([`${root}/notes`]);
    const text = formatInspectReport(report);
    expect(text).toContain(`${root}: 2 datasets in its sub-folders, each inspected on its own`);
    expect(text).toContain(`dataset ${root}/mvtec-set: format mvtec (detected)`);
    expect(text).toContain(`dataset ${root}/own: format folder (detected)`);
    expect(text).toContain('all datasets: 4 images (2 normal, 2 anomalous), 1 with masks, 0 skipped; 0 errors');
    expect(text).toContain(`warning [skipped-folder] ${root}/notes: not inspected: no known layout`);
    // a broken sub-dataset makes the whole report fail
    await writeFile(join(root, 'own', 'parts', 'scratch', 'c.png'), new Uint8Array([1, 2, 3]));
    const broken = await inspectDataset(root, { fs });
    expect(broken.ok).toBe(false);
    expect(broken.errors.map((e) => e.path)).toEqual([join(root, 'own', 'parts', 'scratch', 'c.png')]);
  });

  it('names the folders of a detected layout that it did not read, and why, and inspects those holding another dataset', async () => {
    const img = rgbPng(8, 8);
    const root = await writeTree({
      'bottle/test/good/000.png': img,
      'bottle/test/broken/000.png': img,
      'bottle/ground_truth/broken/000_mask.png': maskPng(8, 8, [1, 1, 3, 3]),
      'brain/good/a.png': img,
      'brain/tumor/b.png': img,
      'docs/notes.txt': 'notes',
      '.cache/x.bin': 'cache',
    });
    roots.push(root);
    const report = await inspectDataset(root, { fs });
    expect(report.datasets!.map((d) => [d.root, d.format])).toEqual([
      [root, 'mvtec'],
      [`${root}/brain`, 'folder'],
    ]);
    expect(report.categories.map((c) => [c.category, c.normal, c.anomalous])).toEqual([
      ['bottle', 1, 1],
      ['brain/brain', 1, 1],
    ]);
    expect(report.skippedFolders).toEqual([{ path: `${root}/docs`, reason: 'not read as part of this mvtec dataset: it has no train/ or test/ folder' }]);
    expect(report.warnings.filter((w) => w.kind === 'skipped-folder').map((w) => w.path)).toEqual([`${root}/docs`]);
    expect(report.ok).toBe(true);
    const text = formatInspectReport(report);
    expect(text).toContain(`warning [skipped-folder] ${root}/docs: not read as part of this mvtec dataset: it has no train/ or test/ folder`);
    expect(text).toContain(`dataset ${root}/brain: format folder (detected)`);
    // with the layout given, only that layout is read and the other dataset is named as skipped
    const given = await inspectDataset(root, { fs, format: 'mvtec' });
    expect(given.datasets).toBeUndefined();
    expect(given.skippedFolders.map((f) => [f.path, f.reason])).toEqual([
      [`${root}/brain`, 'not read as part of this mvtec dataset: it holds a folder dataset of its own (inspect it on its own)'],
      [`${root}/docs`, 'not read as part of this mvtec dataset: it has no train/ or test/ folder'],
    ]);
  });

  it('warns when a test split holds one class only: image AUROC undefined, F1-max and AP degenerate', async () => {
    const img = rgbPng(8, 8);
    const root = await writeTree({
      'onlybad/test/crack/000.png': img,
      'onlybad/test/crack/001.png': img,
      'onlybad/ground_truth/crack/000_mask.png': maskPng(8, 8, [1, 1, 3, 3]),
      'onlybad/ground_truth/crack/001_mask.png': maskPng(8, 8, [2, 2, 4, 4]),
      'onlygood/test/good/000.png': img,
      'both/test/good/000.png': img,
      'both/test/crack/000.png': img,
      'both/ground_truth/crack/000_mask.png': maskPng(8, 8, [1, 1, 3, 3]),
    });
    roots.push(root);
    const report = await inspectDataset(root, { fs });
    expect(report.ok).toBe(true);
    expect(report.warnings.filter((w) => w.kind === 'one-class-test').map((w) => w.message)).toEqual([
      'category onlybad: the test split has 2 anomalous images and no normal one: image AUROC is undefined, and image F1-max and AP count anomalous images only (both 1 whatever the scores)',
      'category onlygood: the test split has 1 normal images and no anomalous one: image AUROC is undefined, image F1-max and AP are 0 whatever the scores, and pixel metrics have no anomalous pixel',
    ]);
    expect(formatInspectReport(report)).toContain('warning [one-class-test]');
  });

  it('reports an undetectable layout as an error', async () => {
    const root = await writeTree({ 'x/y.png': rgbPng(4, 4) });
    roots.push(root);
    const report = await inspectDataset(root, { fs });
    expect(report.ok).toBe(false);
    expect(report.errors[0]!.message).toMatch(/cannot detect the dataset layout/);
  });
});

describe('data:inspect command', () => {
  it('prints the counts of a synthetic set and exits 0', () => {
    const r = runCli([synthetic]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/format mvtec \(detected\)/);
    expect(r.stdout).toMatch(/cap\s+5\s+6\s+6\s+0\s+0/);
    expect(r.stdout).toMatch(/total\s+10\s+12\s+12/);
    expect(r.stdout).toMatch(/no errors/);
  }, 120_000);

  it('exits non-zero naming a planted mismatched mask', async () => {
    const root = await writeTree({});
    roots.push(root);
    await cp(synthetic, root, { recursive: true });
    const planted = join(root, 'wood/ground_truth/crack/000_mask.png');
    await writeFile(planted, maskPng(32, 64, [0, 0, 8, 8]));
    const r = runCli([root, '--format', 'mvtec']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`error [size-mismatch] ${planted}: mask is 32x64, but its image ${join(root, 'wood/test/crack/000.png')} is 64x64`);
    const out: string[] = [];
    expect(await runInspectCommand([root, '--json'], { out: (s) => out.push(s), err: (s) => out.push(s) })).toBe(1);
    const report = JSON.parse(out.join(''));
    expect(report.errors).toEqual([{ path: planted, kind: 'size-mismatch', message: expect.stringContaining('32x64') }]);
  }, 120_000);

  it('usage errors exit 2', async () => {
    const err: string[] = [];
    const io = { out: () => undefined, err: (s: string) => err.push(s) };
    expect(await runInspectCommand([], io)).toBe(2);
    expect(await runInspectCommand(['a', '--format', 'nope'], io)).toBe(2);
    expect(await runInspectCommand(['a', '--bogus'], io)).toBe(2);
    expect(err.join('')).toMatch(/missing <root>[\s\S]*unknown format 'nope'[\s\S]*unknown option --bogus/);
  });
});

describe('image size summary', () => {
  it('lists up to three sizes and summarises more (range, most common, count)', async () => {
    const { summarizeSizes } = await import('./inspect');
    expect(summarizeSizes({ '32x32': 4, '64x48': 1 })).toBe('32x32 (4), 64x48 (1)');
    const many: Record<string, number> = { '512x512': 7 };
    for (let i = 0; i < 190; i++) many[`${300 + i}x${200 + 2 * i}`] = 1;
    expect(summarizeSizes(many)).toBe('191 sizes, width 300-512, height 200-578, most common 512x512 (7)');
  });
});
