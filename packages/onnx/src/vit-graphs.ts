import type * as tf from '@tensorflow/tfjs-core';
import * as tfc from '@tensorflow/tfjs-core';
import type { ClipConfig, Dinov2Config, Dinov3Config } from '@hgm/backbone';
import { GraphBuilder, transposeMatrix } from './graph-builder';

/**
 * Reads weights by state-dict name as float32 values with their shape. The graphs ask for shapes while they
 * are built and for values only when the model is written, one weight at a time.
 */
export interface WeightReader {
  has(name: string): boolean;
  shape(name: string): number[];
  read(name: string): { data: Float32Array; shape: number[] };
}

/** A weight reader over tfjs tensors (e.g. a ParameterStore's `has` / `get`); values are read with `dataSync`. */
export function tfjsWeightReader(store: { has(name: string): boolean; get(name: string): tf.Tensor }): WeightReader {
  return {
    has: (name) => store.has(name),
    shape: (name) => [...store.get(name).shape],
    read: (name) => {
      const t = store.get(name);
      return { data: t.dataSync() as Float32Array, shape: [...t.shape] };
    },
  };
}

/**
 * A weight reader over a store of tfjs variables on any backend: {@link tfjsWeightReader} where the backend
 * reads synchronously (cpu, wasm), otherwise (webgpu, webgl) a host copy of the variables whose names pass
 * `keep`, read with `data()` first.
 */
export async function weightReaderFor(
  store: { has(name: string): boolean; get(name: string): tf.Tensor; entries(): { name: string; variable: tf.Tensor }[] },
  keep: (name: string) => boolean = () => true,
): Promise<WeightReader> {
  const backend = tfc.getBackend();
  if (backend !== 'webgpu' && backend !== 'webgl') return tfjsWeightReader(store);
  const host = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const p of store.entries()) {
    if (!keep(p.name) || p.variable.isDisposed) continue;
    host.set(p.name, { data: (await p.variable.data()) as Float32Array, shape: [...p.variable.shape] });
  }
  return {
    has: (name) => host.has(name),
    shape: (name) => [...need(host, name).shape],
    read: (name) => need(host, name),
  };
}

function need<T>(m: Map<string, T>, name: string): T {
  const v = m.get(name);
  if (v === undefined) throw new Error(`weights: no ${name}`);
  return v;
}

/**
 * The graph input that carries the positional information of the current patch grid (computed on the host
 * per grid and cached), or that table baked in as an initializer for a fixed image size (export).
 */
export type PositionalSource = { kind: 'input' } | { kind: 'baked'; tables: Record<string, { data: Float32Array; shape: number[] }> };

/** The names of the graph inputs and outputs, so that callers never guess them. */
export const GRAPH_NAMES = {
  pixels: 'pixel_values',
  /** CLIP [1 + N, W]; DINOv2 [1, 1 + N, D]. */
  positional: 'positional_embedding',
  /** DINOv3 RoPE tables [T, headDim] (prefix rows cos 1, sin 0). */
  ropeSin: 'rope_sin',
  ropeCos: 'rope_cos',
} as const;

interface BlockWeights {
  ln1: [string, string | undefined];
  qkvT: string;
  qkvBias: string | undefined;
  projT: string;
  projBias: string | undefined;
  ls1?: string;
  ln2: [string, string | undefined];
  fc1T: string;
  fc1Bias: string | undefined;
  fc2T: string;
  fc2Bias: string | undefined;
  ls2?: string;
}

/** The transformer pieces the graphs share (patch embedding, blocks, attention), over a {@link GraphBuilder}. */
export class VitGraph {
  constructor(
    readonly g: GraphBuilder,
    private readonly read: WeightReader,
  ) {}

  /** A weight as stored (its values are read when the model is written). */
  w(name: string, rename = name): string {
    const shape = this.read.shape(name);
    return this.g.weight(rename, shape, () => this.read.read(name).data);
  }

  /**
   * A torch-layout linear weight [out, in], stored transposed [in, out]: transposed when the model is
   * written, one weight at a time, and the transposed copy dropped once its bytes are out.
   */
  wT(name: string): string {
    const shape = this.read.shape(name);
    if (shape.length !== 2) throw new Error(`${this.g.name}: weight ${name} has shape [${shape.join(', ')}], expected [out, in]`);
    return this.g.weight(`${name}.T`, [shape[1]!, shape[0]!], () => transposeMatrix(this.read.read(name).data, shape[0]!, shape[1]!));
  }

