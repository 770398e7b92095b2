import * as tf from '@tensorflow/tfjs-core';
import type { PromptTextSpec } from './text-spec';
import { ConfigError } from '@hgm/tensor';

/**
 * A small word-level {@link PromptTextSpec} for tests and examples: words (and ".") map to ids in order of
 * first sight, the start token is `vocabSize - 2` and the end token `vocabSize - 1` (the largest id, as in
 * CLIP), and embeddings come from the given table.
 * @param table [vocabSize, Dt]
 */
export function wordLevelTextSpec(table: tf.Tensor2D, contextLength: number): PromptTextSpec {
  const [vocabSize, width] = table.shape;
  const words = new Map<string, number>();
  return {
    width,
    contextLength,
    tokenize(text: string): Int32Array {
      const ids = new Int32Array(contextLength);
      const tokens = text.toLowerCase().replace(/\./g, ' . ').split(/\s+/).filter(Boolean);
      if (tokens.length + 2 > contextLength) throw new ConfigError(`text ${JSON.stringify(text)} is longer than ${contextLength - 2} tokens`);
      ids[0] = vocabSize - 2;
      tokens.forEach((w, i) => {
        if (!words.has(w)) {
          if (words.size + 1 >= vocabSize - 2) throw new ConfigError('word-level spec: vocabulary is full');
          words.set(w, words.size + 1);
        }
        ids[i + 1] = words.get(w)!;
      });
      ids[tokens.length + 1] = vocabSize - 1;
      return ids;
    },
    embedTokens(ids: Int32Array): tf.Tensor2D {
      return tf.tidy(() => tf.gather(table, tf.tensor1d(ids, 'int32')) as tf.Tensor2D);
    },
  };
}
