import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, Rng, SafetensorsReader, type HostTensor, type LoadReport, CheckpointMismatchError, ConfigError, disposeOwned, InvalidStateError, ShapeError } from '@hgm/tensor';
import type { ClipModel, ClipTextOutput, ClipTextTransformer, ClipTokenizer, DinoVisionTransformer } from '@hgm/backbone';
import { HierarchicalGroupMerging, disposeGroupMergingLevel, type GroupMergingLevel } from '@hgm/group-merging';
import { GroupGatedTokenRefiner } from '@hgm/refiner';
import { AnomalyClipPromptLearner, DynamicStatePrompts, anomalyClipIgnoredKeys, type PromptBatch } from '@hgm/prompts';
import { crossEntropy, groupAlignmentLoss, mapsLoss, maskToPatchGrid, orthogonalityLoss } from '@hgm/losses';
import { configDifferences, resolveConfig, usesAnchors, type DualAnchorConfig, type DualAnchorConfigInput } from './config';
import { FeatureAdapters } from './adapters';
import { anomalyFromProbabilities, gaussianBlur, l2Normalize, stateLogits, upsampleBilinear } from './maps';
import { clipPromptTextSpec } from './text-spec';
import type { VisionBackbone, VisionFeatures } from './vision-features';
import { countParameters, type ParameterCounts } from './parameter-count';

/** Options of {@link DualAnchorModel.forwardFromFeatures}. */
export interface ForwardOptions {
  /** Training mode: Gumbel noise in HGM (drawn from `rng`), no test-time blur. Default false. */
  training?: boolean;
  /** Source of the Gumbel noise in training mode. */
  rng?: Rng;
  /** Keep HGM's per-level tensors (assignments, group tokens) in the output. Default false. */
  keepGroupLevels?: boolean;
}

/** Typed output of the model. Every tensor belongs to the caller ({@link disposeDualAnchorOutput}). */
export interface DualAnchorOutput {
  /** M: the combined anomaly map, blurred at test time (sigma 4), not in training. [B, H, W] */
  anomalyMap: tf.Tensor3D;
  /** The combined map before the blur (AnomalyCLIP's `anomaly_map` before `gaussian_filter`). [B, H, W] */
  rawAnomalyMap: tf.Tensor3D;
  /** p_cls[a], the image anomaly score in [0, 1]. [B] */
  imageScore: tf.Tensor1D;
  /** With `scoreFusion.mode` other than 'none': the score fused with a statistic of the map. [B] */
  fusedImageScore: tf.Tensor1D | null;
  /** p_cls = softmax over {n, a} of cos(t_ref, T) / temperature. [B, 2] */
  imageProbabilities: tf.Tensor2D;
  /** cos(t_ref, T) / temperature. [B, 2] */
  imageLogits: tf.Tensor2D;
  /** A^(l): per map (tapped layers, then F_assign) the state probabilities at input size, channel 0 normal. [B, H, W, 2] each */
  mapProbabilities: tf.Tensor4D[];
  /** (A_a + 1 - A_n) / 2 of each map. [B, H, W] each */
  layerAnomalyMaps: tf.Tensor3D[];
  /** T: unit-normalised text anchors (normal, anomalous); batch 1 for static prompts. [B or 1, 2, D] */
  textFeatures: tf.Tensor3D;
  /** t_cls mapped to D. [B, D] */
  globalToken: tf.Tensor2D;
  /** t_ref (t_cls when GGTR is off). [B, D] */
  refinedCls: tf.Tensor2D;
  /** Patch tokens of each tapped layer mapped to D. [B, M, D] each */
  patchFeatures: tf.Tensor3D[];
  /** [G_N, G_A] (null for the AnomalyCLIP baseline). [B, 2, D] */
  imageAnchors: tf.Tensor3D | null;
  /** F_assign from HGM (null without HGM). [B, M, D] */
  assignedFeatures: tf.Tensor3D | null;
  /** HGM's levels with `keepGroupLevels`. */
  groupLevels: GroupMergingLevel[] | null;
  grid: [number, number];
}

/** Disposes every tensor of an output. */
export function disposeDualAnchorOutput(o: DualAnchorOutput): void {
  disposeOwned(o);
}