  /** [B, 3, H, W] -> [B, N, C] by a stride-p convolution. */
  patchEmbed(pixels: string, weight: string, bias: string | undefined, p: number): string {
    const conv = this.g.op('Conv', bias ? [pixels, weight, bias] : [pixels, weight], { kernel_shape: { ints: [p, p] }, strides: { ints: [p, p] } });
    return this.g.transpose(this.g.reshape(conv, [0, 0, -1]), [0, 2, 1]);
  }

  /** Broadcasts a [1, k, C] (or [C]) token table to [B, k, C] with B taken from `like` [B, ...]. */
  expandTokens(table: string, like: string, k: number, c: number): string {
    const batch = this.g.slice(this.g.op('Shape', [like]), 0, 0, 1);
    const shape = this.g.concat([batch, this.g.ints([k, c])], 0);
    return this.g.op('Expand', [this.g.reshape(table, [1, k, c]), shape]);
  }

  /** softmax(a bᵀ / sqrt(d) + mask) c for [B, H, T, d] operands (mask [T, T], additive). */
  private attend(a: string, b: string, c: string, scale: string, mask?: string): string {
    let scores = this.g.op('MatMul', [this.g.mul(a, scale), this.g.transpose(b, [0, 1, 3, 2])]);
    if (mask) scores = this.g.add(scores, mask);
    return this.g.op('MatMul', [this.g.op('Softmax', [scores], { axis: { int: -1 } }), c]);
  }

  /** [B, H, T, d] -> [B, T, H*d] */
  private mergeHeads(x: string): string {
    return this.g.reshape(this.g.transpose(x, [0, 2, 1, 3]), [0, 0, -1]);
  }

  /** `x cos + rotateHalf(x) sin` with [T, d] tables broadcast over [B, H, T, d]. */
  private rope(x: string, sin: string, cos: string): string {
    const [x1, x2] = this.g.opMulti('Split', [x], 2, { axis: { int: -1 } });
    const rotated = this.g.concat([this.g.op('Neg', [x2!]), x1!], -1);
    return this.g.add(this.g.mul(x, cos), this.g.mul(rotated, sin));
  }

  /** q, k, v of `y` [B, T, C], each [B, H, T, d]. */
  private qkv(y: string, w: BlockWeights, heads: number): [string, string, string] {
    const qkv = this.g.linear(y, w.qkvT, w.qkvBias);
    const stacked = this.g.transpose(this.g.reshape(qkv, [0, 0, 3, heads, -1]), [2, 0, 3, 1, 4]);
    const parts = this.g.opMulti('Split', [stacked], 3, { axis: { int: 0 } });
    const axis0 = this.g.ints([0]);
    return parts.map((p) => this.g.op('Squeeze', [p, axis0])) as [string, string, string];
  }

  /**
   * One pre-norm block. With `vv` (AnomalyCLIP's dual path) it also returns the V-V path
   * `xVV + proj(softmax(v vᵀ s) v)` (no MLP).
   */
  block(
    x: string,
    w: BlockWeights,
    o: {
      heads: number;
      headDim: number;
      eps: number;
      act: (h: string) => string;
      rope?: { sin: string; cos: string };
      vvInput?: string;
      /** Additive attention mask [T, T] (the text tower's causal mask). */
      mask?: string;
    },
  ): { x: string; vv?: string } {
    const scale = this.g.scalar(1 / Math.sqrt(o.headDim));
    const y = this.g.layerNorm(x, w.ln1[0], w.ln1[1], o.eps);
    const [q0, k0, v] = this.qkv(y, w, o.heads);
    let q = q0;
    let k = k0;
    if (o.rope) {
      q = this.rope(q, o.rope.sin, o.rope.cos);
      k = this.rope(k, o.rope.sin, o.rope.cos);
    }
    let attn = this.g.linear(this.mergeHeads(this.attend(q, k, v, scale, o.mask)), w.projT, w.projBias);
    if (w.ls1) attn = this.g.mul(attn, w.ls1);
    const h = this.g.add(x, attn);
    const y2 = this.g.layerNorm(h, w.ln2[0], w.ln2[1], o.eps);
    let mlp = this.g.linear(o.act(this.g.linear(y2, w.fc1T, w.fc1Bias)), w.fc2T, w.fc2Bias);
    if (w.ls2) mlp = this.g.mul(mlp, w.ls2);
    const out = this.g.add(h, mlp);
    if (o.vvInput === undefined) return { x: out };
    const vvAttn = this.g.linear(this.mergeHeads(this.attend(v, v, v, scale)), w.projT, w.projBias);
    return { x: out, vv: this.g.add(o.vvInput, vvAttn) };
  }

