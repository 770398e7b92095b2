import type { RenameRule } from '@hgm/tensor';
import type { KeyFormat } from './key-formats';
import type { TensorTransform } from './tensor-transforms';
import { ConfigError } from '@hgm/tensor';

/**
 * One checkpoint conversion between key formats, as data: tensor transforms run first on the source
 * keys they name (consuming them), then every other key goes through the rename rules in order, and keys
 * matching `drop` are left out. A key that no rule changes keeps its name.
 */
export interface Conversion {
  from: KeyFormat;
  to: KeyFormat;
  transforms: readonly TensorTransform[];
  rename: readonly RenameRule[];
  /** Source keys to leave out (regular expressions): buffers the target recomputes. */
  drop: readonly string[];
}

// ---------------------------------------------------------------------------------------------------
// CLIP: openai/open_clip <-> Hugging Face transformers.
// ---------------------------------------------------------------------------------------------------

/** Per-block names shared by the vision and text towers: [openai, Hugging Face]. */
const CLIP_BLOCK_NAMES: readonly [string, string][] = [
  ['attn.out_proj', 'self_attn.out_proj'],
  ['ln_1', 'layer_norm1'],
  ['ln_2', 'layer_norm2'],
  ['mlp.c_fc', 'mlp.fc1'],
  ['mlp.c_proj', 'mlp.fc2'],
];

/** Tower prefixes: [openai block prefix, Hugging Face block prefix]. */
const CLIP_TOWERS: readonly [string, string][] = [
  ['visual.transformer.resblocks.{n}', 'vision_model.encoder.layers.{n}'],
  ['transformer.resblocks.{n}', 'text_model.encoder.layers.{n}'],
];

/** Whole-tensor names outside the blocks: [openai, Hugging Face]. */
const CLIP_NAMES: readonly [string, string][] = [
  ['visual.class_embedding', 'vision_model.embeddings.class_embedding'],
  ['visual.conv1.weight', 'vision_model.embeddings.patch_embedding.weight'],
  ['visual.positional_embedding', 'vision_model.embeddings.position_embedding.weight'],
  ['visual.ln_pre.weight', 'vision_model.pre_layrnorm.weight'],
  ['visual.ln_pre.bias', 'vision_model.pre_layrnorm.bias'],
  ['visual.ln_post.weight', 'vision_model.post_layernorm.weight'],
  ['visual.ln_post.bias', 'vision_model.post_layernorm.bias'],
  ['token_embedding.weight', 'text_model.embeddings.token_embedding.weight'],
  ['positional_embedding', 'text_model.embeddings.position_embedding.weight'],
  ['ln_final.weight', 'text_model.final_layer_norm.weight'],
  ['ln_final.bias', 'text_model.final_layer_norm.bias'],
  ['logit_scale', 'logit_scale'],
];

/** Projections stored `[in, out]` by openai and as `[out, in]` Linear weights by Hugging Face. */
const CLIP_PROJECTIONS: readonly [string, string][] = [
  ['visual.proj', 'visual_projection.weight'],
  ['text_projection', 'text_projection.weight'],
];

export const HF_CLIP_TO_OPENAI: Conversion = {
  from: 'hf-clip',
  to: 'openai',
  transforms: [
    ...CLIP_TOWERS.flatMap(([oa, hf]): TensorTransform[] => [
      { op: 'concat', inputs: ['q', 'k', 'v'].map((p) => `${hf}.self_attn.${p}_proj.weight`), output: `${oa}.attn.in_proj_weight` },
      { op: 'concat', inputs: ['q', 'k', 'v'].map((p) => `${hf}.self_attn.${p}_proj.bias`), output: `${oa}.attn.in_proj_bias` },
    ]),
    ...CLIP_PROJECTIONS.map(([oa, hf]): TensorTransform => ({ op: 'transpose', input: hf, output: oa })),
  ],
  rename: [
    ...CLIP_TOWERS.flatMap(([oa, hf]) => CLIP_BLOCK_NAMES.map(([o, h]) => exactTemplateRule(`${hf}.${h}.`, `${oa}.${o}.`, true))),
    ...CLIP_NAMES.map(([oa, hf]) => exactTemplateRule(hf, oa, false)),
  ],
  drop: ['^(vision_model|text_model)\\.embeddings\\.position_ids$'],
};

export const OPENAI_TO_HF_CLIP: Conversion = {
  from: 'openai',
  to: 'hf-clip',
  transforms: [
    ...CLIP_TOWERS.flatMap(([oa, hf]): TensorTransform[] => [
      { op: 'split', input: `${oa}.attn.in_proj_weight`, outputs: ['q', 'k', 'v'].map((p) => `${hf}.self_attn.${p}_proj.weight`) },
      { op: 'split', input: `${oa}.attn.in_proj_bias`, outputs: ['q', 'k', 'v'].map((p) => `${hf}.self_attn.${p}_proj.bias`) },
    ]),
    ...CLIP_PROJECTIONS.map(([oa, hf]): TensorTransform => ({ op: 'transpose', input: oa, output: hf })),
  ],
  rename: [
    // Longer prefixes first: `visual.transformer.` also ends in `transformer.`, so anchor both.
    ...CLIP_TOWERS.flatMap(([oa, hf]) => CLIP_BLOCK_NAMES.map(([o, h]) => exactTemplateRule(`${oa}.${o}.`, `${hf}.${h}.`, true))),
    ...CLIP_NAMES.map(([oa, hf]) => exactTemplateRule(oa, hf, false)),
  ],
  // open_clip registers the causal mask as a non-persistent buffer; older checkpoints may still hold it.
  drop: ['^attn_mask$', '^(input_resolution|context_length|vocab_size)$'],
};