/** A training batch: cached features or pixels, masks at input size and image labels. */
export interface TrainingBatch {
  features?: VisionFeatures;
  /** [B, 3, H, W] normalised (used when `features` is absent). */
  pixels?: tf.Tensor4D;
  /** Ground truth, 1 = anomalous. [B, H, W] */
  masks: tf.Tensor3D;
  /** 0 normal, 1 anomalous. [B] */
  labels: tf.Tensor1D;
}

/** The loss of method step 6 with each term (all scalars; terms of a missing module are 0). */
export interface LossResult {
  total: tf.Scalar;
  terms: {
    /** Two-class cross-entropy of p_cls (the BCE of the method). */
    image: tf.Scalar;
    /** Sum over maps of Focal + Dice(A_a, S) + Dice(A_n, 1 - S). */
    maps: tf.Scalar;
    focal: tf.Scalar;
    dice: tf.Scalar;
    orthogonality: tf.Scalar;
    alignment: tf.Scalar;
  };
}

/** Loss terms as numbers. */
export type LossValues = { total: number } & { [K in keyof LossResult['terms']]: number };

/** Disposes a {@link LossResult}. */
export function disposeLossResult(r: LossResult): void {
  disposeOwned(r);
}

/** The frozen parts a model is built from (it takes ownership: {@link DualAnchorModel.dispose} calls `dispose`). */
export interface FrozenParts {
  backbone: VisionBackbone;
  text: ClipTextTransformer;
  tokenizer: ClipTokenizer;
  /** Frees the frozen weights. */
  dispose(): void;
  /** Every frozen variable (for checks that they receive no update). */
  frozenVariables(): tf.Variable[];
  /** The loaded vision encoder behind `backbone`, for another executor of the same weights (e.g. ONNX Runtime). */
  visionSource?: VisionSource;
}

/** The model object a backbone reads its frozen vision weights from. */
export type VisionSource =
  | { kind: 'clip'; clip: ClipModel; globalToken: 'ln-post' | 'no-ln-post' }
  | { kind: 'dinov2' | 'dinov3'; encoder: DinoVisionTransformer };

/**
 * The Dual-Anchor model (method steps 1-6) and, with every module off, the AnomalyCLIP baseline.
 *
 * ```ts
 * const features = model.encodeVision(pixels);               // frozen, cacheable
 * const out = model.forwardFromFeatures(features);           // eval: blurred map + score
 * const loss = model.computeLoss(out, masks, labels);        // training terms
 * ```
 *
 * Learnable parameters live in {@link params} (state-dict names `adapters.*`, `anchors.tokens`, `hgm.*`,
 * `refiner.*`, `dsp.*` or `prompt_learner.*`); the backbone and text tower are frozen and elsewhere.
 */
export class DualAnchorModel {
  readonly config: DualAnchorConfig;
  /** The learnable parameters (all trainable). */
  readonly params = new ParameterStore();
  readonly adapters: FeatureAdapters | null;
  /** Two learnable anchors [2, D] used when HGM is off but DSP or GGTR need anchors (choice). */
  readonly staticAnchors: tf.Variable | null;
  readonly hgm: HierarchicalGroupMerging | null;
  readonly refiner: GroupGatedTokenRefiner | null;
  readonly dsp: DynamicStatePrompts | null;
  readonly promptLearner: AnomalyClipPromptLearner | null;
  /** T of the last inference forward whose prompts do not depend on the image, with the state it was computed from. */
  private textCache: { key: readonly object[]; backend: string; batch: number; features: tf.Tensor3D } | null = null;

