/**
 * CLIP vision outputs from an ONNX graph (`@hgm/onnx`) in the shape of the tfjs tower's
 * `ClipVisionOutput`, and the Dual-Anchor backbone over it, for the parity kinds' `onnx` executor.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ClipModel, ClipVisionOutput } from '@hgm/backbone';
import type { VisionBackbone } from '@hgm/dual-anchor';
import { OnnxImageEncoder } from '@hgm/onnx';
import { onnxProviders } from './run-parity';

/** The ONNX graph of `model`'s vision tower tapping `layers`, with the raw block outputs. */
export function onnxClipEncoder(model: ClipModel, layers: readonly number[], executor: 'onnx' | 'onnx-webgpu'): Promise<OnnxImageEncoder> {
  return OnnxImageEncoder.fromClip(model, { layers, debugOutputs: true, ...onnxProviders(executor) });
}

/** `ClipVisionTransformer.forward(pixels, { layers, hiddenStates: true })` run by the graph. */
export async function onnxClipForward(onnx: OnnxImageEncoder, model: ClipModel, pixels: tf.Tensor4D, layers: readonly number[]): Promise<ClipVisionOutput> {
  const firstVV = model.config.vision.layers - model.vision.vvAttentionBlocks;
  const names = [
    'image_embeds',
    'global_feature',
    ...layers.flatMap((l) => [`patch_features.${l}`, `hidden.${l}`, ...(l >= firstVV ? [`hidden_vv.${l}`] : [])]),
  ];
  const out = await onnx.run(pixels, names);
  const p = model.config.vision.patchSize;
  return {
    imageEmbeds: out.get('image_embeds') as tf.Tensor2D,
    globalFeature: out.get('global_feature') as tf.Tensor2D,
    projectedTokens: layers.map((l) => out.get(`patch_features.${l}`) as tf.Tensor3D),
    hiddenStates: layers.map((l) => out.get(`hidden.${l}`) as tf.Tensor3D),
    vvHiddenStates: layers.map((l) => (out.get(`hidden_vv.${l}`) as tf.Tensor3D | undefined) ?? null),
    grid: [pixels.shape[2] / p, pixels.shape[3] / p],
  };
}

/** `clipVisionBackbone(vision, 'no-ln-post')` over the graph: `CLS @ proj` and projected patch tokens without CLS. */
export function onnxClipBackbone(onnx: OnnxImageEncoder, model: ClipModel): VisionBackbone {
  return {
    kind: 'clip',
    patchSize: model.config.vision.patchSize,
    depth: model.config.vision.layers,
    tokenWidth: model.config.embedDim,
    encode: (pixels, layers) => onnx.encodeClipTokens(pixels, layers, 'no-ln-post'),
  };
}
