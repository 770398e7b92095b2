import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { generateSample, MIN_DEFECT_CONTRAST } from './generate-sample';
import { SYNTHETIC_DOMAINS, TEXTURE_DOMAINS } from './domains';
import { ANOMALY_KINDS } from './anomalies';
import { buildSyntheticDataset, resolveSyntheticDatasetConfig } from './dataset';
import { writeSyntheticDataset } from '../node';
import { writeTree } from '../test-tree';
import { readDataset } from '../readers/read-dataset';
import { nodeFileSystem } from '../node-file-system';
import { loadSample } from '../load-sample';
import { countMaskPixels } from '../mask';

async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else
        out.set(
          relative(root, p),
          createHash('sha256')
            .update(await readFile(p))
            .digest('hex'),
        );
    }
  };
  await walk(root);
  return out;
}

describe('generateSample', () => {
  it('marks exactly the changed pixels, each changed visibly, for every domain and kind', () => {
    for (const domain of SYNTHETIC_DOMAINS) {
      for (const kind of ANOMALY_KINDS) {
        for (const seed of [0, 1]) {
          const s = generateSample(domain, kind, seed, { size: 48 });
          let marked = 0;
          let mismatched = 0;
          let faint = 0;
          for (let i = 0; i < 48 * 48; i++) {
            let diff = 0;
            for (let c = 0; c < 3; c++) diff = Math.max(diff, Math.abs(s.image[3 * i + c]! - s.normal[3 * i + c]!));
            if ((diff > 0 ? 1 : 0) !== s.mask[i]) mismatched++;
            if (s.mask[i]) {
              if (diff < MIN_DEFECT_CONTRAST) faint++;
              marked++;
            }
          }
          expect({ mismatched, faint }, `${domain}/${kind}/${seed}`).toEqual({ mismatched: 0, faint: 0 });
          // Visible but local: between 0.3 % and 25 % of the image.
          expect(marked, `${domain}/${kind}/${seed}`).toBeGreaterThanOrEqual(Math.round(48 * 48 * 0.003));
          expect(marked, `${domain}/${kind}/${seed}`).toBeLessThan(48 * 48 * 0.25);
        }
      }
    }
  });

  it('normal images have empty masks and differ between seeds and domains', () => {
    const a = generateSample('wood', 'good', 1);
    expect(countMaskPixels({ width: 64, height: 64, data: a.mask })).toBe(0);
    expect(Buffer.from(a.image).equals(Buffer.from(generateSample('wood', 'good', 1).image))).toBe(true);
    expect(Buffer.from(a.image).equals(Buffer.from(generateSample('wood', 'good', 2).image))).toBe(false);
    expect(TEXTURE_DOMAINS).toContain('wood');
  });

  it('refuses unknown domains, kinds and sizes', () => {
    expect(() => generateSample('marble' as never, 'good', 0)).toThrow(/unknown synthetic domain 'marble'/);
    expect(() => generateSample('wood', 'dent' as never, 0)).toThrow(/unknown synthetic kind 'dent'/);
    expect(() => generateSample('wood', 'good', 0, { size: 8 })).toThrow(/size/);
    expect(() => resolveSyntheticDatasetConfig({ trainGood: -1 })).toThrow(/synthetic\.trainGood/);
  });
});

describe('synthetic datasets', () => {
  const config = { seed: 11, trainGood: 1, testGood: 1, testPerKind: 1, size: 48 };

  it('same seed, same bytes (sha256 of every file); another seed, other bytes', async () => {
    const [a, b] = [await writeTree({}), await writeTree({})];
    try {
      await writeSyntheticDataset(a, config);
      await writeSyntheticDataset(b, config);
      const [ha, hb] = [await hashTree(a), await hashTree(b)];
      expect(ha.size).toBe(SYNTHETIC_DOMAINS.length * (2 + 2 * ANOMALY_KINDS.length));
      expect([...ha.entries()].sort()).toEqual([...hb.entries()].sort());
      const other = buildSyntheticDataset({ ...config, seed: 12 });
      const differing = [...other.entries()].filter(([rel, bytes]) => createHash('sha256').update(bytes).digest('hex') !== ha.get(rel));
      expect(differing.length).toBe(ha.size);
    } finally {
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
    }
  });

  it('is read back by the MVTec reader with masks matching their images', async () => {
    const root = await writeTree({});
    try {
      await writeSyntheticDataset(root, { ...config, domains: ['pill', 'weave'], kinds: ['stain', 'missing'] });
      const index = await readDataset(root, { fs: nodeFileSystem });
      expect(index.format).toBe('mvtec');
      expect(index.samples.map((s) => `${s.category}/${s.split}/${s.defectType}`)).toEqual([
        'pill/train/good',
        'pill/test/good',
        'pill/test/missing',
        'pill/test/stain',
        'weave/train/good',
        'weave/test/good',
        'weave/test/missing',
        'weave/test/stain',
      ]);
      for (const s of index.samples) {
        const { image, mask } = await loadSample(s, nodeFileSystem);
        expect([image.width, image.height, image.channels]).toEqual([48, 48, 3]);
        if (s.label === 1) {
          const original = generateSample(s.category as 'pill', s.defectType as 'stain', `${config.seed}/test/0`, { size: 48 });
          expect(Array.from(mask!.data)).toEqual(Array.from(original.mask));
          expect(Array.from(image.data)).toEqual(Array.from(original.image));
        }
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
