import type { ClipConfig } from '@hgm/backbone';
import { GraphBuilder } from './graph-builder';
import { VitGraph, type WeightReader } from './vit-graphs';

/** The names of the text graph's inputs and output. */
export const TEXT_GRAPH_NAMES = {
  /** Token embeddings of the positions the tower runs on [B, T, W], before the positional embedding. */
  tokenEmbeddings: 'token_embeddings',
  /** Additive causal mask [T, T] (0 on and below the diagonal, -inf above). */
  causalMask: 'causal_mask',
  /** One-hot EOT rows [B, T]: the position each row is pooled at. */
  eotSelect: 'eot_select',
  /** Compound prompt k [n_k, W] (`compound.0`, ...): replaces positions 1..n_k before block k + 1. */
  compound: (k: number) => `compound.${k}`,
  /** `ln_final(x)[b, eot_b] @ text_projection` [B, E], unnormalised. */
  textEmbeds: 'text_embeds',
} as const;

/** Options of {@link clipTextGraph}. */
export interface TextGraphOptions {
  /**
   * Token counts of the compound (deep) prompts the graph takes, in block order: entry k replaces positions
   * 1..n_k before block k + 1, as `ClipTextTransformer.forward`'s `compoundPrompts`. Default none.
   */
  compoundLengths?: readonly number[];
}

/**
 * The OpenAI CLIP text tower as an ONNX graph, for inference on prompts given as token embeddings (learnable
 * prompts): positional embedding (its first T rows, T the input's length), causal residual blocks with
 * AnomalyCLIP's compound prompts, `ln_final`, pooling at EOT by a one-hot product, `text_projection`. The
 * input may be cut to the positions the output reads (every EOT below T): under the causal mask the result is
 * the same as for the whole context. Inputs and output: {@link TEXT_GRAPH_NAMES}.
 */
export function clipTextGraph(config: ClipConfig, read: WeightReader, options: TextGraphOptions = {}): GraphBuilder {
  const t = config.text;
  const who = `CLIP text graph ${config.name}`;
  const lengths = [...(options.compoundLengths ?? [])];
  if (lengths.length > t.layers - 1) throw new Error(`${who}: ${lengths.length} compound prompts, the tower has room for ${t.layers - 1}`);
  for (const n of lengths)
    if (!Number.isInteger(n) || n < 1 || n + 1 > t.contextLength)
      throw new Error(`${who}: a compound prompt has ${n} tokens, expected 1 <= n < ${t.contextLength}`);
  const g = new GraphBuilder(who);
  const b = new VitGraph(g, read);
  const eps = config.layerNormEps;
  const names = TEXT_GRAPH_NAMES;
  const emb = g.input(names.tokenEmbeddings, ['batch', 'tokens', t.width]);
  const mask = g.input(names.causalMask, ['tokens', 'tokens']);
  const select = g.input(names.eotSelect, ['batch', 'tokens']);
  const compound = lengths.map((n, k) => g.input(names.compound(k), [n, t.width]));
  // the first T rows of the positional table, T = the input's length
  const length = g.slice(g.op('Shape', [emb]), 0, 1, 2);
  const pos = g.op('Slice', [b.w('positional_embedding'), g.ints([0]), length, g.ints([0])]);
  let x = g.add(emb, pos);
  const headDim = t.width / t.heads;
  for (let i = 0; i < t.layers; i++) {
    const k = i - 1;
    if (k >= 0 && k < compound.length) {
      const n = lengths[k]!;
      x = g.concat([g.slice(x, 1, 0, 1), b.expandTokens(compound[k]!, x, n, t.width), g.slice(x, 1, 1 + n, 2 ** 62)], 1);
    }
    x = b.block(x, b.clipBlock(`transformer.resblocks.${i}.`), { heads: t.heads, headDim, eps, act: b.quickGelu, mask }).x;
  }
  const normed = g.layerNorm(x, b.w('ln_final.weight'), b.w('ln_final.bias'), eps);
  // [B, 1, T] x [B, T, W] -> [B, W]
  const pooled = g.reshape(g.op('MatMul', [g.op('Unsqueeze', [select, g.ints([1])]), normed]), [0, -1]);
  g.output(names.textEmbeds, g.op('MatMul', [pooled, b.w('text_projection')]), ['batch', config.embedDim]);
  return g;
}
