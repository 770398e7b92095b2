import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll } from 'vitest';
import { Rng } from '@hgm/tensor';
import { useBackend } from '@hgm/tensor/testing';
import { disposeVisionFeatures } from './vision-features';
import type { LossValues } from './dual-anchor-model';
import { syntheticBatch, tinyModel } from './test-support';

/** Steps compared between backends; then steps over which GPU memory must stay flat. */
const STEPS = 4;
const MEMORY_STEPS = 4;
/**
 * float32 on the GPU sums in other orders than wasm, so the terms agree to float32 rounding, not bit for
 * bit: the worst measured on lavapipe over 4 steps was 1.5e-6 relative (focal); the bound leaves room for
 * other GPUs' reduction orders.
 */
const REL_TOL = 1e-4;

async function train(steps: number, onStep?: (step: number) => void): Promise<LossValues[]> {
  const model = await tinyModel();
  const { pixels, masks, labels } = syntheticBatch(2, 32, 31);
  const features = model.encodeVisionSync(pixels);
  const optimizer = tf.train.adam(1e-3, 0.5, 0.999);
  const rng = new Rng(111);
  const history: LossValues[] = [];
  for (let s = 0; s < steps; s++) {
    const lf = model.lossFunction({ features, masks, labels }, { rng });
    optimizer.minimize(lf.lossFn, false, model.trainableVariables());
    history.push(await lf.read());
    onStep?.(s);
  }
  optimizer.dispose();
  disposeVisionFeatures(features);
  tf.dispose([pixels, masks, labels]);
  model.dispose();
  return history;
}

// Runs where a WebGPU adapter exists (lavapipe in CI); elsewhere both tests are skipped, naming the reason.
describe('training the tiny model on webgpu', () => {
  let unavailable: string | null = null;
  let reference: LossValues[] = [];
  beforeAll(async () => {
    const wasm = await useBackend('wasm');
    if (!wasm.ok) throw new Error(`wasm failed to start: ${wasm.reason}`);
    reference = await train(STEPS);
    const gpu = await useBackend('webgpu');
    unavailable = gpu.ok ? null : gpu.reason;
  }, 300_000);

  it(`gives the loss terms of wasm from the same seed over ${STEPS} Adam steps (relative ${REL_TOL})`, async (ctx) => {
    if (unavailable !== null) return ctx.skip(`webgpu unavailable: ${unavailable}`);
    await tf.setBackend('webgpu');
    const history = await train(STEPS);
    for (let s = 0; s < STEPS; s++) {
      const got = history[s]!;
      const want = reference[s]!;
      for (const k of Object.keys(want) as (keyof LossValues)[]) {
        expect(Number.isFinite(got[k]), `step ${s} ${k} is finite`).toBe(true);
        const rel = Math.abs(got[k] - want[k]) / Math.max(Math.abs(want[k]), 1e-6);
        if (process.env.HGM_VERBOSE) console.log(`step ${s} ${k}: webgpu ${got[k]} wasm ${want[k]} rel ${rel.toExponential(2)}`);
        expect(rel, `step ${s} ${k}: webgpu ${got[k]} vs wasm ${want[k]}`).toBeLessThan(REL_TOL);
      }
    }
  }, 300_000);

  it(`keeps tensors and GPU bytes flat over ${MEMORY_STEPS} training steps`, async (ctx) => {
    if (unavailable !== null) return ctx.skip(`webgpu unavailable: ${unavailable}`);
    await tf.setBackend('webgpu');
    const before = tf.memory().numTensors;
    const samples: { tensors: number; gpuBytes: number }[] = [];
    await train(MEMORY_STEPS + 1, (s) => {
      // after the first step (which creates the optimizer's slots), each step must leave memory as it found it
      if (s === 0) return;
      const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      samples.push({ tensors: m.numTensors, gpuBytes: m.numBytesInGPU ?? 0 });
    });
    expect(samples.length).toBe(MEMORY_STEPS);
    for (const s of samples) {
      expect(s.tensors).toBe(samples[0]!.tensors);
      expect(s.gpuBytes).toBeLessThanOrEqual(samples[0]!.gpuBytes);
    }
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);
});
