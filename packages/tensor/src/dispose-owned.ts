import * as tf from '@tensorflow/tfjs-core';

/**
 * Disposes every tensor that a result object owns: each `tf.Tensor` reachable through its fields, arrays and
 * nested plain objects, once each (the same tensor held in two fields is disposed once). `tf.Variable`s are
 * never disposed: a result may hold a parameter by reference, and parameters belong to their module.
 * Fields named in `except` are left alone (tensors the result only borrows). `null`/`undefined` fields and
 * non-tensor values (numbers, strings, typed arrays) are skipped.
 *
 * Output types list their tensors once, in their interface; disposing through this walk means a field added
 * later is freed without a hand-written field list to keep in step.
 */
export function disposeOwned<T extends object>(value: T, options: { except?: readonly (keyof T)[] } = {}): void {
  const except = new Set<PropertyKey>(options.except ?? []);
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || v === undefined || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof tf.Tensor) {
      if (!(v instanceof tf.Variable) && !v.isDisposed) v.dispose();
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) walk(item);
      return;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Map || v instanceof Set) return;
    if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return;
    for (const item of Object.values(v)) walk(item);
  };
  seen.add(value);
  for (const [key, item] of Object.entries(value)) if (!except.has(key)) walk(item);
}