  constructor(
    configInput: DualAnchorConfigInput | DualAnchorConfig,
    readonly frozen: FrozenParts,
  ) {
    const c = resolveConfig(configInput as DualAnchorConfigInput);
    this.config = c;
    const d = c.clip.embedDim;
    const { backbone, text } = frozen;
    if (backbone.kind !== c.backbone.kind) throw new ConfigError(`Dual-Anchor model: config backbone is ${c.backbone.kind}, the given backbone is ${backbone.kind}`);
    if (text.config.text.width !== c.clip.text.width || text.config.embedDim !== d) {
      throw new ConfigError(`Dual-Anchor model: text tower has width ${text.config.text.width} and embedding ${text.config.embedDim}, config expects ${c.clip.text.width} and ${d}`);
    }
    // One fork per module, always in the same order, so that switching a module off leaves the others' initial values unchanged.
    const root = new Rng(c.seed);
    const rngs = { adapters: root.fork(), anchors: root.fork(), hgm: root.fork(), refiner: root.fork(), dsp: root.fork(), prompts: root.fork() };
    this.adapters = backbone.kind === 'clip' ? null : new FeatureAdapters(this.params, rngs.adapters, backbone.tokenWidth, d, c.layers.length);
    if (backbone.kind === 'clip' && backbone.tokenWidth !== d) throw new ConfigError(`Dual-Anchor model: CLIP backbone tokens have width ${backbone.tokenWidth}, expected D = ${d}`);
    this.staticAnchors = !c.modules.hgm && usesAnchors(c) ? this.params.add('anchors.tokens', rngs.anchors.tensorTruncatedNormal([2, d], 0, c.hgm.groupTokenInitStd), { trainable: true }) : null;
    this.hgm = c.modules.hgm ? new HierarchicalGroupMerging(this.params, { ...c.hgm, dim: d }, { prefix: 'hgm', rng: rngs.hgm }) : null;
    this.refiner = c.modules.ggtr ? new GroupGatedTokenRefiner(this.params, { ...c.ggtr, dim: d }, { prefix: 'refiner', rng: rngs.refiner }) : null;
    const spec = clipPromptTextSpec(text, frozen.tokenizer);
    this.dsp = c.modules.dsp ? DynamicStatePrompts.create(this.params, spec, d, rngs.dsp, c.dsp, 'dsp.') : null;
    this.promptLearner = c.modules.dsp ? null : AnomalyClipPromptLearner.create(this.params, spec, rngs.prompts, c.staticPrompts, 'prompt_learner.');
  }

  /**
   * Step 1 (frozen): the backbone's global token and tapped patch tokens, before any learnable adapter.
   * @param pixels normalised images [B, 3, H, W], H and W multiples of the patch size
   */
  encodeVision(pixels: tf.Tensor4D): VisionFeatures {
    const p = this.frozen.backbone.patchSize;
    if (pixels.rank !== 4 || pixels.shape[1] !== 3 || pixels.shape[2] % p !== 0 || pixels.shape[3] % p !== 0) {
      throw new ShapeError(`Dual-Anchor encodeVision: pixels must be [B, 3, H, W] with H, W multiples of ${p}, found [${pixels.shape.join(', ')}]`);
    }
    const out = this.frozen.backbone.encode(pixels, this.config.layers);
    return { ...out, imageSize: [pixels.shape[2], pixels.shape[3]] };
  }

  /** {@link encodeVision} then {@link forwardFromFeatures}. */
  forward(pixels: tf.Tensor4D, options: ForwardOptions = {}): DualAnchorOutput {
    const f = this.encodeVision(pixels);
    try {
      return this.forwardFromFeatures(f, options);
    } finally {
      f.globalToken.dispose();
      for (const t of f.patchTokens) t.dispose();
    }
  }

  /**
   * The text anchors T, unit-normalised. With DSP they depend on the image anchors.
   * @param imageAnchors [B, 2, D] (DSP only)
   * @returns [B, 2, D] with DSP, [1, 2, D] with static prompts
   */
  textFeatures(imageAnchors: tf.Tensor3D | null): tf.Tensor3D {
    return tf.tidy(() => {
      const raw = this.encodePrompts(imageAnchors).textEmbeds;
      const b = raw.shape[0] / 2;
      return l2Normalize(tf.reshape(raw, [b, 2, this.config.clip.embedDim])) as tf.Tensor3D;
    });
  }

  /**
   * Whether the text anchors T do not depend on the input: static prompts, or Dynamic State Prompts fed the
   * two learnable anchors (HGM off) rather than an image's group tokens.
   */
  get textIsInputIndependent(): boolean {
    return !this.dsp || !this.hgm;
  }

  /**
   * T for a forward pass. At inference (eval mode, no gradient tape) with input-independent prompts the
   * frozen text tower runs once per parameter state: the result is kept, keyed by the data of every learnable
   * variable (an optimiser step, `loadTrainable` or any `assign` gives a variable new data and so a new key),
   * the backend and, with DSP, the batch size; the kept tensor is freed when the key changes and by
   * {@link dispose}. The values are those of {@link textFeatures}, computed the same way.
   */
  private inferenceTextFeatures(imageAnchors: tf.Tensor3D | null, batch: number, training: boolean): tf.Tensor3D {
    const anchors = this.dsp ? imageAnchors : null;
    if (training || !this.textIsInputIndependent || tf.engine().isTapeOn()) return this.textFeatures(anchors);
    const key = this.params.entries().map((p) => p.variable.dataId);
    const backend = tf.getBackend();
    const size = this.dsp ? batch : 1;
    const c = this.textCache;
    if (c && c.backend === backend && c.batch === size && c.key.length === key.length && c.key.every((k, i) => k === key[i])) return tf.clone(c.features);
    const features = tf.keep(this.textFeatures(anchors));
    this.dropTextCache();
    this.textCache = { key, backend, batch: size, features };
    return tf.clone(features);
  }