  /** The weights of an OpenAI CLIP residual block (`{pre}ln_1.weight`, `{pre}attn.in_proj_weight`, ...). */
  clipBlock(pre: string): BlockWeights {
    return {
      ln1: [this.w(`${pre}ln_1.weight`), this.w(`${pre}ln_1.bias`)],
      qkvT: this.wT(`${pre}attn.in_proj_weight`),
      qkvBias: this.w(`${pre}attn.in_proj_bias`),
      projT: this.wT(`${pre}attn.out_proj.weight`),
      projBias: this.w(`${pre}attn.out_proj.bias`),
      ln2: [this.w(`${pre}ln_2.weight`), this.w(`${pre}ln_2.bias`)],
      fc1T: this.wT(`${pre}mlp.c_fc.weight`),
      fc1Bias: this.w(`${pre}mlp.c_fc.bias`),
      fc2T: this.wT(`${pre}mlp.c_proj.weight`),
      fc2Bias: this.w(`${pre}mlp.c_proj.bias`),
    };
  }

  quickGelu = (h: string): string => this.g.mul(h, this.g.op('Sigmoid', [this.g.mul(h, this.g.scalar(1.702))]));

  gelu = (h: string): string => {
    const erf = this.g.op('Erf', [this.g.mul(h, this.g.scalar(Math.SQRT1_2))]);
    return this.g.mul(this.g.mul(h, this.g.scalar(0.5)), this.g.add(erf, this.g.scalar(1)));
  };

  positional(source: PositionalSource, name: string, dims: (string | number)[]): string {
    if (source.kind === 'input') return this.g.input(name, dims);
    const t = source.tables[name];
    if (!t) throw new Error(`${this.g.name}: baked positional source has no table ${name}`);
    return this.g.weight(name, t.shape, t.data);
  }
}

/** Options shared by the vision graphs. */
export interface VisionGraphOptions {
  /** 0-based blocks whose outputs become graph outputs. */
  layers: readonly number[];
  positional?: PositionalSource;
  /** Also output the raw block outputs (`hidden.{l}`, `hidden_vv.{l}`) and CLIP's `ln_pre`, for parity. */
  debugOutputs?: boolean;
}

function checkLayers(who: string, layers: readonly number[], depth: number): number[] {
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= depth) throw new Error(`${who}: layer ${l} is out of range [0, ${depth - 1}]`);
  return [...new Set(layers)].sort((a, b) => a - b);
}

/**
 * The OpenAI CLIP vision tower (with AnomalyCLIP's V-V attention in the last `vvAttentionBlocks` blocks) as
 * an ONNX graph. Inputs: `pixel_values` [B, 3, H, W] and (unless baked) `positional_embedding` [1 + N, W]
 * for the grid of H, W. Outputs: `image_embeds` [B, E] (`ln_post(CLS) @ proj`), `global_feature` [B, E]
 * (`CLS @ proj`), and per tapped block l `patch_features.{l}` [B, 1 + N, E] (`ln_post(tokens) @ proj`, V-V
 * tokens in V-V blocks).
 */
