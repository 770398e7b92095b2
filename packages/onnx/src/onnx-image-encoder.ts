import * as tf from '@tensorflow/tfjs-core';
import {
  interpolatePositionalEmbedding,
  interpolatePosEmbed,
  ropeTables,
  type ClipModel,
  type DinoVisionTransformer,
  type Dinov2Config,
  type Dinov3Config,
  type EncodeImageOptions,
  type AsyncImageEncoder,
  type ImageEncoderInfo,
  type ImageEncoding,
} from '@hgm/backbone';
import type { GraphBuilder } from './graph-builder';
import { loadOnnxRuntime, type HostTensor, type OnnxRuntime, type OrtSession, type SessionOptions } from './ort-node';
import { clipVisionGraph, dinoGraph, GRAPH_NAMES, weightReaderFor } from './vit-graphs';
import { DISK_STAGING_BYTES, sessionFromDisk } from './staging';

export { DISK_STAGING_BYTES } from './staging';

/** Options of the ONNX encoders. */
export interface OnnxEncoderOptions extends SessionOptions {
  /** The blocks the graph taps (encodeImage may ask for any subset of them). Default: the last block. */
  layers?: readonly number[];
  /** Also output raw block outputs (parity). */
  debugOutputs?: boolean;
  /**
   * Dispose the tfjs vision weights (a CLIP model keeps its text tower; the tfjs encoder cannot run
   * afterwards). `true`: once the session exists, so a session that cannot be made leaves the model as it
   * was. `'before-session'`: as soon as the weights are written for the runtime, before it reads them, so the
   * two copies never coexist (a failed session then leaves the encoder without weights). Default false.
   */
  release?: boolean | 'before-session';
  /**
   * Called right after `release: 'before-session'` disposes the tfjs weights, before the runtime reads the
   * model: a garbage collection there lets the runtime reuse the freed memory (the tfjs CPU backend's arrays
   * are freed only by the collector). Default: `globalThis.gc` where Node runs with `--expose-gc`.
   */
  collect?: () => void;
  /**
   * How the weights reach the session. `memory`: in a serialized model, which the runtime parses into its
   * own copy while the tfjs weights are still held. `disk`: written one at a time to a temporary model file
   * with an external data file (in `stagingDir`, default the system's temporary folder; deleted once the
   * session exists), which the runtime maps into memory instead of copying: the peak stays near one copy of
   * the weights beside the tfjs one. Default: `disk` from {@link DISK_STAGING_BYTES} of weights on.
   */
  weightStaging?: 'memory' | 'disk';
  /** Folder of the temporary files of `weightStaging: 'disk'` (best on a disk, not a RAM-backed tmpfs). */
  stagingDir?: string;
}

/** Host positional tables for one patch grid, fed as graph inputs. */
export type PositionalFeeds = (grid: [number, number]) => Promise<Record<string, HostTensor>>;

/** The raw outputs of one run, as tfjs tensors the caller owns. */
export type OnnxOutputs = Map<string, tf.Tensor>;

function requireRuntime(): OnnxRuntime {
  const load = loadOnnxRuntime();
  if (!load.ok) throw new Error(`ONNX executor: ${load.reason}`);
  return load.runtime;
}

/**
 * A frozen vision encoder run by ONNX Runtime (Node), behind the backbone's asynchronous
 * {@link AsyncImageEncoder} interface: the session computes in a thread of its own, so awaiting `encode` leaves
 * the event loop free. The graph is built once from the loaded weights with the tapped blocks as outputs; the
 * positional tables of each patch grid are computed once and fed as inputs, so one session serves every image
 * size. Inputs are read from tfjs with `data()` and outputs made with `tf.tensor`, so any tfjs backend (cpu,
 * wasm, webgpu) takes them.
 */
export class OnnxImageEncoder implements AsyncImageEncoder {
  private readonly gridCache = new Map<string, Promise<Record<string, HostTensor>>>();
  private session: OrtSession | null;

  private constructor(
    readonly info: ImageEncoderInfo,
    readonly layers: readonly number[],
    /** The runtime's package version and providers. */
    readonly runtime: OnnxRuntime,
    session: OrtSession,
    private readonly positional: PositionalFeeds,
    private readonly decode: (out: OnnxOutputs, layers: readonly number[]) => { cls: tf.Tensor2D; patchTokens: tf.Tensor3D[] },
    private readonly outputNames: (layers: readonly number[]) => string[],
    private readonly onDispose: () => void,
    /** Bytes of the weights the session was given. */
    readonly weightBytes: number,
  ) {
    this.session = session;
  }

