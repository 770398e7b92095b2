/**
 * A corrected int32 `Transpose` for tfjs-backend-webgpu 4.22. Its TransposeProgram passes the input element
 * straight to `setOutputAtIndex`, which takes an f32; for an int32 input the element is an i32, and WGSL
 * compilers with strict type checks (Chrome 141+'s Tint, recent Dawn) reject the shader, so the transpose
 * yields garbage (tensorflow/tfjs#8638). Hierarchical Group Merging transposes int32 one-hot assignments.
 *
 * The replacement runs a transpose program that reads the int32 element as f32 (exact below 2^24) and writes
 * the tensor's dtype: int32, or a real float32 buffer for an int32 tensor that `tf.cast` relabelled float32
 * (the cast keeps the int32 buffer, so the original program fails on it too). Tensors whose buffer holds
 * float32 go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

interface WebgpuUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, outputShape: number[], workgroupSize: [number, number, number], elementsPerThread: [number, number, number]): [number, number, number];
}

interface WebgpuBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], outputDtype: tf.DataType): tf.TensorInfo;
  tensorMap: { get(dataId: object): { dtype: tf.DataType } | undefined };
}

const COORDS = ['x', 'y', 'z', 'w', 'u', 'v'];
const COORD_TYPES = ['i32', 'i32', 'vec2<i32>', 'vec3<i32>', 'vec4<i32>', 'vec5', 'vec6'];

/** The WebGPU program: out[coords] = A[coords permuted], with the i32 element converted to f32 for setOutputAtIndex. */
function int32TransposeProgram(aShape: number[], perm: number[], util: WebgpuUtil) {
  const outputShape = perm.map((p) => aShape[p]!);
  const workgroupSize: [number, number, number] = [64, 1, 1];
  const dispatchLayout = util.flatDispatchLayout(outputShape);
  const switched: string[] = new Array(perm.length);
  perm.forEach((p, i) => (switched[p] = `coords.${COORDS[i]}`));
  return {
    variableNames: ['A'],
    outputShape,
    workgroupSize,
    dispatchLayout,
    dispatch: util.computeDispatch(dispatchLayout, outputShape, workgroupSize, [1, 1, 1]),
    size: true,
    shaderKey: `hgm_int32_transpose_${perm.join('_')}`,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          setOutputAtIndex(index, f32(A[getIndexFromCoords${outputShape.length}D(${COORD_TYPES[outputShape.length]}(${switched.join(',')}), uniforms.aShape)]));
        }
      }
    `,
  };
}

/**
 * Replaces the webgpu `Transpose` kernel by one that handles int32 inputs (ranks 2 to 6); other inputs go to
 * the original kernel. Call once after the webgpu backend is registered; calling again does nothing.
 * @param webgpuModule the imported `@tensorflow/tfjs-backend-webgpu` module (for its `webgpu_util`)
 */
export function registerWebgpuInt32Transpose(webgpuModule: unknown): void {
  const util = (webgpuModule as { webgpu_util?: WebgpuUtil }).webgpu_util;
  if (!util) throw new Error('@tensorflow/tfjs-backend-webgpu: its webgpu_util export is missing; cannot correct the int32 Transpose kernel');
  const original = tf.getKernel('Transpose', 'webgpu');
  if (!original) throw new Error('the webgpu backend has no Transpose kernel registered');
  if ((original as { hgmInt32Transpose?: boolean }).hgmInt32Transpose) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const x = args.inputs['x'] as tf.TensorInfo;
    const perm = (args.attrs as { perm: number[] }).perm;
    const backend = args.backend as unknown as WebgpuBackendLike;
    // A float32 tensor cast from int32 keeps the int32 buffer (the cast only relabels it): its shader reads i32 too.
    const stored = backend.tensorMap.get(x.dataId)?.dtype ?? x.dtype;
    if (stored !== 'int32' || x.shape.length < 2 || x.shape.length > 6) return original.kernelFunc(args);
    return backend.runWebGPUProgram(int32TransposeProgram(x.shape, perm, util), [x], x.dtype === 'float32' ? 'float32' : 'int32');
  };
  tf.unregisterKernel('Transpose', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc, hgmInt32Transpose: true } as tf.KernelConfig);
}
