/**
 * Parity of ToMe's `bipartite_soft_matching` + `merge_wavg` + `merge_source` + `unmerge`
 * (facebookresearch/ToMe `tome/merge.py`) against `@hgm/group-merging`. Every case of `config.json`
 * names its inputs (`inputs.<name>` or `outputs.<name>`, e.g. a chained merge), `r`, `class_token`,
 * `distill_token` and `size_in`; every `<case>.<name>` tensor of `outputs.safetensors` is compared
 * (indices exactly).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '@hgm/tensor';
import { bipartiteSoftMatching, mergeSource, mergeWeightedAverage } from '@hgm/group-merging';
import type { Fixture } from '@hgm/tensor/testing';
import { compareExact, compareOutput, DEFAULT_TOLERANCE, type ParityRow } from '../compare';

interface TomeCase {
  name: string;
  r: number;
  class_token?: boolean;
  distill_token?: boolean;
  x: string;
  metric: string;
  size_in?: string | null;
}

const INDEX_OUTPUTS = ['unm_idx', 'src_idx', 'dst_idx'] as const;
const FLOAT_OUTPUTS = ['x', 'size', 'source', 'unmerge'] as const;

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  const config = await fixture.json<{ cases: TomeCase[] }>('config.json');
  const files: Record<string, Map<string, HostTensor>> = {
    inputs: await fixture.tensors('inputs.safetensors'),
    outputs: await fixture.tensors('outputs.safetensors'),
  };
  /** Resolves 'inputs.x', 'outputs.r5.x' or 'outputs.r5.x (metric = x)' to a host tensor. */
  const resolve = (ref: string, where: string): HostTensor => {
    const token = ref.trim().split(/\s+/)[0]!;
    const dot = token.indexOf('.');
    const file = files[token.slice(0, dot)];
    const t = file?.get(token.slice(dot + 1));
    if (!t) throw new Error(`${fixture.folder}: ${where} refers to ${JSON.stringify(ref)}, which is not in inputs/outputs.safetensors`);
    return t;
  };
  const outputs = files.outputs!;
  const rows: ParityRow[] = [];
  const compared = new Set<string>();
  for (const c of config.cases) {
    const toTensor = (h: HostTensor): tf.Tensor => tf.tensor(h.data, h.shape, 'float32');
    const x = toTensor(resolve(c.x, `case ${c.name} x`));
    const metric = toTensor(resolve(c.metric, `case ${c.name} metric`));
    const size = c.size_in ? toTensor(resolve(c.size_in, `case ${c.name} size_in`)) : undefined;
    const matching = bipartiteSoftMatching(metric, c.r, { classToken: c.class_token ?? false, distillToken: c.distill_token ?? false });
    const merged = mergeWeightedAverage(matching, x, size);
    const source = mergeSource(matching);
    const unmerged = matching.unmerge(merged.x);
    const produced: Record<string, tf.Tensor> = { x: merged.x, size: merged.size, source, unmerge: unmerged };
    const b = matching.batch;
    const indices: Record<string, Int32Array> = {
      unm_idx: (await matching.unmergedIndices.data()) as Int32Array,
      src_idx: (await matching.srcIndices.data()) as Int32Array,
      dst_idx: (await matching.dstIndices.data()) as Int32Array,
    };
    for (const [name, expected] of outputs) {
      if (!name.startsWith(`${c.name}.`)) continue;
      const suffix = name.slice(c.name.length + 1);
      compared.add(name);
      if ((INDEX_OUTPUTS as readonly string[]).includes(suffix)) {
        const idx = indices[suffix]!;
        const shape = [b, idx.length / b, 1];
        const sameShape = shape.length === expected.shape.length && shape.every((d, i) => d === expected.shape[i]);
        const row = compareExact(name, sameShape ? Array.from(idx) : undefined, Array.from(expected.data), expected.shape);
        if (!sameShape) row.note = `shape [${shape.join(', ')}], expected [${expected.shape.join(', ')}]`;
        rows.push(row);
      } else {
        rows.push(await compareOutput(name, (FLOAT_OUTPUTS as readonly string[]).includes(suffix) ? produced[suffix] : undefined, expected, DEFAULT_TOLERANCE));
      }
    }
    matching.dispose();
    tf.dispose([x, metric, ...(size ? [size] : []), merged.x, merged.size, source, unmerged]);
  }
  for (const [name, expected] of outputs) {
    if (!compared.has(name)) rows.push(await compareOutput(name, undefined, expected));
  }
  return rows;
}