  private static async create(
    info: ImageEncoderInfo,
    layers: readonly number[],
    graph: GraphBuilder,
    options: OnnxEncoderOptions,
    positional: PositionalFeeds,
    decode: (out: OnnxOutputs, layers: readonly number[]) => { cls: tf.Tensor2D; patchTokens: tf.Tensor3D[] },
    outputNames: (layers: readonly number[]) => string[],
    onDispose: () => void,
    release: () => void,
  ): Promise<OnnxImageEncoder> {
    const runtime = requireRuntime();
    const weightBytes = graph.weightBytes();
    const staging = options.weightStaging ?? (weightBytes >= DISK_STAGING_BYTES ? 'disk' : 'memory');
    const collect = options.collect ?? (globalThis as { gc?: () => void }).gc;
    const early =
      options.release === 'before-session'
        ? () => {
            release();
            collect?.();
          }
        : () => {};
    let session: OrtSession;
    if (staging === 'disk') session = await sessionFromDisk(runtime, graph, options, early);
    else {
      // The graph's weights are lazy: each is read from tfjs (and transposed) while the model is written, so
      // the serialized model is the only other copy, and it moves to the runtime's thread.
      const model = graph.toModel();
      early();
      session = await runtime.createSession(model, options);
    }
    if (options.release === true) release();
    return new OnnxImageEncoder(info, layers, runtime, session, positional, decode, outputNames, onDispose, weightBytes);
  }

  /**
   * The vision tower of a CLIP model (with its V-V blocks) as an ONNX encoder. `encodeImage` returns what
   * `ClipVisionTransformer.encodeImage` returns: `ln_post(CLS) @ proj` and the projected patch tokens.
   * The CLIP model keeps its weights (the text tower shares the store); dispose it separately.
   */
  static async fromClip(model: ClipModel, options: OnnxEncoderOptions & { vvAttentionBlocks?: number } = {}): Promise<OnnxImageEncoder> {
    const vision = model.vision;
    const config = model.config;
    const layers = [...(options.layers ?? [config.vision.layers - 1])];
    const graph = clipVisionGraph(config, await weightReaderFor(model.params, (name) => name.startsWith('visual.')), {
      layers,
      vvAttentionBlocks: options.vvAttentionBlocks ?? vision.vvAttentionBlocks,
      ...(options.debugOutputs ? { debugOutputs: true } : {}),
    });
    const { feeds: positional, dispose: disposeTable } = clipPositionalFeeds(model);
    return OnnxImageEncoder.create(
      vision.info,
      layers,
      graph,
      options,
      positional,
      (out, ls) => ({
        cls: out.get('image_embeds') as tf.Tensor2D,
        patchTokens: ls.map((l) => tf.slice(out.get(`patch_features.${l}`)!, [0, 1, 0], [-1, -1, -1]) as tf.Tensor3D),
      }),
      (ls) => ['image_embeds', ...ls.map((l) => `patch_features.${l}`)],
      disposeTable,
      () => releaseClipVision(model),
    );
  }

  /**
   * A DINOv2 / DINOv3 model as an ONNX encoder; `encodeImage` returns what the model's own `encodeImage`
   * returns (normed CLS; normed, or raw with `normalizeTaps: false`, patch tokens of the tapped blocks).
   * With `release` the tfjs weights are disposed (the model cannot run on tfjs afterwards).
   */
  static async fromDino(
    model: DinoVisionTransformer & { config: Dinov2Config | Dinov3Config },
    options: OnnxEncoderOptions & { normalizeTaps?: boolean } = {},
  ): Promise<OnnxImageEncoder> {
    const family = model.info.family as 'dinov2' | 'dinov3';
    const config = model.config;
    const layers = [...(options.layers ?? [config.depth - 1])];
    const spec = family === 'dinov2' ? ({ family, config: config as Dinov2Config } as const) : ({ family, config: config as Dinov3Config } as const);
    const graph = dinoGraph(spec, await weightReaderFor(model.params), { layers });
    const prefix = 1 + model.numRegisterTokens;
    const normalizeTaps = options.normalizeTaps ?? true;
    const { feeds: positional, dispose: disposeSmall } = dinoPositionalFeeds(model);
    const info = model.info;
    const tap = (l: number) => (normalizeTaps ? `block_norm.${l}` : `block.${l}`);
    return OnnxImageEncoder.create(
      info,
      layers,
      graph,
      options,
      positional,
      (out, ls) => {
        const norm = out.get('norm')!;
        const cls = tf.reshape(tf.slice(norm, [0, 0, 0], [-1, 1, -1]), [norm.shape[0]!, norm.shape[2]!]) as tf.Tensor2D;
        const patchTokens = ls.map((l) => tf.slice(out.get(tap(l))!, [0, prefix, 0], [-1, -1, -1]) as tf.Tensor3D);
        return { cls, patchTokens };
      },
      (ls) => ['norm', ...ls.map(tap)],
      disposeSmall,
      () => model.dispose(),
    );
  }

