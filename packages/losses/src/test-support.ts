// Test-only support (not exported from the package).
import * as tf from '@tensorflow/tfjs-core';

/** Registers tfjs-core's gradient functions for the tests (the runtime package's start-up does the same). */
export { ensureGradients } from '@hgm/tensor/node';

/** Reads a scalar tensor and disposes it. */
export async function scalarValue(t: tf.Tensor): Promise<number> {
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}
