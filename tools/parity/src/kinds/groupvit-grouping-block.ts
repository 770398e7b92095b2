/**
 * Parity of GroupViT's `GroupingBlock` (NVlabs/GroupViT) against `@hgm/group-merging`'s port. Everything
 * comes from the folder: `config.json` `variants` (constructor and weights file per variant) and
 * `common_constructor`, the inputs `x` and `group_tokens`, and every `<variant>.<name>` tensor of
 * `outputs.safetensors`, each compared (a name without counterpart is a failed row).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, Rng } from '@hgm/tensor';
import { GroupViTGroupingBlock, disposeGroupViTGroupingBlockOutput, type GroupViTGroupingBlockConfig } from '@hgm/group-merging';
import type { Fixture } from '@hgm/tensor/testing';
import { compareOutput, DEFAULT_TOLERANCE, type ParityRow } from '../compare';

interface VariantSpec {
  weights: string;
  constructor: Record<string, unknown>;
}

interface GroupViTFixtureConfig {
  variants: Record<string, VariantSpec>;
  common_constructor?: Record<string, unknown>;
  eval?: boolean;
}

/** The reference constructor arguments (snake_case) as a block config. */
function toConfig(args: Record<string, unknown>, where: string): GroupViTGroupingBlockConfig {
  const num = (key: string, fallback?: number): number => {
    const v = args[key] ?? fallback;
    if (typeof v !== 'number') throw new Error(`${where}: constructor argument ${key} must be a number, found ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = args[key] ?? fallback;
    if (typeof v !== 'boolean') throw new Error(`${where}: constructor argument ${key} must be a boolean, found ${JSON.stringify(v)}`);
    return v;
  };
  const ratio = args.mlp_ratio ?? [0.5, 4];
  const mlpRatio: [number, number] = typeof ratio === 'number' ? [ratio, ratio] : (ratio as [number, number]);
  const normLayer = String(args.norm_layer ?? 'nn.LayerNorm (eps=1e-5)');
  const epsMatch = /eps\s*=\s*([0-9.eE+-]+)/.exec(normLayer);
  if (!/LayerNorm/.test(normLayer)) throw new Error(`${where}: norm_layer ${JSON.stringify(normLayer)} is not a LayerNorm`);
  const dim = num('dim');
  return {
    dim,
    outDim: num('out_dim', dim),
    numHeads: num('num_heads'),
    numGroupTokens: num('num_group_token'),
    numOutputGroups: num('num_output_group'),
    mlpRatio,
    hard: bool('hard', true),
    gumbel: bool('gumbel', true),
    sumAssign: bool('sum_assign', false),
    assignEps: num('assign_eps', 1),
    gumbelTau: num('gumbel_tau', 1),
    layerNormEps: epsMatch ? Number(epsMatch[1]) : 1e-5,
  };
}

/** Output suffix in the fixture -> the produced tensor. */
const OUTPUT_NAMES = {
  new_x: 'newGroupTokens',
  attn_hard: 'attnHard',
  attn_soft: 'attnSoft',
  norm_tokens_out: 'normTokens',
  norm_x_out: 'normX',
  project_group_token_out: 'projectGroupToken',
  pre_assign_attn_out: 'preAssignAttn',
  assign_out: 'assign',
} as const;

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  const config = await fixture.json<GroupViTFixtureConfig>('config.json');
  if (config.eval === false) throw new Error(`${fixture.folder}: only eval-mode fixtures can be compared (no Gumbel noise), found eval=false`);
  const inputs = await fixture.tensors('inputs.safetensors');
  const outputs = await fixture.tensors('outputs.safetensors');
  const rows: ParityRow[] = [];
  const variantNames = Object.keys(config.variants);
  const compared = new Set<string>();
  for (const variant of variantNames) {
    const spec = config.variants[variant]!;
    const blockConfig = toConfig({ ...(config.common_constructor ?? {}), ...spec.constructor }, `${fixture.folder} variant ${variant}`);
    const store = new ParameterStore();
    try {
      const block = new GroupViTGroupingBlock(store, '', blockConfig, new Rng(0));
      const reader = await fixture.safetensors(spec.weights);
      try {
        await store.loadStateDict(reader, { strict: true, source: spec.weights });
      } finally {
        await reader.close();
      }
      const x = tf.tensor(inputs.get('x')!.data, inputs.get('x')!.shape, 'float32');
      const groups = tf.tensor(inputs.get('group_tokens')!.data, inputs.get('group_tokens')!.shape, 'float32');
      const out = block.forward(x, groups, { mode: 'eval' });
      const produced: Record<string, tf.Tensor> = {
        newGroupTokens: out.newGroupTokens,
        attnHard: out.attnHard,
        attnSoft: out.attnSoft,
        ...out.intermediates,
      };
      for (const [name, expected] of outputs) {
        if (!name.startsWith(`${variant}.`)) continue;
        compared.add(name);
        const suffix = name.slice(variant.length + 1) as keyof typeof OUTPUT_NAMES;
        const key = OUTPUT_NAMES[suffix];
        rows.push(await compareOutput(name, key ? produced[key] : undefined, expected, DEFAULT_TOLERANCE));
      }
      disposeGroupViTGroupingBlockOutput(out);
      tf.dispose([x, groups]);
    } finally {
      store.dispose();
    }
  }
  for (const [name, expected] of outputs) {
    if (!compared.has(name)) rows.push(await compareOutput(name, undefined, expected));
  }
  return rows;
}
