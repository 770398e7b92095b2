// Test-only support (not exported from the package).
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';

/**
 * Registers tfjs-core's gradient functions on the engine the tests use. tfjs-core ships them only as ES
 * modules (`dist/register_all_gradients`); loaded beside the Node (CommonJS) build of tfjs-core, those
 * modules carry a second copy of the op handlers, and gradients written with chained ops (AddN's
 * `dy.clone()`) fail. `@tensorflow/tfjs`'s Node bundle registers the same functions against the Node build.
 */
export function ensureGradients(): void {
  if (tf.getGradient(tf.Mean) !== undefined) return;
  createRequire(import.meta.url)('@tensorflow/tfjs');
  if (tf.getGradient(tf.Mean) === undefined) throw new Error('tfjs gradients are still not registered after loading @tensorflow/tfjs');
}

/** Reads a scalar tensor and disposes it. */
export async function scalarValue(t: tf.Tensor): Promise<number> {
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}