  private feedsFor(grid: [number, number]): Promise<Record<string, HostTensor>> {
    const key = `${grid[0]}x${grid[1]}`;
    let feeds = this.gridCache.get(key);
    if (!feeds) {
      feeds = this.positional(grid);
      this.gridCache.set(key, feeds);
      feeds.catch(() => this.gridCache.delete(key));
    }
    return feeds;
  }

  /**
   * Runs the graph and returns the named outputs as tfjs tensors (the caller disposes them).
   * @param pixels [B, 3, H, W] (read before the promise settles; the caller may dispose it afterwards)
   */
  async run(pixels: tf.Tensor4D, outputs: readonly string[]): Promise<OnnxOutputs> {
    const session = this.session;
    if (!session) throw new Error('OnnxImageEncoder: used after dispose');
    if (pixels.rank !== 4 || pixels.shape[1] !== 3) throw new Error(`OnnxImageEncoder: pixels must be [B, 3, H, W], found [${pixels.shape.join(', ')}]`);
    const p = this.info.patchSize;
    const [, , h, w] = pixels.shape;
    if (h % p !== 0 || w % p !== 0) throw new Error(`OnnxImageEncoder: image ${h}x${w} is not a multiple of the patch size ${p}`);
    const [positional, data] = await Promise.all([this.feedsFor([h / p, w / p]), pixels.data() as Promise<Float32Array>]);
    const result = await session.run({ ...positional, [GRAPH_NAMES.pixels]: { data, dims: pixels.shape } }, outputs);
    const out: OnnxOutputs = new Map();
    for (const name of outputs) {
      const t = result[name];
      if (!t) throw new Error(`OnnxImageEncoder: the session returned no output ${name}`);
      out.set(name, tf.tensor(t.data, [...t.dims], 'float32'));
    }
    return out;
  }

  /**
   * CLIP's two global tokens as the Dual-Anchor backbone takes them: `ln-post` = `ln_post(CLS) @ proj`,
   * `no-ln-post` = AnomalyCLIP's `CLS @ proj`; patch tokens `ln_post(tokens) @ proj` without CLS.
   * Only for graphs made by {@link fromClip}.
   */
  async encodeClipTokens(
    pixels: tf.Tensor4D,
    layers: readonly number[],
    globalToken: 'ln-post' | 'no-ln-post',
  ): Promise<{ globalToken: tf.Tensor2D; patchTokens: tf.Tensor3D[]; grid: [number, number] }> {
    if (this.info.family !== 'clip') throw new Error(`OnnxImageEncoder.encodeClipTokens: this is a ${this.info.family} graph, expected clip`);
    const missing = layers.filter((l) => !this.layers.includes(l));
    if (missing.length > 0)
      throw new Error(`OnnxImageEncoder: layers [${missing.join(', ')}] are not outputs of this graph (built with [${this.layers.join(', ')}])`);
    const global = globalToken === 'ln-post' ? 'image_embeds' : 'global_feature';
    const out = await this.run(pixels, [global, ...new Set(layers.map((l) => `patch_features.${l}`))]);
    const patchTokens = tf.tidy(() => layers.map((l) => tf.slice(out.get(`patch_features.${l}`)!, [0, 1, 0], [-1, -1, -1]) as tf.Tensor3D));
    for (const [name, t] of out) if (name !== global) t.dispose();
    const p = this.info.patchSize;
    return { globalToken: out.get(global) as tf.Tensor2D, patchTokens, grid: [pixels.shape[2] / p, pixels.shape[3] / p] };
  }

