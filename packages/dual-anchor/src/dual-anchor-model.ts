import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, Rng, SafetensorsReader, type HostTensor, type LoadReport, ConfigError, InvalidStateError, ShapeError } from '@hgm/tensor';
import type { ClipModel, ClipTextOutput, ClipTextTransformer, ClipTokenizer, DinoVisionTransformer } from '@hgm/backbone';
import { HierarchicalGroupMerging, disposeGroupMergingLevel, type GroupMergingLevel } from '@hgm/group-merging';
import { GroupGatedTokenRefiner } from '@hgm/refiner';
import { AnomalyClipPromptLearner, DynamicStatePrompts, type PromptBatch } from '@hgm/prompts';
import { resolveConfig, usesAnchors, type DualAnchorConfig, type DualAnchorConfigInput } from './config';
import { FeatureAdapters } from './adapters';
import { anomalyFromProbabilities, gaussianBlur, l2Normalize, stateLogits, upsampleBilinear } from './maps';
import { clipPromptTextSpec } from './text-spec';
import { disposeVisionFeatures, type VisionBackbone, type VisionFeatures } from './vision-features';
import { countParameters, type ParameterCounts } from './parameter-count';
import { disposeLossResult, lossValues, type DualAnchorOutput, type ForwardOptions, type LossResult, type LossValues, type TrainingBatch } from './model-types';
import { dualAnchorLoss } from './loss';
import { loadAnomalyClipPrompts, loadTrainable, moduleOf, saveTrainable } from './checkpoint';

// The model's output and loss types, and its checkpoint helpers, live in their own modules; they are
// re-exported here, where the model's users have always found them.
export {
  disposeDualAnchorOutput,
  disposeLossResult,
  lossValues,
  type DualAnchorOutput,
  type ForwardOptions,
  type LossResult,
  type LossValues,
  type TrainingBatch,
} from './model-types';
export { architectureOf, moduleOf } from './checkpoint';

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
  /** The CLIP model that holds `text`'s weights, for another executor of the text tower (e.g. ONNX Runtime). */
  textSource?: ClipModel;
  /**
   * Frees the tfjs weights of the frozen vision encoder only (the text tower stays), returning the bytes freed
   * (0 when already freed). Disposing the parts later is still safe.
   */
  releaseVision?(): number;
}

/** The model object a backbone reads its frozen vision weights from. */
export type VisionSource =
  { kind: 'clip'; clip: ClipModel; globalToken: 'ln-post' | 'no-ln-post' } | { kind: 'dinov2' | 'dinov3'; encoder: DinoVisionTransformer };

