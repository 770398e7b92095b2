import * as tf from '@tensorflow/tfjs-core';
import type { ClipTextTransformer, ClipTokenizer } from '@hgm/backbone';
import type { PromptTextSpec } from '@hgm/prompts';

/** The prompt assembly's view of a CLIP text tower and its BPE tokenizer. */
export function clipPromptTextSpec(text: ClipTextTransformer, tokenizer: ClipTokenizer): PromptTextSpec {
  const { contextLength, width } = text.config.text;
  return {
    width,
    contextLength,
    tokenize: (s) => tokenizer.tokenize(s, { contextLength }),
    embedTokens: (ids) =>
      tf.tidy(() => {
        const e = text.embedTokens(tf.tensor2d(ids, [1, ids.length], 'int32'));
        return tf.reshape(e, [ids.length, width]) as tf.Tensor2D;
      }),
  };
}
