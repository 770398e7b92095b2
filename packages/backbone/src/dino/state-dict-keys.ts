import type { Dinov2Config } from './dinov2-config';
import type { Dinov3Config } from './dinov3-config';

/** One tensor of an official checkpoint: its state-dict name and shape. */
export interface StateDictEntry {
  name: string;
  shape: number[];
  /** A buffer (not an `nn.Parameter`) that the reference still saves: DINOv3's `bias_mask`, `rope_embed.periods`. */
  buffer?: boolean;
}

function blockEntries(
  prefix: string,
  c: { embedDim: number; qkvBias: boolean; projBias: boolean; ffnBias: boolean; layerScale: boolean },
  hidden: number,
  maskKBias: boolean,
): StateDictEntry[] {
  const d = c.embedDim;
  const out: StateDictEntry[] = [
    { name: `${prefix}norm1.weight`, shape: [d] },
    { name: `${prefix}norm1.bias`, shape: [d] },
    { name: `${prefix}attn.qkv.weight`, shape: [3 * d, d] },
  ];
  if (c.qkvBias) out.push({ name: `${prefix}attn.qkv.bias`, shape: [3 * d] });
  if (maskKBias) out.push({ name: `${prefix}attn.qkv.bias_mask`, shape: [3 * d], buffer: true });
  out.push({ name: `${prefix}attn.proj.weight`, shape: [d, d] });
  if (c.projBias) out.push({ name: `${prefix}attn.proj.bias`, shape: [d] });
  if (c.layerScale) out.push({ name: `${prefix}ls1.gamma`, shape: [d] });
  out.push({ name: `${prefix}norm2.weight`, shape: [d] }, { name: `${prefix}norm2.bias`, shape: [d] });
  out.push({ name: `${prefix}mlp.fc1.weight`, shape: [hidden, d] });
  if (c.ffnBias) out.push({ name: `${prefix}mlp.fc1.bias`, shape: [hidden] });
  out.push({ name: `${prefix}mlp.fc2.weight`, shape: [d, hidden] });
  if (c.ffnBias) out.push({ name: `${prefix}mlp.fc2.bias`, shape: [d] });
  if (c.layerScale) out.push({ name: `${prefix}ls2.gamma`, shape: [d] });
  return out;
}

/**
 * Every tensor of an official DINOv2 checkpoint (`dinov2_vitl14_reg4_pretrain.pth` layout, `block_chunks=0`)
 * for a config, in the reference's `state_dict()` order. The Hugging Face conversion is tested against this.
 */
export function dinov2StateDictKeys(c: Dinov2Config): StateDictEntry[] {
  const d = c.embedDim;
  const grid = c.imgSize / c.patchSize;
  const out: StateDictEntry[] = [
    { name: 'cls_token', shape: [1, 1, d] },
    { name: 'pos_embed', shape: [1, 1 + grid * grid, d] },
  ];
  if (c.numRegisterTokens > 0) out.push({ name: 'register_tokens', shape: [1, c.numRegisterTokens, d] });
  out.push(
    { name: 'mask_token', shape: [1, d] },
    { name: 'patch_embed.proj.weight', shape: [d, c.inChans, c.patchSize, c.patchSize] },
    { name: 'patch_embed.proj.bias', shape: [d] },
  );
  const hidden = Math.round(d * c.mlpRatio);
  for (let i = 0; i < c.depth; i++) out.push(...blockEntries(`blocks.${i}.`, c, hidden, false));
  out.push({ name: 'norm.weight', shape: [d] }, { name: 'norm.bias', shape: [d] });
  return out;
}

/**
 * Every tensor of an official DINOv3 checkpoint (`dinov3_vitl16_pretrain_lvd1689m-*.pth` layout) for a
 * config, in the reference's `state_dict()` order, buffers included (`rope_embed.periods`,
 * `blocks.{i}.attn.qkv.bias_mask`). The Hugging Face conversion is tested against this.
 */
export function dinov3StateDictKeys(c: Dinov3Config): StateDictEntry[] {
  const d = c.embedDim;
  const headDim = d / c.numHeads;
  const out: StateDictEntry[] = [{ name: 'cls_token', shape: [1, 1, d] }];
  if (c.numStorageTokens > 0) out.push({ name: 'storage_tokens', shape: [1, c.numStorageTokens, d] });
  out.push(
    { name: 'mask_token', shape: [1, d] },
    { name: 'patch_embed.proj.weight', shape: [d, c.inChans, c.patchSize, c.patchSize] },
    { name: 'patch_embed.proj.bias', shape: [d] },
    { name: 'rope_embed.periods', shape: [headDim / 4], buffer: true },
  );
  const hidden = Math.round(d * c.ffnRatio);
  for (let i = 0; i < c.depth; i++) out.push(...blockEntries(`blocks.${i}.`, c, hidden, c.maskKBias && c.qkvBias));
  out.push({ name: 'norm.weight', shape: [d] }, { name: 'norm.bias', shape: [d] });
  if (c.untieClsAndPatchNorms) out.push({ name: 'cls_norm.weight', shape: [d] }, { name: 'cls_norm.bias', shape: [d] });
  if (c.untieGlobalAndLocalClsNorm) out.push({ name: 'local_cls_norm.weight', shape: [d] }, { name: 'local_cls_norm.bias', shape: [d] });
  return out;
}
