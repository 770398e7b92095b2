import * as tf from '@tensorflow/tfjs-core';
import type { ClipModel } from '@hgm/backbone';
import { loadOnnxRuntime, type OrtSession, type SessionOptions } from './ort-node';
import { DISK_STAGING_BYTES, sessionFromDisk } from './staging';
import { clipTextGraph, TEXT_GRAPH_NAMES } from './text-graph';
import { weightReaderFor } from './vit-graphs';

/** Options of {@link OnnxTextTower}. */
export interface OnnxTextTowerOptions extends SessionOptions {
  /**
   * How the weights reach the session: `memory` (a serialized model) or `disk` (a temporary model file with
   * external data, which the runtime maps). Default: `disk` from {@link DISK_STAGING_BYTES} of weights on.
   */
  weightStaging?: 'memory' | 'disk';
  /** Folder of the temporary model files (default: the system's temporary folder). */
  stagingDir?: string;
}

/** Prompts as the tower takes them: what `ClipTextTransformer.forward` takes for learnable prompts. */
export interface TextTowerInput {
  /** Token embeddings [B, L, W] before the positional embedding (L the context length). */
  tokenEmbeddings: tf.Tensor3D;
  /** The EOT position of each row. */
  eotIndices: readonly number[];
  /** AnomalyCLIP's compound (deep) prompt tokens, [n_k, W] each. */
  compoundPrompts?: readonly tf.Tensor2D[];
}

/**
 * The frozen CLIP text tower run by ONNX Runtime, for inference: `encode` gives what
 * `ClipTextTransformer.forward(...).textEmbeds` gives for prompts as token embeddings, within 1e-4, computing
 * in the session's own thread. The tower runs on the positions up to the last EOT only (exact under the
 * causal mask). One session per shape of compound prompts, made on first use from the model's tfjs weights,
 * which stay (training keeps the tfjs tower, where gradients flow); `dispose` frees the sessions.
 */
export class OnnxTextTower {
  private readonly sessions = new Map<string, Promise<OrtSession>>();
  private readonly masks = new Map<number, Float32Array>();
  private disposed = false;

  private constructor(
    private readonly model: ClipModel,
    private readonly options: OnnxTextTowerOptions,
    /** The runtime's package version. */
    readonly runtimeVersion: string,
  ) {}

  /**
   * The text tower of `model` (which keeps its weights; dispose it separately, after this tower).
   * @throws Error when onnxruntime-node is missing or lacks a requested provider
   */
  static fromClip(model: ClipModel, options: OnnxTextTowerOptions = {}): OnnxTextTower {
    const load = loadOnnxRuntime();
    if (!load.ok) throw new Error(`ONNX text tower: ${load.reason}`);
    const unknown = (options.executionProviders ?? ['cpu']).filter((p) => !load.runtime.providers.includes(p));
    if (unknown.length > 0)
      throw new Error(
        `ONNX text tower: onnxruntime-node ${load.runtime.version} has no ${unknown.join(', ')} execution provider here (it has ${load.runtime.providers.join(', ')})`,
      );
    return new OnnxTextTower(model, options, load.runtime.version);
  }

  /** Makes the session for prompts with these compound prompt lengths now (otherwise on first use). */
  prepare(compoundLengths: readonly number[] = []): Promise<void> {
    return this.session(compoundLengths).then(() => undefined);
  }

  private session(lengths: readonly number[]): Promise<OrtSession> {
    if (this.disposed) return Promise.reject(new Error('OnnxTextTower: used after dispose'));
    const key = lengths.join(',');
    let s = this.sessions.get(key);
    if (!s) {
      s = this.makeSession(lengths);
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  private async makeSession(lengths: readonly number[]): Promise<OrtSession> {
    const load = loadOnnxRuntime();
    if (!load.ok) throw new Error(`ONNX text tower: ${load.reason}`);
    const graph = clipTextGraph(this.model.config, await weightReaderFor(this.model.params, (name) => !name.startsWith('visual.')), {
      compoundLengths: lengths,
    });
    const staging = this.options.weightStaging ?? (graph.weightBytes() >= DISK_STAGING_BYTES ? 'disk' : 'memory');
    if (staging === 'disk') return sessionFromDisk(load.runtime, graph, this.options, () => undefined);
    return load.runtime.createSession(graph.toModel(), this.options);
  }

  private causalMask(n: number): Float32Array {
    let m = this.masks.get(n);
    if (!m) {
      m = new Float32Array(n * n);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i * n + j] = -Infinity;
      this.masks.set(n, m);
    }
    return m;
  }

  /**
   * `textEmbeds` [B, E] (unnormalised) of the prompts; the tensor is the caller's. The inputs may be disposed
   * once the promise settles.
   */
  async encode(input: TextTowerInput): Promise<tf.Tensor2D> {
    const t = this.model.config.text;
    const emb = input.tokenEmbeddings;
    const compound = input.compoundPrompts ?? [];
    if (emb.rank !== 3 || emb.shape[1] !== t.contextLength || emb.shape[2] !== t.width)
      throw new Error(`OnnxTextTower: tokenEmbeddings must be [B, ${t.contextLength}, ${t.width}], found [${emb.shape.join(', ')}]`);
    const b = emb.shape[0];
    if (input.eotIndices.length !== b) throw new Error(`OnnxTextTower: ${input.eotIndices.length} EOT indices for ${b} prompts`);
    for (const e of input.eotIndices)
      if (!Number.isInteger(e) || e < 0 || e >= t.contextLength) throw new Error(`OnnxTextTower: EOT index ${e} is out of range [0, ${t.contextLength - 1}]`);
    const lengths = compound.map((c) => c.shape[0]);
    const used = Math.max(...input.eotIndices, ...lengths) + 1;
    const session = await this.session(lengths);
    const cut = used < t.contextLength ? tf.slice(emb, [0, 0, 0], [b, used, t.width]) : emb;
    let read: Float32Array[];
    try {
      read = (await Promise.all([cut.data(), ...compound.map((c) => c.data())])) as Float32Array[];
    } finally {
      if (cut !== emb) cut.dispose();
    }
    const [data, ...compoundData] = read;
    const select = new Float32Array(b * used);
    input.eotIndices.forEach((e, i) => (select[i * used + e] = 1));
    const names = TEXT_GRAPH_NAMES;
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
      [names.tokenEmbeddings]: { data: data!, dims: [b, used, t.width] },
      [names.causalMask]: { data: this.causalMask(used), dims: [used, used] },
      [names.eotSelect]: { data: select, dims: [b, used] },
    };
    compound.forEach((c, k) => (feeds[names.compound(k)] = { data: compoundData[k]!, dims: [...c.shape] }));
    const out = (await session.run(feeds, [names.textEmbeds]))[names.textEmbeds]!;
    return tf.tensor2d(out.data, [out.dims[0]!, out.dims[1]!]);
  }

  /** Frees the sessions (the model's weights stay with the model). */
  async dispose(): Promise<void> {
    this.disposed = true;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.then((x) => x.dispose()).catch(() => undefined)));
  }
}
