import { residualBlockParameterShapes } from './residual-block';
import type { ClipConfig } from './config';

/** Which towers a CLIP model holds. The text tower alone carries the 49408-row token table. */
export type ClipTowers = 'both' | 'vision' | 'text';

/**
 * The parameters of an openai CLIP in the openai/open_clip state-dict names (`visual.*`, `transformer.*`,
 * `token_embedding.weight`, ...), with their shapes. Key conversion from other layouts (Hugging Face
 * `vision_model.*`) happens before this, by rename rules.
 */
export function clipParameterShapes(config: ClipConfig, towers: ClipTowers = 'both'): [name: string, shape: number[]][] {
  const out: [string, number[]][] = [];
  const { vision: v, text: t, embedDim: e } = config;
  if (towers !== 'text') {
    const g = v.imageSize / v.patchSize;
    out.push(
      ['visual.class_embedding', [v.width]],
      ['visual.positional_embedding', [g * g + 1, v.width]],
      ['visual.proj', [v.width, e]],
      ['visual.conv1.weight', [v.width, 3, v.patchSize, v.patchSize]],
      ['visual.ln_pre.weight', [v.width]],
      ['visual.ln_pre.bias', [v.width]],
    );
    for (let i = 0; i < v.layers; i++) {
      for (const [s, shape] of residualBlockParameterShapes(v.width)) out.push([`visual.transformer.resblocks.${i}.${s}`, shape]);
    }
    out.push(['visual.ln_post.weight', [v.width]], ['visual.ln_post.bias', [v.width]]);
  }
  if (towers !== 'vision') {
    out.push(['positional_embedding', [t.contextLength, t.width]], ['text_projection', [t.width, e]]);
    for (let i = 0; i < t.layers; i++) {
      for (const [s, shape] of residualBlockParameterShapes(t.width)) out.push([`transformer.resblocks.${i}.${s}`, shape]);
    }
    out.push(['token_embedding.weight', [t.vocabSize, t.width]], ['ln_final.weight', [t.width]], ['ln_final.bias', [t.width]]);
  }
  if (towers === 'both') out.push(['logit_scale', []]);
  return out;
}

/** Regular expressions of the keys that belong to the tower a model does not hold (ignored on load). */
export function otherTowerKeyPatterns(towers: ClipTowers): string[] {
  if (towers === 'vision') return ['^(?!visual\\.)'];
  if (towers === 'text') return ['^visual\\.', '^logit_scale$'];
  return [];
}
