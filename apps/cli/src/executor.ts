/**
 * `--executor auto|tfjs|onnx`: what runs the frozen vision encoder. `onnx` builds an ONNX graph of the loaded
 * encoder (`@hgm/onnx`) and runs it in onnxruntime-node (an optional dependency) on the CPU with `--threads`;
 * `auto` does so where the runtime loads and otherwise stays on tfjs, saying why. The learnable parts, the
 * text tower and the maps always run on tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DualAnchorModel, VisionBackbone } from '@hgm/dual-anchor';
import { imageEncoderBackbone } from '@hgm/dual-anchor';
import { loadOnnxRuntime, OnnxImageEncoder } from '@hgm/onnx';
import { CliError, EXIT } from './exit-codes';

export const EXECUTOR_CHOICES = ['auto', 'tfjs', 'onnx'] as const;
export type ExecutorRequest = (typeof EXECUTOR_CHOICES)[number];

export const EXECUTOR_FIELD = { type: 'string', choices: EXECUTOR_CHOICES, description: 'executor of the frozen vision encoder' } as const;
export const THREADS_FIELD = { type: 'integer', min: 0, description: 'ONNX Runtime threads (0 = every core)' } as const;

/** The runtime package to load; `HGM_ONNXRUNTIME_PACKAGE` names another one (to test the fallback). */
function runtimePackage(): string {
  return process.env['HGM_ONNXRUNTIME_PACKAGE'] || 'onnxruntime-node';
}

/** What runs the encoder after {@link useExecutor}. */
export interface ExecutorChoice {
  executor: 'tfjs' | 'onnx';
  /** Why tfjs runs when ONNX Runtime was asked for or possible. */
  reason?: string;
  /** Frees the ONNX session (the model's own weights stay with the model). */
  dispose(): void;
}

/**
 * Switches `model`'s frozen vision step to ONNX Runtime when asked and possible. Prints
 * `executor: onnx (onnxruntime-node 1.30.0, cpu, N threads)` or `executor: tfjs (<reason>)`.
 */
export function useExecutor(model: DualAnchorModel, request: string, options: { threads?: number; log: (line: string) => void }): ExecutorChoice {
  if (!(EXECUTOR_CHOICES as readonly string[]).includes(request)) {
    throw new CliError(`option --executor must be one of ${EXECUTOR_CHOICES.join(', ')}, found ${JSON.stringify(request)}`, EXIT.usage);
  }
  const tfjs = (reason: string): ExecutorChoice => {
    options.log(`executor: tfjs (${reason})`);
    return { executor: 'tfjs', reason, dispose: () => undefined };
  };
  if (request === 'tfjs') return tfjs('asked for with --executor tfjs');
  // The ONNX encoder reads its input and positional tables from tfjs synchronously, which the webgpu backend
  // cannot do in Node; there the encoder stays on tfjs (and on the GPU).
  if (tf.getBackend() === 'webgpu') {
    if (request === 'onnx') throw new CliError('--executor onnx: not available with --backend webgpu (the ONNX encoder reads tfjs tensors synchronously)', EXIT.usage, 'use --backend wasm or cpu with --executor onnx');
    return tfjs('ONNX Runtime not used: the backend is webgpu, which keeps the encoder on the GPU');
  }
  const load = loadOnnxRuntime(runtimePackage());
  if (!load.ok) {
    if (request === 'onnx') throw new CliError(`--executor onnx: ${load.reason}`, EXIT.unavailable, 'install it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node, or use --executor tfjs');
    return tfjs(`ONNX Runtime not used: ${load.reason}`);
  }
  const source = model.frozen.visionSource;
  if (!source) {
    if (request === 'onnx') throw new CliError('--executor onnx: this model does not expose its vision encoder', EXIT.unavailable);
    return tfjs('ONNX Runtime not used: this model does not expose its vision encoder');
  }
  const threads = options.threads ?? 0;
  const layers = model.config.layers;
  let encoder: OnnxImageEncoder;
  let backbone: VisionBackbone;
  if (source.kind === 'clip') {
    encoder = OnnxImageEncoder.fromClip(source.clip, { layers, threads });
    const e = encoder;
    const g = source.globalToken;
    backbone = { kind: 'clip', patchSize: e.info.patchSize, depth: e.info.numLayers, tokenWidth: e.info.outputDim, encode: (pixels, ls) => e.encodeClipTokens(pixels, ls, g) };
  } else {
    encoder = OnnxImageEncoder.fromDino(source.encoder as Parameters<typeof OnnxImageEncoder.fromDino>[0], { layers, threads });
    backbone = imageEncoderBackbone(encoder, source.kind);
  }
  model.useBackbone(backbone);
  options.log(`executor: onnx (onnxruntime-node ${load.runtime.version}, cpu, ${threads === 0 ? 'every core' : `${threads} thread${threads === 1 ? '' : 's'}`})`);
  return { executor: 'onnx', dispose: () => encoder.dispose() };
}
