/**
 * `--executor auto|tfjs|onnx|onnx-webgpu`: what runs the frozen vision encoder. `onnx` builds an ONNX graph of
 * the loaded encoder (`@hgm/onnx`) and runs it in onnxruntime-node (an optional dependency) on the CPU with
 * `--threads`; `onnx-webgpu` runs it on onnxruntime-node's WebGPU execution provider (Dawn, shipped in the
 * Linux x64 package), on whatever adapter Dawn finds; `auto` takes the CPU provider where the runtime loads
 * and otherwise stays on tfjs, saying why. The weights reach the runtime through a temporary file that it
 * maps (large encoders) and the tfjs copies are disposed: with `onnx` / `onnx-webgpu` as soon as they are
 * written, so the two copies never coexist; with `auto` once the session exists, so a session that cannot be
 * made leaves the encoder on tfjs. Either way the model cannot go back to tfjs afterwards. The learnable parts, the text tower and the maps
 * always run on tfjs. Both providers' outputs are within the parity tolerance of tfjs's, so the feature
 * cache shares their entries (the executor is not part of the key).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import type { DualAnchorEngineModel } from '@hgm/engine';
import { executorBackbone } from '@hgm/dual-anchor';
import { loadOnnxRuntime, OnnxImageEncoder, OnnxTextTower } from '@hgm/onnx';
import { CliError, EXIT } from './exit-codes';

export const EXECUTOR_CHOICES = ['auto', 'tfjs', 'onnx', 'onnx-webgpu'] as const;
export type ExecutorRequest = (typeof EXECUTOR_CHOICES)[number];

export const EXECUTOR_FIELD = { type: 'string', choices: EXECUTOR_CHOICES, description: 'executor of the frozen vision encoder' } as const;
export const THREADS_FIELD = { type: 'integer', min: 0, description: 'ONNX Runtime threads (0 = every core)' } as const;
export const EXECUTOR_OPTION_HELP = 'frozen vision encoder on auto, tfjs, onnx or onnx-webgpu (ONNX Runtime, optional package; default auto)';
export const THREADS_OPTION_HELP = 'ONNX Runtime threads (default 0 = every core)';

/** The runtime package to load; `HGM_ONNXRUNTIME_PACKAGE` names another one (to test the fallback). */
export function onnxRuntimePackage(): string {
  return process.env['HGM_ONNXRUNTIME_PACKAGE'] || 'onnxruntime-node';
}

/** What runs the encoder after {@link useExecutor}. */
export interface ExecutorChoice {
  executor: 'tfjs' | 'onnx' | 'onnx-webgpu';
  /** Why tfjs runs when ONNX Runtime was asked for or possible. */
  reason?: string;
  /**
   * What runs the frozen text tower at inference: the ONNX executor for models whose prompts depend on the
   * image (Dynamic State Prompts on HGM's group tokens, the tower runs per image), tfjs otherwise (the text
   * anchors are computed once and kept) and in training (gradients flow through the tower).
   */
  text: 'tfjs' | 'onnx' | 'onnx-webgpu';
  /** Frees the ONNX session (the model's other weights stay with the model, which the caller disposes). */
  dispose(): Promise<void>;
}

/**
 * Switches `engineModel`'s frozen vision step to ONNX Runtime when asked and possible. Prints
 * `executor: onnx (onnxruntime-node 1.30.0, cpu, N threads)`, `executor: onnx-webgpu (onnxruntime-node
 * 1.30.0, webgpu)` or `executor: tfjs (<reason>)`.
 */