/**
 * The Dual-Anchor model (method steps 1-6) and, with every module off, the AnomalyCLIP baseline.
 *
 * ```ts
 * const features = await model.encodeVision(pixels);         // frozen, cacheable
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
  private textExecutor: TextTowerExecutor | null = null;

  constructor(
    configInput: DualAnchorConfigInput | DualAnchorConfig,
    readonly frozen: FrozenParts,
  ) {
    const c = resolveConfig(configInput as DualAnchorConfigInput);
    this.config = c;
    const d = c.clip.embedDim;
    const { backbone, text } = frozen;
    if (backbone.kind !== c.backbone.kind)
      throw new ConfigError(`Dual-Anchor model: config backbone is ${c.backbone.kind}, the given backbone is ${backbone.kind}`);
    if (text.config.text.width !== c.clip.text.width || text.config.embedDim !== d) {
      throw new ConfigError(
        `Dual-Anchor model: text tower has width ${text.config.text.width} and embedding ${text.config.embedDim}, config expects ${c.clip.text.width} and ${d}`,
      );
    }
    // One fork per module, always in the same order, so that switching a module off leaves the others' initial values unchanged.
    const root = new Rng(c.seed);
    const rngs = { adapters: root.fork(), anchors: root.fork(), hgm: root.fork(), refiner: root.fork(), dsp: root.fork(), prompts: root.fork() };
    this.adapters = backbone.kind === 'clip' ? null : new FeatureAdapters(this.params, rngs.adapters, backbone.tokenWidth, d, c.layers.length);
    if (backbone.kind === 'clip' && backbone.tokenWidth !== d)
      throw new ConfigError(`Dual-Anchor model: CLIP backbone tokens have width ${backbone.tokenWidth}, expected D = ${d}`);
    this.staticAnchors =
      !c.modules.hgm && usesAnchors(c)
        ? this.params.add('anchors.tokens', rngs.anchors.tensorTruncatedNormal([2, d], 0, c.hgm.groupTokenInitStd), { trainable: true })
        : null;
    this.hgm = c.modules.hgm ? new HierarchicalGroupMerging(this.params, { ...c.hgm, dim: d }, { prefix: 'hgm', rng: rngs.hgm }) : null;
    this.refiner = c.modules.refiner ? new GroupGatedTokenRefiner(this.params, { ...c.refiner, dim: d }, { prefix: 'refiner', rng: rngs.refiner }) : null;
    const spec = clipPromptTextSpec(text, frozen.tokenizer);
    this.dsp = c.modules.dsp ? DynamicStatePrompts.create(this.params, spec, d, rngs.dsp, c.dsp, 'dsp.') : null;
    this.promptLearner = c.modules.dsp ? null : AnomalyClipPromptLearner.create(this.params, spec, rngs.prompts, c.staticPrompts, 'prompt_learner.');
  }

  /**
   * Step 1 (frozen): the backbone's global token and tapped patch tokens, before any learnable adapter. Every
   * backbone executor (tfjs, ONNX Runtime) runs it; the caller may dispose `pixels` once it settles.
   * @param pixels normalised images [B, 3, H, W], H and W multiples of the patch size
   */
  async encodeVision(pixels: tf.Tensor4D): Promise<VisionFeatures> {
    this.checkPixels(pixels);
    const out = await this.frozen.backbone.encode(pixels, this.config.layers);
    return { ...out, imageSize: [pixels.shape[2], pixels.shape[3]] };
  }

  /**
   * {@link encodeVision}, synchronously, for use inside `tf.tidy` and gradient tapes: tfjs backbones only.
   * @throws InvalidStateError when the backbone runs asynchronously only (another executor, e.g. ONNX Runtime)
   */
  encodeVisionSync(pixels: tf.Tensor4D): VisionFeatures {
    this.checkPixels(pixels);
    const b = this.frozen.backbone;
    if (!b.encodeSync)
      throw new InvalidStateError(
        'Dual-Anchor encodeVisionSync: this backbone runs asynchronously only (another executor than tfjs); await encodeVision instead',
      );
    const out = b.encodeSync(pixels, this.config.layers);
    return { ...out, imageSize: [pixels.shape[2], pixels.shape[3]] };
  }

  private checkPixels(pixels: tf.Tensor4D): void {
    const p = this.frozen.backbone.patchSize;
    if (pixels.rank !== 4 || pixels.shape[1] !== 3 || pixels.shape[2] % p !== 0 || pixels.shape[3] % p !== 0) {
      throw new ShapeError(`Dual-Anchor encodeVision: pixels must be [B, 3, H, W] with H, W multiples of ${p}, found [${pixels.shape.join(', ')}]`);
    }
  }

  /** {@link encodeVision} then {@link forwardFromFeatures}, on any backbone executor. */
  async forward(pixels: tf.Tensor4D, options: ForwardOptions = {}): Promise<DualAnchorOutput> {
    const f = await this.encodeVision(pixels);
    try {
      return this.forwardFromFeatures(f, options);
    } finally {
      disposeVisionFeatures(f);
    }
  }

  /** {@link forward}, synchronously: tfjs backbones only ({@link encodeVisionSync}). */
  forwardSync(pixels: tf.Tensor4D, options: ForwardOptions = {}): DualAnchorOutput {
    const f = this.encodeVisionSync(pixels);
    try {
      return this.forwardFromFeatures(f, options);
    } finally {
      disposeVisionFeatures(f);
    }
  }

  /**
   * The text anchors T, unit-normalised. With DSP they depend on the image anchors.
   * @param imageAnchors [B, 2, D] (DSP only)
   * @returns [B, 2, D] with DSP, [1, 2, D] with static prompts
   */
  textFeatures(imageAnchors: tf.Tensor3D | null): tf.Tensor3D {
    return tf.tidy(() => this.normalizedText(this.encodePrompts(imageAnchors).textEmbeds));
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
    const entry = this.textCacheEntry(batch);
    return entry.hit ?? entry.keep(this.textFeatures(anchors));
  }

  /**
   * {@link inferenceTextFeatures} at inference, with the text tower on the executor of {@link useTextExecutor}
   * when one is set (the same cache of input-independent anchors).
   */
  private async inferenceTextFeaturesAsync(imageAnchors: tf.Tensor3D | null, batch: number): Promise<tf.Tensor3D> {
    const executor = this.textExecutor;
    if (!executor || tf.engine().isTapeOn()) return this.inferenceTextFeatures(imageAnchors, batch, false);
    const anchors = this.dsp ? imageAnchors : null;
    const entry = this.textIsInputIndependent ? this.textCacheEntry(batch) : null;
    if (entry?.hit) return entry.hit;
    const p = this.prompts(anchors);
    let raw: tf.Tensor2D;
    try {
      raw = await executor.encode({ tokenEmbeddings: p.embeddings, eotIndices: p.eotIndices, compoundPrompts: p.deepTokens });
    } finally {
      // the learners' deep tokens are their variables; the rest of the batch was made for this call
      tf.dispose([p.embeddings, ...p.deepTokens.filter((t) => !(t instanceof tf.Variable))]);
    }
    const features = this.normalizedText(raw);
    raw.dispose();
    return entry ? entry.keep(features) : features;
  }

  /**
   * The kept input-independent text anchors for the current parameter state, backend and batch (a copy), or
   * null; `keep` stores new ones in their place and returns a copy.
   */
  private textCacheEntry(batch: number): { hit: tf.Tensor3D | null; keep: (features: tf.Tensor3D) => tf.Tensor3D } {
    const key = this.params.entries().map((p) => p.variable.dataId);
    const backend = tf.getBackend();
    const size = this.dsp ? batch : 1;
    const c = this.textCache;
    const same = c !== null && c.backend === backend && c.batch === size && c.key.length === key.length && c.key.every((k, i) => k === key[i]);
    return {
      hit: same ? tf.clone(c.features) : null,
      keep: (features) => {
        this.dropTextCache();
        this.textCache = { key, backend, batch: size, features: tf.keep(features) };
        return tf.clone(features);
      },
    };
  }

  /** Raw text embeddings [2B, E] (normal/anomalous interleaved) as unit-normalised anchors [B, 2, E]. */
  private normalizedText(raw: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => l2Normalize(tf.reshape(raw, [raw.shape[0] / 2, 2, this.config.clip.embedDim])) as tf.Tensor3D);
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
        // positions after the last EOT are never read (causal mask): the tower runs on the prompt's tokens only
        { tokenEmbeddings: p.embeddings, eotIndices: eot, compoundPrompts: p.deepTokens, usedLength: Math.max(...p.eotIndices) + 1 },
        { ...(options.hiddenStates ? { hiddenStates: true } : {}), recompute: this.recomputeText },
      );
      return out as unknown as tf.TensorContainer;
    }) as unknown as ClipTextOutput;
  }

  /**
   * Steps 1 (adapters) to 5 on cached vision features. Differentiable with respect to {@link params}. The
   * text tower runs on tfjs here (inside tapes); {@link predictFromFeatures} runs it on the text executor.
   */
  forwardFromFeatures(features: VisionFeatures, options: ForwardOptions = {}): DualAnchorOutput {
    const training = options.training ?? false;
    const anchors = this.anchorStage(features, options);
    let textFeatures: tf.Tensor3D;
    try {
      textFeatures = this.inferenceTextFeatures(anchors.imageAnchors, anchors.globalToken.shape[0], training);
    } catch (e) {
      disposeAnchorStage(anchors);
      throw e;
    }
    return this.mapStage(features, anchors, textFeatures, training);
  }

  /**
   * {@link forwardFromFeatures} in eval mode, with the frozen text tower on the executor set by
   * {@link useTextExecutor} (awaited: ONNX Runtime computes in a thread of its own), or on tfjs without one.
   * The same values within the executor's tolerance.
   */
  async predictFromFeatures(features: VisionFeatures, options: Pick<ForwardOptions, 'keepGroupLevels'> = {}): Promise<DualAnchorOutput> {
    const anchors = this.anchorStage(features, { ...options, training: false });
    let textFeatures: tf.Tensor3D;
    try {
      textFeatures = await this.inferenceTextFeaturesAsync(anchors.imageAnchors, anchors.globalToken.shape[0]);
    } catch (e) {
      disposeAnchorStage(anchors);
      throw e;
    }
    return this.mapStage(features, anchors, textFeatures, false);
  }

  /**
   * Runs the frozen text tower of inference on another executor (such as `@hgm/onnx`'s `OnnxTextTower`);
   * `null` goes back to tfjs. Training and the synchronous paths keep the tfjs tower. The kept text anchors
   * are dropped. The caller disposes the executor.
   */
  useTextExecutor(executor: TextTowerExecutor | null): void {
    this.textExecutor = executor;
    this.dropTextCache();
  }

  /** The text executor set by {@link useTextExecutor}, or null (tfjs). */
  get textTowerExecutor(): TextTowerExecutor | null {
    return this.textExecutor;
  }

  /** Steps 1-3: adapters, HGM's image anchors (or the static ones) and the refined CLS. */
  private anchorStage(features: VisionFeatures, options: ForwardOptions): AnchorStage {
    const c = this.config;
    const training = options.training ?? false;
    if (features.patchTokens.length !== c.layers.length) {
      throw new ShapeError(
        `Dual-Anchor forward: features hold ${features.patchTokens.length} tapped layers, the config taps ${c.layers.length} (${JSON.stringify(c.layers)})`,
      );
    }
    if (training && this.hgm && c.hgm.gumbel && !options.rng) throw new ConfigError('Dual-Anchor forward: training mode with Gumbel noise needs options.rng');
    return tf.tidy(() => {
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
      const stage: AnchorStage = { patchFeatures, globalToken, imageAnchors, assignedFeatures, groupLevels, refinedCls };
      return stage as unknown as tf.TensorContainer;
    }) as unknown as AnchorStage;
  }

  /** Steps 4-5 with the text anchors T (owned by the output): maps, blur and the image score. */
  private mapStage(features: VisionFeatures, a: AnchorStage, textFeatures: tf.Tensor3D, training: boolean): DualAnchorOutput {
    const c = this.config;
    const [gh, gw] = features.grid;
    const size = features.imageSize;
    const b = a.globalToken.shape[0];
    const result = tf.tidy(() => {
      const sources = a.assignedFeatures ? [...a.patchFeatures, a.assignedFeatures] : a.patchFeatures;
      const mapProbabilities = sources.map((f) => {
        const logits = tf.reshape(stateLogits(f, textFeatures, c.temperature), [b, gh, gw, 2]) as tf.Tensor4D;
        return c.mapUpsampling === 'logits'
          ? (tf.softmax(upsampleBilinear(logits, size)) as tf.Tensor4D)
          : upsampleBilinear(tf.softmax(logits) as tf.Tensor4D, size);
      });
      const layerAnomalyMaps = mapProbabilities.map(anomalyFromProbabilities);
      const summed = layerAnomalyMaps.length === 1 ? tf.clone(layerAnomalyMaps[0]!) : tf.addN(layerAnomalyMaps);
      const rawAnomalyMap = (c.mapReduction === 'sum' ? summed : tf.div(summed, layerAnomalyMaps.length)) as tf.Tensor3D;
      const anomalyMap = !training && c.blur.sigma > 0 ? gaussianBlur(rawAnomalyMap, c.blur.sigma, c.blur.truncate) : tf.clone(rawAnomalyMap);
      const imageLogits = tf.reshape(stateLogits(tf.expandDims(a.refinedCls, 1) as tf.Tensor3D, textFeatures, c.temperature), [b, 2]) as tf.Tensor2D;
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
      return {
        anomalyMap,
        rawAnomalyMap,
        imageScore,
        fusedImageScore,
        imageProbabilities,
        imageLogits,
        mapProbabilities,
        layerAnomalyMaps,
      } as unknown as tf.TensorContainer;
    }) as unknown as Pick<
      DualAnchorOutput,
      'anomalyMap' | 'rawAnomalyMap' | 'imageScore' | 'fusedImageScore' | 'imageProbabilities' | 'imageLogits' | 'mapProbabilities' | 'layerAnomalyMaps'
    >;
    return { ...result, ...a, textFeatures, grid: [gh, gw] };
  }

  /** The loss of method step 6 for a forward output, with each term ({@link dualAnchorLoss}). */
  computeLoss(out: DualAnchorOutput, masks: tf.Tensor3D, labels: tf.Tensor1D): LossResult {
    return dualAnchorLoss(this.config, out, masks, labels);
  }

  /**
   * Forward (training mode) and loss for a batch; everything in between is freed. Use it inside
   * `tf.variableGrads` / an optimiser's `minimize` with {@link trainableVariables}.
   */
  trainingLoss(batch: TrainingBatch, options: { rng?: Rng; training?: boolean } = {}): LossResult {
    return tf.tidy(() => {
      const features = batch.features ?? this.encodeVisionSync(batch.pixels ?? failNoInput());
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
        kept = {
          total: tf.keep(tf.clone(r.total)),
          terms: Object.fromEntries(Object.entries(r.terms).map(([k, v]) => [k, tf.keep(v)])) as LossResult['terms'],
        };
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
    return saveTrainable(this.params, this.config);
  }

  /**
   * Loads learnable parameters saved by {@link saveTrainable}, strictly: the configuration in the metadata
   * must match this model's (architecture fields; name, seed, loss weights, blur and score fusion may
   * differ) and every key must be present with its shape. Nothing changes when anything is wrong.
   */
  async loadTrainable(source: Uint8Array | SafetensorsReader, name = 'checkpoint'): Promise<LoadReport> {
    return loadTrainable(this.params, this.config, source, name);
  }

  /**
   * Loads an AnomalyCLIP prompt-learner checkpoint (`prompt_learner.*` keys, e.g. converted from its
   * `.pth`), static prompts only. Buffers and the unused `compound_prompt_projections` are skipped; keys of
   * another prompt length or depth fail naming them.
   * @param keyPrefix the prefix the keys carry ('' for AnomalyCLIP's own `{"prompt_learner": state_dict}`)
   */
  async loadAnomalyClipPrompts(entries: Map<string, HostTensor> | SafetensorsReader, keyPrefix = 'prompt_learner.'): Promise<LoadReport> {
    if (!this.promptLearner) throw new InvalidStateError('loadAnomalyClipPrompts: this model uses Dynamic State Prompts, not AnomalyCLIP prompts');
    return loadAnomalyClipPrompts(this.params, entries, keyPrefix);
  }

  /**
   * Runs the frozen vision step with another executor of the same encoder (e.g. an ONNX Runtime graph built
   * from {@link FrozenParts.visionSource}); it must have the same kind, patch size, depth and token width.
   * The caller keeps ownership of `backbone`'s resources.
   */
  useBackbone(backbone: VisionBackbone): void {
    const b = this.frozen.backbone;
    for (const k of ['kind', 'patchSize', 'depth', 'tokenWidth'] as const) {
      if (backbone[k] !== b[k]) throw new ConfigError(`Dual-Anchor model: useBackbone needs ${k} ${b[k]}, the given backbone has ${backbone[k]}`);
    }
    this.frozen.backbone = backbone;
  }

  /**
   * Frees the frozen vision encoder (its tfjs weights, and `onRelease` of another executor set with
   * {@link useBackbone}) for a job that reads cached features only, such as training: the encoder of the paper
   * model holds 1.2 GB that a training step needs. Afterwards {@link encodeVision} rejects; everything after step 1
   * is unchanged. Returns the tfjs bytes freed (0 the second time).
   */
  releaseVisionEncoder(): number {
    const b = this.frozen.backbone;
    const bytes = this.frozen.releaseVision?.() ?? 0;
    this.frozen.backbone = {
      kind: b.kind,
      patchSize: b.patchSize,
      depth: b.depth,
      tokenWidth: b.tokenWidth,
      encode: async () => released(),
      encodeSync: released,
    };
    return bytes;
  }

  /**
   * Under a gradient tape, recompute the frozen text tower's activations block by block in the backward pass
   * instead of keeping them (default true): with Dynamic State Prompts the tower runs two 77-token sequences per
   * image, and its kept activations are most of a training step's memory. The gradient is the same.
   */
  recomputeText = true;

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

function released(): never {
  throw new InvalidStateError(
    'Dual-Anchor encodeVision: the frozen vision encoder was released (releaseVisionEncoder) for a job on cached features; build the model again to encode images',
  );
}

/** What {@link DualAnchorModel} computes before the text anchors (steps 1-3); owned by the forward's output. */
type AnchorStage = Pick<DualAnchorOutput, 'patchFeatures' | 'globalToken' | 'imageAnchors' | 'assignedFeatures' | 'groupLevels' | 'refinedCls'>;

function disposeAnchorStage(a: AnchorStage): void {
  tf.dispose([
    ...a.patchFeatures,
    a.globalToken,
    a.refinedCls,
    ...(a.imageAnchors ? [a.imageAnchors] : []),
    ...(a.assignedFeatures ? [a.assignedFeatures] : []),
  ]);
  a.groupLevels?.forEach(disposeGroupMergingLevel);
}

/**
 * Another executor of the frozen CLIP text tower for inference (`@hgm/onnx`'s `OnnxTextTower` implements it):
 * the unnormalised text embeddings [B, E] of prompts given as token embeddings, as
 * `ClipTextTransformer.forward(...).textEmbeds`.
 */
export interface TextTowerExecutor {
  encode(input: { tokenEmbeddings: tf.Tensor3D; eotIndices: readonly number[]; compoundPrompts?: readonly tf.Tensor2D[] }): Promise<tf.Tensor2D>;
}
