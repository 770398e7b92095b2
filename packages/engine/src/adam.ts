import * as tf from '@tensorflow/tfjs-core';
import type { WritableTensor, HostTensor } from '@hgm/tensor';
import { CheckpointMismatchError } from '@hgm/tensor';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** The method's training defaults (AnomalyCLIP's): lr 1e-3, betas (0.5, 0.999). */
export const DEFAULT_ADAM: AdamConfig = { learningRate: 1e-3, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };

/**
 * Adam with PyTorch's update rule (eps added to sqrt(v_hat)), keyed by parameter NAME so that its state
 * can be saved in a checkpoint and restored in another process exactly.
 */
export class NamedAdam {
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    /** Parameter name -> variable to update. */
    private readonly params: Map<string, tf.Variable>,
    readonly config: AdamConfig = DEFAULT_ADAM,
  ) {
    for (const [name, p] of params) {
      for (const store of [this.m, this.v]) {
        const zeros = tf.zerosLike(p);
        store.set(name, tf.variable(zeros, false));
        zeros.dispose();
      }
    }
  }

  /** Number of updates applied so far. */
  get iterations(): number {
    return this.step;
  }

  /**
   * Computes the gradient of `lossFn` with respect to every parameter, applies one update and returns the
   * loss value.
   */
  async minimize(lossFn: () => tf.Scalar): Promise<number> {
    const vars = [...this.params.values()];
    const { value, grads } = tf.variableGrads(lossFn, vars);
    const byVar = new Map<string, tf.Tensor>();
    for (const [name, p] of this.params) {
      const g = grads[p.name];
      if (g) byVar.set(name, g);
    }
    this.apply(byVar);
    const loss = (await value.data())[0]!;
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    return loss;
  }

  /** Applies one update with the given gradients (by parameter name; absent ones are left unchanged). */
  apply(grads: Map<string, tf.Tensor>): void {
    this.step += 1;
    const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps } = this.config;
    const bc1 = 1 - b1 ** this.step;
    const bc2 = 1 - b2 ** this.step;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads.get(name);
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const mNew = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const vNew = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(mNew);
        v.assign(vNew);
        const denom = tf.add(tf.div(tf.sqrt(vNew), Math.sqrt(bc2)), eps);
        p.assign(tf.sub(p, tf.mul(tf.div(mNew, denom), lr / bc1)));
      }
    });
  }

  /** The optimiser state as named tensors (`adam.m.<param>`, `adam.v.<param>`) plus the step count. */
  async state(): Promise<{ tensors: Map<string, WritableTensor>; step: number }> {
    const tensors = new Map<string, WritableTensor>();
    for (const [name, m] of this.m) tensors.set(`adam.m.${name}`, { dtype: 'F32', shape: [...m.shape], data: Float32Array.from(await m.data()) });
    for (const [name, v] of this.v) tensors.set(`adam.v.${name}`, { dtype: 'F32', shape: [...v.shape], data: Float32Array.from(await v.data()) });
    return { tensors, step: this.step };
  }

  /** Restores a state saved by {@link state}; every parameter's moments must be present with the right shape. */
  restore(tensors: Map<string, HostTensor>, step: number, source = 'checkpoint'): void {
    const problems: string[] = [];
    for (const [name, p] of this.params) {
      for (const kind of ['m', 'v'] as const) {
        const t = tensors.get(`adam.${kind}.${name}`);
        if (!t) problems.push(`missing adam.${kind}.${name}`);
        else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))
          problems.push(`adam.${kind}.${name} has shape [${t.shape}], expected [${p.shape}]`);
      }
    }
    if (problems.length > 0) throw new CheckpointMismatchError(source, `${source}: optimiser state does not match the model:\n  ${problems.join('\n  ')}`);
    tf.tidy(() => {
      for (const [name] of this.params) {
        for (const [kind, store] of [
          ['m', this.m],
          ['v', this.v],
        ] as const) {
          const t = tensors.get(`adam.${kind}.${name}`)!;
          store.get(name)!.assign(tf.tensor(t.data as Float32Array, t.shape, 'float32'));
        }
      }
    });
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
