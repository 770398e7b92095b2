/**
 * Gradient checkpointing for tfjs: a function whose forward pass keeps nothing for the backward pass but its
 * inputs, and whose backward pass runs it again under a tape of its own to take the gradient. Peak memory of a
 * chain of such blocks is one block's tape plus the blocks' inputs, instead of every intermediate of every block;
 * the price is one more forward pass of each block. The gradient is the same (the same kernels run again).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@hgm/tensor';

interface EngineTapeState {
  state: { activeTape: unknown; gradientDepth: number };
}

/**
 * Wraps `f` so that its intermediates are recomputed in the backward pass. `f` takes the differentiable inputs
 * and constant tensors (a mask: they are kept for the backward pass and get no gradient) and returns one tensor.
 * It must depend differentiably on its inputs only: a trainable variable it reads from a closure would get no
 * gradient (frozen weights, such as a backbone's, are what it is for), and a tensor it reads from a closure must
 * outlive the backward pass (pass tensors made in the caller's `tidy` as constants). Without a gradient tape it
 * is `f`.
 * @throws ConfigError (when the gradient is taken) if an input does not reach the output
 */
export function recomputeInBackward(
  f: (inputs: tf.Tensor[], constants: tf.Tensor[]) => tf.Tensor,
): (inputs: tf.Tensor[], constants?: tf.Tensor[]) => tf.Tensor {
  return (inputs, constants = []) => {
    if (!tf.engine().isTapeOn()) return f(inputs, constants);
    const n = inputs.length;
    const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const xs = args.slice(0, n) as tf.Tensor[];
      save([...xs, ...constants]);
      return {
        value: f(xs, constants),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          // tfjs keeps one tape per engine: a gradient taken inside a backward pass replaces the outer pass's tape
          // and clears it at its end, so the outer one is put back (its nodes are disposed by the outer pass).
          const engine = tf.engine() as unknown as EngineTapeState;
          const outerTape = engine.state.activeTape;
          const outerDepth = engine.state.gradientDepth;
          engine.state.gradientDepth = 0;
          try {
            const kept = saved.slice(n);
            const grads = tf.grads((...xx: tf.Tensor[]) => f(xx, kept))(saved.slice(0, n), dy as tf.Tensor);
            if (grads.some((x) => x == null)) throw new ConfigError('recomputeInBackward: an input does not reach the output');
            return grads;
          } finally {
            engine.state.activeTape = outerTape;
            engine.state.gradientDepth = outerDepth;
          }
        },
      };
    });
    return g(...inputs);
  };
}
