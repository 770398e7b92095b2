import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '@hgm/tensor';
import { expectClose, readFixture, repoFixturesDir, useBackend } from '@hgm/tensor/testing';
import { interpolatePosEmbed } from './dino/pos-embed';
import { interpolatePositionalEmbedding } from './clip/positional-embedding';

interface PosEmbedCase {
  name: string;
  kind: 'dinov2' | 'clip';
  grid: [number, number];
  antialias?: boolean;
  offset?: number;
}

/**
 * fixtures/vit/pos-embed-non-square: a 4 x 4 positional grid resized by torch's F.interpolate to grids with
 * rows != columns, as DINOv2 (bicubic, antialias on / off, offset 0.1) and AnomalyCLIP's CLIP (bilinear) do.
 */
describe('positional tables resized to non-square grids agree with torch', () => {
  let table: HostTensor;
  let outputs: Map<string, HostTensor>;
  let cases: PosEmbedCase[];
  beforeAll(async () => {
    expect((await useBackend('cpu')).ok).toBe(true);
    const fx = await readFixture(join(repoFixturesDir(), 'vit/pos-embed-non-square'));
    cases = (await fx.json<{ cases: PosEmbedCase[] }>('config.json')).cases;
    table = (await fx.tensors('inputs.safetensors')).get('table')!;
    outputs = await fx.tensors('outputs.safetensors');
  });

  it('covers both kinds, both orientations and every DINOv2 flag', () => {
    expect(cases.filter((c) => c.kind === 'clip').length).toBeGreaterThanOrEqual(2);
    expect(new Set(cases.filter((c) => c.kind === 'dinov2').map((c) => `${c.antialias}/${c.offset}`))).toEqual(new Set(['true/0', 'false/0', 'false/0.1']));
    expect(cases.some((c) => c.grid[0] > c.grid[1]) && cases.some((c) => c.grid[0] < c.grid[1])).toBe(true);
  });

  it('DINOv2 interpolatePosEmbed (patch 14, image height x width = 14 * grid)', async () => {
    const [n, dim] = table.shape as [number, number];
    for (const c of cases.filter((x) => x.kind === 'dinov2')) {
      const [gh, gw] = c.grid;
      const posEmbed = tf.tensor3d(table.data as Float32Array, [1, n, dim]);
      const out = interpolatePosEmbed(posEmbed, 14 * gh, 14 * gw, 14, { antialias: c.antialias ?? false, offset: c.offset ?? 0 });
      expect(out.shape).toEqual([1, 1 + gh * gw, dim]);
      const rows = tf.reshape(out, [1 + gh * gw, dim]);
      await expectClose(rows, outputs.get(c.name)!, { atol: 1e-5, rtol: 1e-5, name: c.name });
      tf.dispose([posEmbed, out, rows]);
    }
  });

  it('CLIP interpolatePositionalEmbedding (bilinear, align_corners=False)', async () => {
    const [n, dim] = table.shape as [number, number];
    for (const c of cases.filter((x) => x.kind === 'clip')) {
      const t = tf.tensor2d(table.data as Float32Array, [n, dim]);
      const out = interpolatePositionalEmbedding(t, c.grid);
      await expectClose(out, outputs.get(c.name)!, { atol: 1e-5, rtol: 1e-5, name: c.name });
      tf.dispose([t, out]);
    }
  });
});
