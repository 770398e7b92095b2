import { clipParameterShapes, dinov2StateDictKeys, dinov3StateDictKeys } from '@hgm/backbone';
import { AnomalyClipPromptLearner, DynamicStatePrompts } from '@hgm/prompts';
import { FeatureAdapters } from './adapters';
import { resolveConfig, usesAnchors, type DualAnchorConfig, type DualAnchorConfigInput } from './config';

/** Scalar counts of a model, from its configuration alone (no weights allocated). Buffers are not parameters. */
export interface ParameterCounts {
  total: number;
  trainable: number;
  frozen: number;
  /** Frozen: `backbone` (vision), `text` (CLIP text tower, plus `logit_scale` when CLIP is the backbone). Learnable: the rest. */
  modules: {
    backbone: number;
    text: number;
    adapters: number;
    anchors: number;
    hgm: number;
    refiner: number;
    dsp: number;
    prompts: number;
  };
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Counts parameters for a configuration (resolved or partial). */
export function countParameters(input: DualAnchorConfig | DualAnchorConfigInput): ParameterCounts {
  const c = resolveConfig(input as DualAnchorConfigInput);
  const d = c.clip.embedDim;
  const dt = c.clip.text.width;
  let backbone: number;
  let tokenWidth: number;
  if (c.backbone.kind === 'clip') {
    backbone = clipParameterShapes(c.clip, 'vision').reduce((n, [, s]) => n + product(s), 0);
    tokenWidth = d;
  } else {
    const keys = c.backbone.kind === 'dinov3' ? dinov3StateDictKeys(c.backbone.config) : dinov2StateDictKeys(c.backbone.config);
    backbone = keys.filter((k) => !k.buffer).reduce((n, k) => n + product(k.shape), 0);
    tokenWidth = c.backbone.config.embedDim;
  }
  const text = clipParameterShapes(c.clip, 'text').reduce((n, [, s]) => n + product(s), 0) + (c.backbone.kind === 'clip' ? 1 : 0);
  const adapters = c.backbone.kind === 'clip' ? 0 : FeatureAdapters.parameterCount(tokenWidth, d, c.layers.length);
  const anchors = !c.modules.hgm && usesAnchors(c) ? 2 * d : 0;
  let hgm = 0;
  if (c.modules.hgm) {
    const h = c.hgm;
    const lin = (i: number, o: number) => i * o + o;
    const hidden = Math.trunc(h.mlpRatio * d);
    const perLevel =
      (h.initCrossAttention ? 4 * d + 4 * lin(d, d) : 0) + (h.assignPreNorm ? 4 * d : 0) + 4 * lin(d, d) + 2 * d + lin(d, hidden) + lin(hidden, d);
    hgm = h.groupsPerLevel[0]! * d + h.groupsPerLevel.length * perLevel;
  }
  const refiner = c.modules.refiner ? 4 + 2 * d + d : 0;
  const dsp = c.modules.dsp ? DynamicStatePrompts.parameterCount(c.dsp, dt, d) : 0;
  const prompts = c.modules.dsp ? 0 : AnomalyClipPromptLearner.parameterCount(c.staticPrompts, dt);
  const trainable = adapters + anchors + hgm + refiner + dsp + prompts;
  const frozen = backbone + text;
  return { total: trainable + frozen, trainable, frozen, modules: { backbone, text, adapters, anchors, hgm, refiner, dsp, prompts } };
}
