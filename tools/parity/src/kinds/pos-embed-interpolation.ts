/**
 * Parity of the positional-table resizes on non-square patch grids against torch's `F.interpolate`: DINOv2's
 * `interpolate_pos_encoding` (bicubic, with and without antialias, and the `interpolate_offset` scale-factor
 * path) against `interpolatePosEmbed`, and AnomalyCLIP's bilinear resize against
 * `interpolatePositionalEmbedding`. Each case of `config.json` names its grid and flags; its output is
 * `outputs.<case>` [1 + gh * gw, D].
 */
import * as tf from '@tensorflow/tfjs-core';
import { interpolatePosEmbed, interpolatePositionalEmbedding } from '@hgm/backbone';
import type { Fixture } from '@hgm/tensor/testing';
import { compareOutput, DEFAULT_TOLERANCE, type ParityRow } from '../compare';

interface PosEmbedCase {
  name: string;
  kind: 'dinov2' | 'clip';
  grid: [number, number];
  antialias?: boolean;
  offset?: number;
}

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  const config = await fixture.json<{ cases: PosEmbedCase[] }>('config.json');
  const table = (await fixture.tensors('inputs.safetensors')).get('table');
  if (!table) throw new Error(`${fixture.folder}: inputs.safetensors has no "table"`);
  const outputs = await fixture.tensors('outputs.safetensors');
  const rows: ParityRow[] = [];
  const compared = new Set<string>();
  const [n, dim] = table.shape as [number, number];
  // patch size 1: the grid in patches is the image size in pixels
  const patch = 1;
  for (const c of config.cases) {
    const expected = outputs.get(c.name);
    if (!expected) throw new Error(`${fixture.folder}: case ${c.name} has no output`);
    compared.add(c.name);
    const [gh, gw] = c.grid;
    const produced = tf.tidy(() => {
      if (c.kind === 'clip') return interpolatePositionalEmbedding(tf.tensor2d(table.data as Float32Array, [n, dim]), [gh, gw]);
      const posEmbed = tf.tensor3d(table.data as Float32Array, [1, n, dim]);
      return tf.reshape(interpolatePosEmbed(posEmbed, gh * patch, gw * patch, patch, { antialias: c.antialias ?? false, offset: c.offset ?? 0 }), [
        1 + gh * gw,
        dim,
      ]);
    });
    rows.push(await compareOutput(c.name, produced, expected, DEFAULT_TOLERANCE));
    produced.dispose();
  }
  for (const [name, expected] of outputs) {
    if (!compared.has(name)) rows.push(await compareOutput(name, undefined, expected));
  }
  return rows;
}