  /** {@link AsyncImageEncoder.encode}; `layers` must be among the blocks the graph was built with. */
  async encode(pixels: tf.Tensor4D, options: EncodeImageOptions = {}): Promise<ImageEncoding> {
    const layers = options.layers ?? [this.info.numLayers - 1];
    const missing = layers.filter((l) => !this.layers.includes(l));
    if (missing.length > 0)
      throw new Error(`OnnxImageEncoder: layers [${missing.join(', ')}] are not outputs of this graph (built with [${this.layers.join(', ')}])`);
    const names = this.outputNames([...new Set(layers)]);
    const out = await this.run(pixels, names);
    try {
      const { cls, patchTokens } = tf.tidy(() => {
        const d = this.decode(out, layers);
        return { cls: tf.clone(d.cls), patchTokens: d.patchTokens };
      });
      const p = this.info.patchSize;
      return { cls, patchTokens, grid: [pixels.shape[2] / p, pixels.shape[3] / p] };
    } finally {
      for (const t of out.values()) t.dispose();
    }
  }

  /** Frees the session (its thread stops once a run in flight ends) and the positional tables' tfjs copies. */
  dispose(): Promise<void> {
    const session = this.session;
    this.session = null;
    this.gridCache.clear();
    if (session) this.onDispose();
    return session ? session.dispose() : Promise.resolve();
  }
}

/**
 * Disposes the tfjs weights of a CLIP model's vision tower (`visual.*`), keeping the text tower. The vision
 * tower cannot run on tfjs afterwards; disposing the model later is still safe.
 */
export function releaseClipVision(model: ClipModel): number {
  let bytes = 0;
  for (const p of model.params.entries()) {
    if (!p.name.startsWith('visual.') || p.variable.isDisposed) continue;
    bytes += p.variable.size * 4;
    p.variable.dispose();
  }
  return bytes;
}

/**
 * The positional inputs of a CLIP vision graph per patch grid: the positional table resized as AnomalyCLIP
 * does. Keeps a copy of the (small) table; `dispose` frees it.
 */
export function clipPositionalFeeds(model: ClipModel): { feeds: PositionalFeeds; dispose: () => void } {
  const table = tf.clone(model.params.get('visual.positional_embedding')) as tf.Tensor2D;
  const feeds: PositionalFeeds = async (grid) => {
    const t = interpolatePositionalEmbedding(table, grid);
    const data = (await t.data()) as Float32Array;
    const dims = [...t.shape];
    t.dispose();
    return { [GRAPH_NAMES.positional]: { data, dims } };
  };
  return { feeds, dispose: () => table.dispose() };
}

/**
 * The positional inputs of a DINO graph per patch grid: DINOv2's interpolated positional embedding, or
 * DINOv3's RoPE tables over all tokens (prefix rows cos 1, sin 0). Keeps a copy of the (small) table or
 * periods; `dispose` frees it.
 */
export function dinoPositionalFeeds(model: DinoVisionTransformer & { config: Dinov2Config | Dinov3Config }): { feeds: PositionalFeeds; dispose: () => void } {
  const config = model.config;
  const prefix = 1 + model.numRegisterTokens;
  let positional: PositionalFeeds;
  let small: tf.Tensor;
  if (model.info.family === 'dinov2') {
    const c = config as Dinov2Config;
    small = tf.clone(model.params.get('pos_embed'));
    positional = async ([gh, gw]) => {
      const t = interpolatePosEmbed(small, gh * c.patchSize, gw * c.patchSize, c.patchSize, { antialias: c.interpolateAntialias, offset: c.interpolateOffset });
      const data = (await t.data()) as Float32Array;
      const dims = [...t.shape];
      t.dispose();
      return { [GRAPH_NAMES.positional]: { data, dims } };
    };
  } else {
    const c = config as Dinov3Config;
    small = tf.clone(model.params.get('rope_embed.periods'));
    const headDim = c.embedDim / c.numHeads;
    positional = async ([gh, gw]) => {
      const r = ropeTables(small, gh, gw, c.ropeNormalizeCoords);
      const n = gh * gw;
      const [sinData, cosData] = (await Promise.all([r.sin.data(), r.cos.data()])) as [Float32Array, Float32Array];
      tf.dispose([r.sin, r.cos]);
      // Prefix tokens are not rotated: cos 1, sin 0.
      const sin = new Float32Array((prefix + n) * headDim);
      const cos = new Float32Array((prefix + n) * headDim).fill(1, 0, prefix * headDim);
      sin.set(sinData, prefix * headDim);
      cos.set(cosData, prefix * headDim);
      const dims = [prefix + n, headDim];
      return { [GRAPH_NAMES.ropeSin]: { data: sin, dims }, [GRAPH_NAMES.ropeCos]: { data: cos, dims } };
    };
  }
  return { feeds: positional, dispose: () => small.dispose() };
}