export async function useExecutor(
  engineModel: DualAnchorEngineModel,
  request: string,
  options: {
    threads?: number | undefined;
    log: (line: string) => void;
    /** Also run the text tower of inference on ONNX Runtime where it runs per image (detect, eval, serve, worker). */
    text?: boolean;
  },
): Promise<ExecutorChoice> {
  const model = engineModel.model;
  if (!(EXECUTOR_CHOICES as readonly string[]).includes(request)) {
    throw new CliError(`option --executor must be one of ${EXECUTOR_CHOICES.join(', ')}, found ${JSON.stringify(request)}`, EXIT.usage);
  }
  const tfjs = (reason: string): ExecutorChoice => {
    options.log(`executor: tfjs (${reason})`);
    return { executor: 'tfjs', reason, text: 'tfjs', dispose: async () => undefined };
  };
  if (request === 'tfjs') return tfjs('asked for with --executor tfjs');
  // Asked for by name, ONNX Runtime runs the encoder under any backend (it reads its input with `data()` and
  // hands tfjs its outputs, which feed the heads on the GPU under webgpu); under auto the webgpu backend keeps
  // the encoder on tfjs, on the GPU.
  const onnxRequest = request === 'onnx' || request === 'onnx-webgpu';
  if (tf.getBackend() === 'webgpu' && !onnxRequest) return tfjs('ONNX Runtime not used: the backend is webgpu, which keeps the encoder on the GPU');
  const load = loadOnnxRuntime(onnxRuntimePackage());
  if (!load.ok) {
    if (onnxRequest)
      throw new CliError(
        `--executor ${request}: ${load.reason}`,
        EXIT.unavailable,
        'install it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node, or use --executor tfjs',
      );
    return tfjs(`ONNX Runtime not used: ${load.reason}`);
  }
  const source = model.frozen.visionSource;
  if (!source) {
    if (onnxRequest) throw new CliError(`--executor ${request}: this model does not expose its vision encoder`, EXIT.unavailable);
    return tfjs('ONNX Runtime not used: this model does not expose its vision encoder');
  }
  const webgpu = request === 'onnx-webgpu';
  if (webgpu && !load.runtime.providers.includes('webgpu')) {
    throw new CliError(
      `--executor onnx-webgpu: onnxruntime-node ${load.runtime.version} on this platform has no WebGPU execution provider (it has ${load.runtime.providers.join(', ')})`,
      EXIT.unavailable,
      'use --executor onnx',
    );
  }
  const threads = options.threads ?? 0;
  const layers = model.config.layers;
  // Asked for by name, the encoder has no tfjs fallback: its tfjs weights go as soon as they are written for
  // the runtime, and a collection frees them before the runtime maps its copy, so the two never coexist.
  // Under auto they stay until the session exists, so a session that cannot be made leaves tfjs running.
  const release = onnxRequest ? ('before-session' as const) : true;
  const collect = onnxRequest ? garbageCollector() : undefined;
  const sessionOptions = { layers, threads, release, ...(collect ? { collect } : {}), ...(webgpu ? { executionProviders: ['webgpu'] } : {}) };
  let encoder: OnnxImageEncoder;
  try {
    encoder =
      source.kind === 'clip'
        ? await OnnxImageEncoder.fromClip(source.clip, sessionOptions)
        : await OnnxImageEncoder.fromDino(source.encoder as Parameters<typeof OnnxImageEncoder.fromDino>[0], sessionOptions);
  } catch (e) {
    // Under auto, session creation fails before the tfjs weights are released, so the model still runs on tfjs.
    const reason = (e as Error).message.split('\n')[0]!;
    if (onnxRequest) throw new CliError(`--executor ${request}: ONNX Runtime could not load the encoder: ${reason}`, EXIT.unavailable, 'use --executor tfjs');
    return tfjs(`ONNX Runtime not used: it could not load the encoder: ${reason}`);
  }
  const backbone = executorBackbone(encoder, source);
  const name = webgpu ? 'onnx-webgpu' : 'onnx';
  engineModel.useVisionExecutor(backbone, { name, exact: true });
  const where = webgpu ? 'webgpu' : `cpu, ${threads === 0 ? 'every core' : `${threads} thread${threads === 1 ? '' : 's'}`}`;
  let tower: OnnxTextTower | null = null;
  let textNote = '';
  if (options.text && !model.textIsInputIndependent && model.frozen.textSource) {
    // The tower's session is made now, so that a failure shows at start-up and the first image is not slowed.
    try {
      tower = OnnxTextTower.fromClip(model.frozen.textSource, { threads, ...(webgpu ? { executionProviders: ['webgpu'] } : {}) });
      await tower.prepare((model.dsp?.deepTokens ?? model.promptLearner?.deepTokens ?? []).map((t) => t.shape[0]!));
      model.useTextExecutor(tower);
      textNote = '; text tower too';
    } catch (e) {
      await tower?.dispose();
      tower = null;
      const reason = (e as Error).message.split('\n')[0]!;
      if (onnxRequest) {
        await encoder.dispose();
        throw new CliError(`--executor ${request}: ONNX Runtime could not load the text tower: ${reason}`, EXIT.unavailable, 'use --executor tfjs');
      }
      textNote = `; text tower on tfjs: ${reason}`;
    }
  }
  options.log(`executor: ${name} (onnxruntime-node ${load.runtime.version}, ${where}${textNote})`);
  return {
    executor: name,
    text: tower ? name : 'tfjs',
    dispose: async () => {
      if (tower) {
        model.useTextExecutor(null);
        await tower.dispose();
      }
      await encoder.dispose();
    },
  };
}

/**
 * {@link useExecutor} with a long-running command's `--executor` and `--threads` (`hgm serve`, `hgm worker`):
 * when the choice fails, the model is disposed before the error goes on.
 */
export async function executorForModel(
  engineModel: DualAnchorEngineModel,
  o: { executor: string; threads?: number },
  log: (line: string) => void,
): Promise<ExecutorChoice> {
  try {
    return await useExecutor(engineModel, o.executor, { threads: o.threads, log, text: true });
  } catch (e) {
    engineModel.dispose();
    throw e;
  }
}

/**
 * The garbage collector as a function (`globalThis.gc` under `--expose-gc`, otherwise exposed through V8's
 * flag for the contexts made afterwards), or undefined where V8 refuses.
 */
function garbageCollector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