  /** Frees the kept text anchors of {@link inferenceTextFeatures} (the next inference forward recomputes them). */
  dropTextCache(): void {
    this.textCache?.features.dispose();
    this.textCache = null;
  }

  /** The prompts (DSP per image, interleaved normal/anomalous; or the two static ones). */
  prompts(imageAnchors: tf.Tensor3D | null): PromptBatch {
    if (this.dsp) {
      if (!imageAnchors) throw new ConfigError('Dual-Anchor prompts: Dynamic State Prompts need the image anchors');
      return tf.tidy(() => {
        const [gn, ga] = tf.unstack(imageAnchors, 1) as [tf.Tensor2D, tf.Tensor2D];
        const batch = this.dsp!.forward(gn, ga);
        return batch as unknown as tf.TensorContainer;
      }) as unknown as PromptBatch;
    }
    return this.promptLearner!.forward();
  }

  /**
   * Runs the prompts through the frozen text tower (unnormalised `textEmbeds` [2B or 2, E], rows
   * normal/anomalous interleaved per image), optionally with block outputs.
   */
  encodePrompts(imageAnchors: tf.Tensor3D | null, options: { hiddenStates?: boolean } = {}): ClipTextOutput {
    return tf.tidy(() => {
      const p = this.prompts(imageAnchors);
      const eot = tf.tensor1d(p.eotIndices, 'int32');
      const out = this.frozen.text.forward(
        { tokenEmbeddings: p.embeddings, eotIndices: eot, compoundPrompts: p.deepTokens },
        options.hiddenStates ? { hiddenStates: true } : {},
      );
      return out as unknown as tf.TensorContainer;
    }) as unknown as ClipTextOutput;
  }