export function clipVisionGraph(config: ClipConfig, read: WeightReader, options: VisionGraphOptions & { vvAttentionBlocks?: number }): GraphBuilder {
  const v = config.vision;
  const who = `CLIP vision graph ${config.name}`;
  const layers = checkLayers(who, options.layers, v.layers);
  const vvBlocks = options.vvAttentionBlocks ?? 0;
  if (!Number.isInteger(vvBlocks) || vvBlocks < 0 || vvBlocks > v.layers)
    throw new Error(`${who}: vvAttentionBlocks must be an integer in [0, ${v.layers}], found ${vvBlocks}`);
  const g = new GraphBuilder(who);
  const b = new VitGraph(g, read);
  const eps = config.layerNormEps;
  const pixels = g.input(GRAPH_NAMES.pixels, ['batch', 3, 'height', 'width']);
  const pos = b.positional(options.positional ?? { kind: 'input' }, GRAPH_NAMES.positional, ['tokens', v.width]);
  const patches = b.patchEmbed(pixels, b.w('visual.conv1.weight'), undefined, v.patchSize);
  const cls = b.expandTokens(b.w('visual.class_embedding'), patches, 1, v.width);
  let x = g.layerNorm(g.add(g.concat([cls, patches], 1), pos), b.w('visual.ln_pre.weight'), b.w('visual.ln_pre.bias'), eps);
  if (options.debugOutputs) g.output('ln_pre', x, ['batch', 'tokens', v.width]);
  const lnPost: [string, string] = [b.w('visual.ln_post.weight'), b.w('visual.ln_post.bias')];
  const proj = b.w('visual.proj');
  const post = (t: string) => g.op('MatMul', [g.layerNorm(t, lnPost[0], lnPost[1], eps), proj]);
  const firstVV = v.layers - vvBlocks;
  let xVV: string | undefined;
  const headDim = v.width / v.heads;
  for (let i = 0; i < v.layers; i++) {
    const w = b.clipBlock(`visual.transformer.resblocks.${i}.`);
    const out = b.block(x, w, { heads: v.heads, headDim, eps, act: b.quickGelu, ...(i >= firstVV ? { vvInput: xVV ?? x } : {}) });
    x = out.x;
    xVV = out.vv;
    if (layers.includes(i)) {
      g.output(`patch_features.${i}`, post(xVV ?? x), ['batch', 'tokens', config.embedDim]);
      if (options.debugOutputs) {
        g.output(`hidden.${i}`, x, ['batch', 'tokens', v.width]);
        if (xVV) g.output(`hidden_vv.${i}`, xVV, ['batch', 'tokens', v.width]);
      }
    }
  }
  const xCls = g.reshape(g.slice(x, 1, 0, 1), [0, -1]);
  g.output('image_embeds', g.op('MatMul', [g.layerNorm(xCls, lnPost[0], lnPost[1], eps), proj]), ['batch', config.embedDim]);
  g.output('global_feature', g.op('MatMul', [xCls, proj]), ['batch', config.embedDim]);
  return g;
}

/** A DINO config as the graph needs it (DINOv2 or DINOv3). */
export type DinoGraphConfig = { family: 'dinov2'; config: Dinov2Config } | { family: 'dinov3'; config: Dinov3Config };

/**
 * A DINOv2 (registers, interpolated positional embedding as input `positional_embedding` [1, 1 + N, D]) or
 * DINOv3 (storage tokens, RoPE tables as inputs `rope_sin`, `rope_cos` [T, headDim]) ViT as an ONNX graph.
 * Outputs: `prenorm` [B, T, D] (last block), `norm` [B, T, D] (its final norm), and per tapped block l
 * `block.{l}` [B, T, D] and `block_norm.{l}` [B, T, D]. Tokens are `[cls, registers, patches]`.
 */