// ---------------------------------------------------------------------------------------------------
// DINOv2: facebookresearch/dinov2 <-> Hugging Face Dinov2Model / Dinov2WithRegistersModel.
// ---------------------------------------------------------------------------------------------------

const DINOV2_NAMES: readonly [string, string][] = [
  ['cls_token', 'embeddings.cls_token'],
  ['mask_token', 'embeddings.mask_token'],
  ['pos_embed', 'embeddings.position_embeddings'],
  ['register_tokens', 'embeddings.register_tokens'],
  ['patch_embed.proj.weight', 'embeddings.patch_embeddings.projection.weight'],
  ['patch_embed.proj.bias', 'embeddings.patch_embeddings.projection.bias'],
  ['norm.weight', 'layernorm.weight'],
  ['norm.bias', 'layernorm.bias'],
];

const DINOV2_BLOCK_NAMES: readonly [string, string][] = [
  ['norm1', 'norm1'],
  ['norm2', 'norm2'],
  ['attn.proj', 'attention.output.dense'],
  ['ls1.gamma', 'layer_scale1.lambda1'],
  ['ls2.gamma', 'layer_scale2.lambda1'],
  ['mlp.fc1', 'mlp.fc1'],
  ['mlp.fc2', 'mlp.fc2'],
  // SwiGLU feed-forward (ViT-g).
  ['mlp.w12', 'mlp.weights_in'],
  ['mlp.w3', 'mlp.weights_out'],
];

const DINOV2_QKV = ['query', 'key', 'value'];

export const DINOV2_TO_HF: Conversion = {
  from: 'dinov2',
  to: 'hf-dinov2',
  transforms: [
    { op: 'split', input: 'blocks.{n}.attn.qkv.weight', outputs: DINOV2_QKV.map((p) => `encoder.layer.{n}.attention.attention.${p}.weight`) },
    { op: 'split', input: 'blocks.{n}.attn.qkv.bias', outputs: DINOV2_QKV.map((p) => `encoder.layer.{n}.attention.attention.${p}.bias`) },
  ],
  rename: [
    ...DINOV2_BLOCK_NAMES.map(([o, h]) => exactTemplateRule(`blocks.{n}.${o}`, `encoder.layer.{n}.${h}`, true)),
    ...DINOV2_NAMES.map(([o, h]) => exactTemplateRule(o, h, false)),
  ],
  drop: [],
};

export const HF_DINOV2_TO_DINOV2: Conversion = {
  from: 'hf-dinov2',
  to: 'dinov2',
  transforms: [
    { op: 'concat', inputs: DINOV2_QKV.map((p) => `encoder.layer.{n}.attention.attention.${p}.weight`), output: 'blocks.{n}.attn.qkv.weight' },
    { op: 'concat', inputs: DINOV2_QKV.map((p) => `encoder.layer.{n}.attention.attention.${p}.bias`), output: 'blocks.{n}.attn.qkv.bias' },
  ],
  rename: [
    ...DINOV2_BLOCK_NAMES.map(([o, h]) => exactTemplateRule(`encoder.layer.{n}.${h}`, `blocks.{n}.${o}`, true)),
    ...DINOV2_NAMES.map(([o, h]) => exactTemplateRule(h, o, false)),
  ],
  drop: [],
};

// ---------------------------------------------------------------------------------------------------
// DINOv3: facebookresearch/dinov3 <-> Hugging Face DINOv3ViTModel.
// HF has no k-projection bias (the official model masks it with `qkv.bias_mask`), keeps the RoPE
// periods as a non-persistent `inv_freq`, and stores `mask_token` as [1, 1, D] (official: [1, D]).
// `local_cls_norm.*` (SAT-493M checkpoints, `untie_global_and_local_cls_norm`) is used only in training
// and has no HF counterpart: dropped, as transformers' conversion script does.
// RoPE periods: a checkpoint's stored `rope_embed.periods` is used as stored (Meta's .pth files hold
// them rounded to bfloat16, as trained with `pos_embed_rope_dtype: bf16`, and the official model runs
// with those values); HF weights store none, so converting from HF rebuilds them in float32 with the
// formula transformers runs ({@link ropePeriods}). The two differ by up to 2^-8 (0.39 %) relative: each
// format gets the values its own reference model uses.
// The SwiGLU variants (ViT-S+/H+/7B) are not covered: their `mlp.w2` and `mlp.fc1` both map to `up_proj`.
// ---------------------------------------------------------------------------------------------------