  /**
   * Steps 1 (adapters) to 5 on cached vision features. Differentiable with respect to {@link params}.
   */
  forwardFromFeatures(features: VisionFeatures, options: ForwardOptions = {}): DualAnchorOutput {
    const c = this.config;
    const training = options.training ?? false;
    if (features.patchTokens.length !== c.layers.length) {
      throw new ShapeError(`Dual-Anchor forward: features hold ${features.patchTokens.length} tapped layers, the config taps ${c.layers.length} (${JSON.stringify(c.layers)})`);
    }
    if (training && this.hgm && c.hgm.gumbel && !options.rng) throw new ConfigError('Dual-Anchor forward: training mode with Gumbel noise needs options.rng');
    const [gh, gw] = features.grid;
    const size = features.imageSize;
    const result = tf.tidy(() => {
      const d = c.clip.embedDim;
      const patchFeatures = features.patchTokens.map((t, i) => (this.adapters ? this.adapters.mapPatches(t, i) : tf.clone(t)) as tf.Tensor3D);
      const globalToken = (this.adapters ? this.adapters.mapGlobal(features.globalToken) : tf.clone(features.globalToken)) as tf.Tensor2D;
      const b = globalToken.shape[0];
      let imageAnchors: tf.Tensor3D | null = null;
      let assignedFeatures: tf.Tensor3D | null = null;
      let groupLevels: GroupMergingLevel[] | null = null;
      if (this.hgm) {
        const h = this.hgm.forward(patchFeatures, { mode: training ? 'train' : 'eval', ...(options.rng ? { rng: options.rng } : {}) });
        imageAnchors = h.imageAnchors;
        assignedFeatures = h.assignedFeatures;
        if (options.keepGroupLevels) groupLevels = h.levels;
        else h.levels.forEach(disposeGroupMergingLevel);
      } else if (this.staticAnchors) {
        imageAnchors = tf.tile(tf.reshape(this.staticAnchors, [1, 2, d]), [b, 1, 1]) as tf.Tensor3D;
      }
      const refinedCls = this.refiner ? this.refiner.forward(globalToken, imageAnchors!).refinedCls : tf.clone(globalToken);
      const textFeatures = this.inferenceTextFeatures(imageAnchors, b, training);
      const sources = assignedFeatures ? [...patchFeatures, assignedFeatures] : patchFeatures;
      const mapProbabilities = sources.map((f) => {
        const logits = tf.reshape(stateLogits(f, textFeatures, c.temperature), [b, gh, gw, 2]) as tf.Tensor4D;
        return c.mapUpsampling === 'logits' ? (tf.softmax(upsampleBilinear(logits, size)) as tf.Tensor4D) : upsampleBilinear(tf.softmax(logits) as tf.Tensor4D, size);
      });
      const layerAnomalyMaps = mapProbabilities.map(anomalyFromProbabilities);
      const summed = layerAnomalyMaps.length === 1 ? tf.clone(layerAnomalyMaps[0]!) : tf.addN(layerAnomalyMaps);
      const rawAnomalyMap = (c.mapReduction === 'sum' ? summed : tf.div(summed, layerAnomalyMaps.length)) as tf.Tensor3D;
      const anomalyMap = !training && c.blur.sigma > 0 ? gaussianBlur(rawAnomalyMap, c.blur.sigma, c.blur.truncate) : tf.clone(rawAnomalyMap);
      const imageLogits = tf.reshape(stateLogits(tf.expandDims(refinedCls, 1) as tf.Tensor3D, textFeatures, c.temperature), [b, 2]) as tf.Tensor2D;
      const imageProbabilities = tf.softmax(imageLogits) as tf.Tensor2D;
      const imageScore = tf.reshape(tf.slice(imageProbabilities, [0, 1], [b, 1]), [b]) as tf.Tensor1D;
      let fusedImageScore: tf.Tensor1D | null = null;
      if (c.scoreFusion.mode !== 'none') {
        const flat = tf.reshape(anomalyMap, [b, -1]);
        const stat =
          c.scoreFusion.mode === 'max'
            ? tf.max(flat, 1)
            : tf.mean(tf.topk(flat, Math.max(1, Math.ceil(c.scoreFusion.topKFraction * flat.shape[1]!))).values, 1);
        fusedImageScore = tf.add(tf.mul(imageScore, 1 - c.scoreFusion.weight), tf.mul(stat, c.scoreFusion.weight)) as tf.Tensor1D;
      }
      const out: Omit<DualAnchorOutput, 'grid'> = {
        anomalyMap,
        rawAnomalyMap,
        imageScore,
        fusedImageScore,
        imageProbabilities,
        imageLogits,
        mapProbabilities,
        layerAnomalyMaps,
        textFeatures,
        globalToken,
        refinedCls,
        patchFeatures,
        imageAnchors,
        assignedFeatures,
        groupLevels,
      };
      return out as unknown as tf.TensorContainer;
    }) as unknown as Omit<DualAnchorOutput, 'grid'>;
    return { ...result, grid: [gh, gw] };
  }

