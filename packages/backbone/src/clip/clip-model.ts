import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, SafetensorsReader, type HostTensor, type LoadReport, type RenameRule, InvalidStateError } from '@hgm/tensor';
import type { ClipConfig } from './config';
import { validateClipConfig } from './config';
import { clipParameterShapes, otherTowerKeyPatterns, type ClipTowers } from './parameters';
import { ClipTextTransformer } from './text-transformer';
import type { ClipVisionOptions } from './types';
import { ClipVisionTransformer } from './vision-transformer';

/** Options of {@link ClipModel.create} and {@link ClipModel.fromStateDict}. */
export interface ClipModelOptions extends ClipVisionOptions {
  /** Which towers to build (default both). A vision-only model skips the large token table. */
  towers?: ClipTowers;
}

/** Options of {@link ClipModel.fromStateDict}. */
export interface ClipLoadOptions extends ClipModelOptions {
  /** Rename rules applied to the incoming keys (e.g. Hugging Face names to openai names). */
  rename?: readonly RenameRule[];
  /** Incoming keys to skip silently (regular expressions), e.g. `^prompt_learner\\.`. */
  ignore?: readonly string[];
  /** Label of the source in error messages (default: the reader's name). */
  source?: string;
}

/** CLIP logits: `exp(logit_scale) * norm(image) @ norm(text)ᵀ` and its transpose. */
export interface ClipLogits {
  /** [B_img, B_txt] */
  logitsPerImage: tf.Tensor2D;
  /** [B_txt, B_img] */
  logitsPerText: tf.Tensor2D;
}

/**
 * An OpenAI CLIP (ViT) with frozen weights registered in a {@link ParameterStore} under the openai
 * state-dict names. The towers share the store; {@link dispose} frees it.
 *
 * ```ts
 * const model = await ClipModel.fromStateDict(CLIP_VIT_L_14_336, reader, { vvAttentionBlocks: 19 });
 * const { imageEmbeds, projectedTokens } = model.vision.forward(pixels, { layers: [5, 11, 17, 23] });
 * ```
 */
export class ClipModel {
  private readonly visionTower: ClipVisionTransformer | null;
  private readonly textTower: ClipTextTransformer | null;

  private constructor(
    readonly config: ClipConfig,
    /** Every weight, frozen, by openai name. */
    readonly params: ParameterStore,
    readonly towers: ClipTowers,
    options: ClipVisionOptions,
  ) {
    const get = (name: string) => params.get(name);
    this.visionTower = towers === 'text' ? null : new ClipVisionTransformer(config, get, options, () => this.dispose());
    this.textTower = towers === 'vision' ? null : new ClipTextTransformer(config, get);
  }

  /** A model with zero weights (the shapes of `config`); load values with `params.loadStateDict`. */
  static create(config: ClipConfig, options: ClipModelOptions = {}): ClipModel {
    validateClipConfig(config);
    const towers = options.towers ?? 'both';
    const params = new ParameterStore();
    for (const [name, shape] of clipParameterShapes(config, towers)) params.add(name, tf.zeros(shape), { trainable: false });
    return new ClipModel(config, params, towers, options);
  }

  /**
   * Builds a model and loads an openai/open_clip state dict strictly: any missing, unexpected (not
   * ignored) or mis-shaped key fails the load with a `StateDictError` listing all of them. F16 and BF16
   * tensors are converted by the reader. The keys of a tower not built are ignored.
   *
   * @param entries a safetensors reader (tensors read one at a time) or host tensors by name
   */
  static async fromStateDict(config: ClipConfig, entries: SafetensorsReader | Map<string, HostTensor>, options: ClipLoadOptions = {}): Promise<ClipModel> {
    const model = ClipModel.create(config, options);
    try {
      await model.load(entries, options);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /** Loads weights strictly into this model (see {@link fromStateDict}). */
  async load(entries: SafetensorsReader | Map<string, HostTensor>, options: Omit<ClipLoadOptions, keyof ClipModelOptions> = {}): Promise<LoadReport> {
    return this.params.loadStateDict(entries, {
      strict: true,
      rename: options.rename ?? [],
      ignore: [...otherTowerKeyPatterns(this.towers), ...(options.ignore ?? [])],
      ...(options.source !== undefined ? { source: options.source } : {}),
    });
  }

  /** The vision tower (an {@link ImageEncoder}). Throws for a text-only model. */
  get vision(): ClipVisionTransformer {
    if (!this.visionTower) throw new InvalidStateError(`CLIP ${this.config.name}: this model was built without the vision tower`);
    return this.visionTower;
  }

  /** The text tower. Throws for a vision-only model. */
  get text(): ClipTextTransformer {
    if (!this.textTower) throw new InvalidStateError(`CLIP ${this.config.name}: this model was built without the text tower`);
    return this.textTower;
  }

  /** `logit_scale` (the log of CLIP's inverse temperature). [] */
  get logitScale(): tf.Scalar {
    return this.params.get('logit_scale') as tf.Scalar;
  }

  /**
   * openai `CLIP.forward` on embeddings: cosine similarities scaled by `exp(logit_scale)`.
   * @param imageEmbeds [B_img, E]
   * @param textEmbeds [B_txt, E]
   */
  logits(imageEmbeds: tf.Tensor2D, textEmbeds: tf.Tensor2D): ClipLogits {
    return tf.tidy(() => {
      const img = tf.div(imageEmbeds, tf.norm(imageEmbeds, 'euclidean', -1, true));
      const txt = tf.div(textEmbeds, tf.norm(textEmbeds, 'euclidean', -1, true));
      const logitsPerImage = tf.mul(tf.exp(this.logitScale), tf.matMul(img, txt, false, true)) as tf.Tensor2D;
      return { logitsPerImage, logitsPerText: tf.transpose(logitsPerImage) as tf.Tensor2D };
    });
  }

  /** Frees every weight. The towers are unusable afterwards. */
  dispose(): void {
    this.params.dispose();
  }
}
