/**
 * One optimiser step's gradients computed in micro-batches: each micro-batch's gradients, weighted by its share
 * of the batch, are summed. Every loss term of the Dual-Anchor loss is a mean over images, and each micro-batch
 * draws its rows of the batch's noise ({@link BatchRowsRng}), so the sum is the gradient of the whole batch at
 * the memory of one micro-batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchRowsRng, ConfigError, Rng } from '@hgm/tensor';
import type { BatchLoss } from './engine-model';

/** The inputs of one micro-batch: its loss for a noise source, and what frees them. */
export interface MicroBatchInputs {
  loss(rng: Rng): BatchLoss;
  dispose(): void;
}

export interface AccumulatedGradients {
  /** Summed weighted gradients by parameter name (the caller disposes them, e.g. after `NamedAdam.apply`). */
  grads: Map<string, tf.Tensor>;
  /** The batch's loss (the weighted sum of the micro-batches' losses). */
  loss: number;
  terms: Record<string, number>;
  microBatches: number;
}

/**
 * Computes the gradients of a batch of `batchLength` images in micro-batches of `microBatch`.
 * @param trainable parameter name -> variable
 * @param noiseSeed the batch's noise seed: a whole batch in one pass gets `new Rng(noiseSeed)`, a micro-batch its rows of it
 * @param inputsFor the inputs of rows `offset .. offset + rows - 1` (loaded one micro-batch at a time)
 */
export async function accumulateGradients(
  trainable: ReadonlyMap<string, tf.Variable>,
  batchLength: number,
  microBatch: number,
  noiseSeed: string,
  inputsFor: (offset: number, rows: number) => Promise<MicroBatchInputs> | MicroBatchInputs,
): Promise<AccumulatedGradients> {
  if (!Number.isInteger(microBatch) || microBatch < 1) throw new ConfigError(`micro-batch must be a positive integer, got ${microBatch}`);
  const vars = [...trainable.values()];
  let sum: Map<string, tf.Tensor> | null = null;
  let loss = 0;
  let count = 0;
  const terms: Record<string, number> = {};
  try {
    for (let offset = 0; offset < batchLength; offset += microBatch) {
      const rows = Math.min(microBatch, batchLength - offset);
      const share = rows / batchLength;
      const rng = rows === batchLength ? new Rng(noiseSeed) : new BatchRowsRng(noiseSeed, batchLength, offset, rows);
      const inputs = await inputsFor(offset, rows);
      let termTensors: Record<string, tf.Scalar> = {};
      let grads: Record<string, tf.Tensor> = {};
      try {
        const r = tf.variableGrads(() => {
          const out = inputs.loss(rng);
          termTensors = Object.fromEntries(Object.entries(out.terms).map(([k, v]) => [k, tf.keep(v)]));
          return share === 1 ? out.total : tf.mul(out.total, share);
        }, vars);
        grads = r.grads;
        loss += (await r.value.data())[0]!;
        r.value.dispose();
        for (const [k, v] of Object.entries(termTensors)) terms[k] = (terms[k] ?? 0) + (await v.data())[0]! * share;
      } finally {
        inputs.dispose();
        for (const t of Object.values(termTensors)) t.dispose();
      }
      count++;
      if (!sum) {
        sum = new Map();
        for (const [name, v] of trainable) if (grads[v.name]) sum.set(name, grads[v.name]!);
        continue;
      }
      for (const [name, v] of trainable) {
        const g = grads[v.name];
        if (!g) continue;
        const previous = sum.get(name);
        if (!previous) sum.set(name, g);
        else {
          sum.set(name, tf.add(previous, g));
          previous.dispose();
          g.dispose();
        }
      }
    }
  } catch (e) {
    if (sum) for (const g of sum.values()) g.dispose();
    throw e;
  }
  return { grads: sum ?? new Map(), loss, terms, microBatches: count };
}