  /**
   * The loss of method step 6: BCE(p_cls, y) + sum over maps of (Focal(A, S) + Dice(A_a, S) +
   * Dice(A_n, 1 - S)) + |<G_N, G_A>|^2 + (1 - (cos(G_N, Z_N) + cos(G_A, Z_A)) / 2), each with its
   * factor from `config.loss`; the anchor terms are 0 without anchors. Z_N / Z_A use the mapped patch
   * features of the last tapped layer (choice).
   * @param masks [B, H, W] at the maps' size
   * @param labels [B] 0 / 1
   */
  computeLoss(out: DualAnchorOutput, masks: tf.Tensor3D, labels: tf.Tensor1D): LossResult {
    const c = this.config;
    const [, h, w] = out.rawAnomalyMap.shape;
    if (masks.rank !== 3 || masks.shape[1] !== h || masks.shape[2] !== w || masks.shape[0] !== out.rawAnomalyMap.shape[0]) {
      throw new ShapeError(`Dual-Anchor loss: masks must be [${out.rawAnomalyMap.shape.join(', ')}] (the maps' size), found [${masks.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const image = crossEntropy(out.imageLogits, labels) as tf.Scalar;
      const maps = mapsLoss(out.mapProbabilities, masks, { focal: { gamma: c.loss.focalGamma } });
      const focal = tf.addN(maps.perMap.map((m) => m.focal)) as tf.Scalar;
      const dice = tf.addN(maps.perMap.flatMap((m) => [m.anomalyDice, m.normalDice])) as tf.Scalar;
      let orthogonality = tf.scalar(0);
      let alignment = tf.scalar(0);
      if (out.imageAnchors) {
        const [gn, ga] = tf.unstack(out.imageAnchors, 1) as [tf.Tensor2D, tf.Tensor2D];
        orthogonality = orthogonalityLoss(gn, ga);
        const last = out.patchFeatures[out.patchFeatures.length - 1]!;
        alignment = groupAlignmentLoss({ normalAnchor: gn, anomalyAnchor: ga, patchFeatures: last, patchMask: maskToPatchGrid(masks, out.grid, c.loss.maskDownsampling) });
      }
      const total = tf.addN([
        tf.mul(image, c.loss.image),
        tf.mul(maps.total, c.loss.maps),
        tf.mul(orthogonality, c.loss.orthogonality),
        tf.mul(alignment, c.loss.alignment),
      ]) as tf.Scalar;
      return { total, terms: { image, maps: maps.total, focal, dice, orthogonality, alignment } } as unknown as tf.TensorContainer;
    }) as unknown as LossResult;
  }

  /**
   * Forward (training mode) and loss for a batch; everything in between is freed. Use it inside
   * `tf.variableGrads` / an optimiser's `minimize` with {@link trainableVariables}.
   */
  trainingLoss(batch: TrainingBatch, options: { rng?: Rng; training?: boolean } = {}): LossResult {
    return tf.tidy(() => {
      const features = batch.features ?? this.encodeVision(batch.pixels ?? failNoInput());
      const out = this.forwardFromFeatures(features, { training: options.training ?? true, ...(options.rng ? { rng: options.rng } : {}) });
      return this.computeLoss(out, batch.masks, batch.labels) as unknown as tf.TensorContainer;
    }) as unknown as LossResult;
  }

  /**
   * A loss closure for optimisers (`optimizer.minimize(lossFn)`, `tf.variableGrads(lossFn, vars)`) that
   * records the terms of its last call; `read()` returns them as numbers and frees them.
   */
  lossFunction(batch: TrainingBatch, options: { rng?: Rng; training?: boolean } = {}): { lossFn: () => tf.Scalar; read: () => Promise<LossValues> } {
    let kept: LossResult | null = null;
    return {
      lossFn: () => {
        if (kept) disposeLossResult(kept);
        const r = this.trainingLoss(batch, options);
        kept = { total: tf.keep(tf.clone(r.total)), terms: Object.fromEntries(Object.entries(r.terms).map(([k, v]) => [k, tf.keep(v)])) as LossResult['terms'] };
        return r.total;
      },
      read: async () => {
        if (!kept) throw new InvalidStateError('Dual-Anchor lossFunction: read() before the loss ran');
        const r = kept;
        kept = null;
        const values = await lossValues(r);
        disposeLossResult(r);
        return values;
      },
    };
  }

  /** The learnable variables (what an optimiser updates). */
  trainableVariables(): tf.Variable[] {
    return this.params.trainableVariables();
  }

  /** Parameter counts: total, trainable, frozen, per module (from the configuration; buffers excluded). */
  parameterCounts(): ParameterCounts {
    return countParameters(this.config);
  }

  /** Scalars per learnable module, counted from the live store (must equal {@link parameterCounts}'s modules). */
  storeCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.params.entries()) {
      const key = moduleOf(p.name);
      out[key] = (out[key] ?? 0) + p.variable.size;
    }
    return out;
  }

  /** The learnable parameters as safetensors bytes, with the configuration (JSON) in the metadata. */
  async saveTrainable(): Promise<Uint8Array> {
    return this.params.saveTrainable(this.config, { kind: 'dual-anchor' });
  }

  /**
   * Loads learnable parameters saved by {@link saveTrainable}, strictly: the configuration in the metadata
   * must match this model's (architecture fields; name, seed, loss weights, blur and score fusion may
   * differ) and every key must be present with its shape. Nothing changes when anything is wrong.
   */
  async loadTrainable(source: Uint8Array | SafetensorsReader, name = 'checkpoint'): Promise<LoadReport> {
    const reader = source instanceof SafetensorsReader ? source : await SafetensorsReader.fromBytes(source, name);
    const meta = reader.metadata ?? {};
    if (meta.kind !== 'dual-anchor' || typeof meta.config !== 'string') {
      throw new CheckpointMismatchError(reader.name, `${reader.name}: not a Dual-Anchor checkpoint (metadata kind ${JSON.stringify(meta.kind)}, config ${meta.config === undefined ? 'absent' : 'present'})`);
    }
    let saved: DualAnchorConfig;
    try {
      saved = JSON.parse(meta.config) as DualAnchorConfig;
    } catch (e) {
      throw new CheckpointMismatchError(reader.name, `${reader.name}: the config in the metadata is not JSON (${(e as Error).message})`);
    }
    const diffs = configDifferences(architectureOf(this.config), architectureOf(saved));
    if (diffs.length > 0) throw new CheckpointMismatchError(reader.name, `${reader.name}: saved for another configuration: ${diffs.join('; ')}`);
    return this.params.loadStateDict(reader, { strict: true, source: reader.name });
  }

  /**
   * Loads an AnomalyCLIP prompt-learner checkpoint (`prompt_learner.*` keys, e.g. converted from its
   * `.pth`), static prompts only. Buffers and the unused `compound_prompt_projections` are skipped; keys of
   * another prompt length or depth fail naming them.
   * @param keyPrefix the prefix the keys carry ('' for AnomalyCLIP's own `{"prompt_learner": state_dict}`)
   */
  async loadAnomalyClipPrompts(entries: Map<string, HostTensor> | SafetensorsReader, keyPrefix = 'prompt_learner.'): Promise<LoadReport> {
    if (!this.promptLearner) throw new InvalidStateError('loadAnomalyClipPrompts: this model uses Dynamic State Prompts, not AnomalyCLIP prompts');
    const esc = keyPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return this.params.loadStateDict(entries, {
      strict: true,
      only: (p) => p.name.startsWith('prompt_learner.'),
      rename: keyPrefix === 'prompt_learner.' ? [] : [{ pattern: `^${esc}`, replacement: 'prompt_learner.' }],
      ignore: [...anomalyClipIgnoredKeys('prompt_learner.'), '^(?!prompt_learner\\.)'],
    });
  }

  /**
   * Runs the frozen vision step with another executor of the same encoder (e.g. an ONNX Runtime graph built
   * from {@link FrozenParts.visionSource}); it must have the same kind, patch size, depth and token width.
   * The caller keeps ownership of `backbone`'s resources.
   */
  useBackbone(backbone: VisionBackbone): void {
    const b = this.frozen.backbone;
    for (const k of ['kind', 'patchSize', 'depth', 'tokenWidth'] as const) {
      if (backbone[k] !== b[k]) throw new Error(`Dual-Anchor model: useBackbone needs ${k} ${b[k]}, the given backbone has ${backbone[k]}`);
    }
    this.frozen.backbone = backbone;
  }

  /** Frees the learnable parameters, the prompt buffers, the kept text anchors and the frozen parts. */
  dispose(): void {
    this.dropTextCache();
    this.dsp?.dispose();
    this.promptLearner?.dispose();
    this.params.dispose();
    this.frozen.dispose();
  }
}

function failNoInput(): never {
  throw new ConfigError('Dual-Anchor training batch: give features or pixels');
}

/** Reads a loss result as numbers (does not dispose it). */
export async function lossValues(r: LossResult): Promise<LossValues> {
  const out: Record<string, number> = { total: (await r.total.data())[0]! };
  for (const [k, v] of Object.entries(r.terms)) out[k] = (await v.data())[0]!;
  return out as LossValues;
}

/** The module a learnable parameter belongs to, by name. */
export function moduleOf(name: string): string {
  if (name.startsWith('adapters.')) return 'adapters';
  if (name.startsWith('anchors.')) return 'anchors';
  if (name.startsWith('hgm.')) return 'hgm';
  if (name.startsWith('refiner.')) return 'ggtr';
  if (name.startsWith('dsp.')) return 'dsp';
  if (name.startsWith('prompt_learner.')) return 'prompts';
  return 'other';
}

/** The fields of a configuration that a checkpoint must match. */
export function architectureOf(c: DualAnchorConfig): Partial<DualAnchorConfig> {
  const { name: _n, seed: _s, loss: _l, blur: _b, scoreFusion: _f, ...rest } = c;
  return JSON.parse(JSON.stringify(rest)) as Partial<DualAnchorConfig>;
}