const DINOV3_NAMES: readonly [string, string][] = [
  ['cls_token', 'embeddings.cls_token'],
  ['storage_tokens', 'embeddings.register_tokens'],
  ['patch_embed.proj.weight', 'embeddings.patch_embeddings.weight'],
  ['patch_embed.proj.bias', 'embeddings.patch_embeddings.bias'],
  ['norm.weight', 'norm.weight'],
  ['norm.bias', 'norm.bias'],
];

const DINOV3_BLOCK_NAMES: readonly [string, string][] = [
  ['norm1', 'norm1'],
  ['norm2', 'norm2'],
  ['attn.proj', 'attention.o_proj'],
  ['ls1.gamma', 'layer_scale1.lambda1'],
  ['ls2.gamma', 'layer_scale2.lambda1'],
  ['mlp.fc1', 'mlp.up_proj'],
  ['mlp.fc2', 'mlp.down_proj'],
];

const DINOV3_QKV = ['q', 'k', 'v'];

export const DINOV3_TO_HF: Conversion = {
  from: 'dinov3',
  to: 'hf-dinov3',
  transforms: [
    { op: 'split', input: 'blocks.{n}.attn.qkv.weight', outputs: DINOV3_QKV.map((p) => `layer.{n}.attention.${p}_proj.weight`) },
    {
      op: 'split',
      input: 'blocks.{n}.attn.qkv.bias',
      mask: 'blocks.{n}.attn.qkv.bias_mask',
      outputs: ['layer.{n}.attention.q_proj.bias', { key: 'layer.{n}.attention.k_proj.bias', dropWhenMasked: true }, 'layer.{n}.attention.v_proj.bias'],
    },
    { op: 'reshape', input: 'mask_token', output: 'embeddings.mask_token', shape: [1, 1, -1] },
  ],
  rename: [
    ...DINOV3_BLOCK_NAMES.map(([o, h]) => exactTemplateRule(`blocks.{n}.${o}`, `layer.{n}.${h}`, true)),
    ...DINOV3_NAMES.map(([o, h]) => exactTemplateRule(o, h, false)),
  ],
  drop: ['^rope_embed\\.periods$', '^local_cls_norm\\.'],
};

export const HF_DINOV3_TO_DINOV3: Conversion = {
  from: 'hf-dinov3',
  to: 'dinov3',
  transforms: [
    { op: 'concat', inputs: DINOV3_QKV.map((p) => `layer.{n}.attention.${p}_proj.weight`), output: 'blocks.{n}.attn.qkv.weight' },
    {
      op: 'concat',
      inputs: ['layer.{n}.attention.q_proj.bias', { key: 'layer.{n}.attention.k_proj.bias', ifAbsent: 'zeros' }, 'layer.{n}.attention.v_proj.bias'],
      output: 'blocks.{n}.attn.qkv.bias',
    },
    { op: 'qkv-bias-mask', like: 'layer.{n}.attention.q_proj.bias', absent: 'layer.{n}.attention.k_proj.bias', output: 'blocks.{n}.attn.qkv.bias_mask' },
    { op: 'reshape', input: 'embeddings.mask_token', output: 'mask_token', shape: [1, -1] },
    { op: 'rope-periods', like: 'embeddings.cls_token', output: 'rope_embed.periods' },
  ],
  rename: [
    ...DINOV3_BLOCK_NAMES.map(([o, h]) => exactTemplateRule(`layer.{n}.${h}`, `blocks.{n}.${o}`, true)),
    ...DINOV3_NAMES.map(([o, h]) => exactTemplateRule(h, o, false)),
  ],
  drop: [],
};

/** Every conversion, both ways. */
export const CONVERSIONS: readonly Conversion[] = [HF_CLIP_TO_OPENAI, OPENAI_TO_HF_CLIP, DINOV2_TO_HF, HF_DINOV2_TO_DINOV2, DINOV3_TO_HF, HF_DINOV3_TO_DINOV3];

/** The conversion from one format to another; throws naming the known pairs when there is none. */
export function findConversion(from: KeyFormat, to: KeyFormat): Conversion {
  const c = CONVERSIONS.find((x) => x.from === from && x.to === to);
  if (!c) {
    throw new ConfigError(`no conversion from ${from} to ${to} keys (known: ${CONVERSIONS.map((x) => `${x.from} -> ${x.to}`).join(', ')})`);
  }
  return c;
}

/**
 * A rename rule from a key template: dots are literal, `{n}` is a block index. With `prefix` the rule
 * rewrites the start of a key (`a.b.` or a sub-module such as `blocks.{n}.norm1` followed by `.`);
 * otherwise the whole key.
 */
export function exactTemplateRule(from: string, to: string, prefix: boolean): RenameRule {
  const pattern = from.split('{n}').map(escapeRegExp).join('(\\d+)');
  const replacement = to.replace('{n}', '$1');
  if (!prefix) return { pattern: `^${pattern}$`, replacement };
  // A prefix either ends with a dot, or names a sub-module or leaf (followed by a dot or the end).
  return from.endsWith('.') ? { pattern: `^${pattern}`, replacement } : { pattern: `^${pattern}(?=\\.|$)`, replacement };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