export function dinoGraph(model: DinoGraphConfig, read: WeightReader, options: VisionGraphOptions): GraphBuilder {
  const c = model.config;
  const who = `${model.family} graph`;
  const layers = checkLayers(who, options.layers, c.depth);
  const g = new GraphBuilder(who);
  const b = new VitGraph(g, read);
  const d = c.embedDim;
  const source = options.positional ?? { kind: 'input' };
  const pixels = g.input(GRAPH_NAMES.pixels, ['batch', 3, 'height', 'width']);
  const patches = b.patchEmbed(pixels, b.w('patch_embed.proj.weight'), b.w('patch_embed.proj.bias'), c.patchSize);
  const cls = b.expandTokens(b.w('cls_token'), patches, 1, d);
  let x: string;
  let rope: { sin: string; cos: string } | undefined;
  let prefix: number;
  const eps = c.layerNormEps;
  const has = (name: string) => read.has(name);
  if (model.family === 'dinov2') {
    const cfg = model.config as Dinov2Config;
    const pos = b.positional(source, GRAPH_NAMES.positional, [1, 'tokens', d]);
    const withPos = g.add(g.concat([cls, patches], 1), pos);
    const r = cfg.numRegisterTokens;
    x = r === 0 ? withPos : g.concat([g.slice(withPos, 1, 0, 1), b.expandTokens(b.w('register_tokens'), patches, r, d), g.slice(withPos, 1, 1, 2 ** 62)], 1);
    prefix = 1 + r;
  } else {
    const cfg = model.config as Dinov3Config;
    const parts = [cls];
    if (cfg.numStorageTokens > 0) parts.push(b.expandTokens(b.w('storage_tokens'), patches, cfg.numStorageTokens, d));
    parts.push(patches);
    x = g.concat(parts, 1);
    rope = {
      sin: b.positional(source, GRAPH_NAMES.ropeSin, ['tokens', d / c.numHeads]),
      cos: b.positional(source, GRAPH_NAMES.ropeCos, ['tokens', d / c.numHeads]),
    };
    prefix = 1 + cfg.numStorageTokens;
  }
  const aff = (n: string): [string, string | undefined] => [b.w(`${n}.weight`), has(`${n}.bias`) ? b.w(`${n}.bias`) : undefined];
  const normPatch = aff('norm');
  const normCls = model.family === 'dinov3' && (model.config as Dinov3Config).untieClsAndPatchNorms ? aff('cls_norm') : normPatch;
  const finalNorm = (t: string): string => {
    if (normCls === normPatch) return g.layerNorm(t, normPatch[0], normPatch[1], eps);
    return g.concat(
      [g.layerNorm(g.slice(t, 1, 0, prefix), normCls[0], normCls[1], eps), g.layerNorm(g.slice(t, 1, prefix, 2 ** 62), normPatch[0], normPatch[1], eps)],
      1,
    );
  };
  for (let i = 0; i < c.depth; i++) {
    const pre = `blocks.${i}.`;
    let qkvBias: string | undefined;
    if (has(`${pre}attn.qkv.bias`)) {
      if (has(`${pre}attn.qkv.bias_mask`)) {
        const name = `${pre}attn.qkv.bias`;
        qkvBias = g.weight(`${pre}attn.qkv.bias_masked`, read.shape(name), () => {
          const mask = read.read(`${pre}attn.qkv.bias_mask`).data;
          return read.read(name).data.map((v, j) => v * mask[j]!);
        });
      } else qkvBias = b.w(`${pre}attn.qkv.bias`);
    }
    const w: BlockWeights = {
      ln1: aff(`${pre}norm1`),
      qkvT: b.wT(`${pre}attn.qkv.weight`),
      qkvBias,
      projT: b.wT(`${pre}attn.proj.weight`),
      projBias: has(`${pre}attn.proj.bias`) ? b.w(`${pre}attn.proj.bias`) : undefined,
      ln2: aff(`${pre}norm2`),
      fc1T: b.wT(`${pre}mlp.fc1.weight`),
      fc1Bias: has(`${pre}mlp.fc1.bias`) ? b.w(`${pre}mlp.fc1.bias`) : undefined,
      fc2T: b.wT(`${pre}mlp.fc2.weight`),
      fc2Bias: has(`${pre}mlp.fc2.bias`) ? b.w(`${pre}mlp.fc2.bias`) : undefined,
    };
    if (has(`${pre}ls1.gamma`)) w.ls1 = b.w(`${pre}ls1.gamma`);
    if (has(`${pre}ls2.gamma`)) w.ls2 = b.w(`${pre}ls2.gamma`);
    x = b.block(x, w, { heads: c.numHeads, headDim: d / c.numHeads, eps, act: b.gelu, ...(rope ? { rope } : {}) }).x;
    if (layers.includes(i)) {
      g.output(`block.${i}`, x, ['batch', 'tokens', d]);
      g.output(`block_norm.${i}`, finalNorm(x), ['batch', 'tokens', d]);
    }
  }
  g.output('prenorm', x, ['batch', 'tokens', d]);
  g.output('norm', finalNorm(x), ['batch', 'tokens', d]);
  return g;
}
