/**
 * Parity kind `openai-clip`: builds CLIP from the folder's `config.json` constructor arguments and
 * `weights.safetensors`, `weights.pth` or `weights.pt` (strict load), runs `inputs.safetensors` and compares every tensor of
 * `outputs.safetensors`. Layer indices come from the output names; the input size from `pixel_values`.
 * With the `onnx` executor the vision tower's outputs come from its ONNX graph (the text tower stays tfjs).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostToTensor, type HostTensor } from '@hgm/tensor';
import type { Fixture } from '@hgm/tensor/testing';
import { ClipModel, clipConfigFromConstructorArgs, disposeClipTextOutput, disposeClipVisionOutput, type OpenaiClipConstructorArgs } from '@hgm/backbone';
import { OnnxImageEncoder, OnnxTextTower } from '@hgm/onnx';
import { compareOutput, DEFAULT_TOLERANCE, type ParityRow } from '../compare';
import { isOnnx, onnxProviders, type ParityOptions } from '../run-parity';

/** 0-based indices named by outputs `<prefix>.{i}`. */
function indicesOf(names: Iterable<string>, prefix: string): number[] {
  const out = new Set<number>();
  const re = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d+)$`);
  for (const n of names) {
    const m = re.exec(n);
    if (m) out.add(Number(m[1]));
  }
  return [...out].sort((a, b) => a - b);
}

export async function runFixture(fixture: Fixture, options: ParityOptions = {}): Promise<ParityRow[]> {
  const config = await fixture.json<{ constructor: OpenaiClipConstructorArgs }>('config.json');
  const clipConfig = clipConfigFromConstructorArgs(config.constructor, { name: fixture.folder });
  const reader = await fixture.weightsFile();
  let model: ClipModel;
  try {
    model = await ClipModel.fromStateDict(clipConfig, await reader.readAllHost());
  } finally {
    await reader.close();
  }
  const inputs = await fixture.tensors('inputs.safetensors');
  const expected = await fixture.tensors('outputs.safetensors');
  const need = (m: Map<string, HostTensor>, k: string) => {
    const t = m.get(k);
    if (!t) throw new Error(`${fixture.folder}/inputs.safetensors: no tensor ${k}`);
    return t;
  };
  const names = [...expected.keys()];
  const visionLayers = [...new Set([...indicesOf(names, 'vision_hidden'), ...indicesOf(names, 'vision_patch_proj')])].sort((a, b) => a - b);
  const textLayers = indicesOf(names, 'text_hidden');

  const pixels = hostToTensor(need(inputs, 'pixel_values')) as tf.Tensor4D;
  const ids = hostToTensor(need(inputs, 'input_ids')) as tf.Tensor2D;
  const produced = new Map<string, tf.Tensor>();
  const vision = model.vision.forward(pixels, { layers: visionLayers, hiddenStates: true, lnPre: true });
  const text = model.text.forward({ tokenIds: ids }, { hiddenStates: textLayers });
  const logits = model.logits(vision.imageEmbeds, text.textEmbeds);
  produced.set('image_embeds', vision.imageEmbeds);
  produced.set('text_embeds', text.textEmbeds);
  produced.set('logits_per_image', logits.logitsPerImage);
  produced.set('logits_per_text', logits.logitsPerText);
  produced.set('vision_ln_pre', vision.lnPre!);
  visionLayers.forEach((l, j) => {
    produced.set(`vision_hidden.${l}`, vision.hiddenStates![j]!);
    // CLS excluded, as openai's patch tokens.
    produced.set(`vision_patch_proj.${l}`, tf.slice(vision.projectedTokens[j]!, [0, 1, 0], [-1, -1, -1]));
  });
  textLayers.forEach((l, j) => produced.set(`text_hidden.${l}`, text.hiddenStates![j]!));
  produced.set('visual_positional_embedding_interpolated', model.vision.positionalEmbeddingFor(vision.grid));
  if (isOnnx(options.executor)) {
    const onnx = await OnnxImageEncoder.fromClip(model, { layers: visionLayers, debugOutputs: true, ...onnxProviders(options.executor) });
    try {
      const out = await onnx.run(pixels, ['image_embeds', 'ln_pre', ...visionLayers.flatMap((l) => [`hidden.${l}`, `patch_features.${l}`])]);
      const replace = (name: string, t: tf.Tensor) => {
        produced.get(name)?.dispose();
        produced.set(name, t);
      };
      replace('image_embeds', out.get('image_embeds')!);
      replace('vision_ln_pre', out.get('ln_pre')!);
      for (const l of visionLayers) {
        replace(`vision_hidden.${l}`, out.get(`hidden.${l}`)!);
        replace(`vision_patch_proj.${l}`, tf.slice(out.get(`patch_features.${l}`)!, [0, 1, 0], [-1, -1, -1]));
        out.get(`patch_features.${l}`)!.dispose();
      }
      // the text tower's ONNX graph, from the token embeddings (EOT = argmax of the ids)
      const tower = OnnxTextTower.fromClip(model, onnxProviders(options.executor));
      let textOnnx: tf.Tensor2D;
      try {
        const emb = model.text.embedTokens(ids);
        const eot = tf.argMax(ids, -1);
        textOnnx = await tower.encode({ tokenEmbeddings: emb, eotIndices: Array.from((await eot.data()) as Int32Array) });
        tf.dispose([emb, eot]);
      } finally {
        await tower.dispose();
      }
      replace('text_embeds', textOnnx);
      const logitsOnnx = model.logits(out.get('image_embeds') as tf.Tensor2D, textOnnx);
      replace('logits_per_image', logitsOnnx.logitsPerImage);
      replace('logits_per_text', logitsOnnx.logitsPerText);
    } finally {
      await onnx.dispose();
    }
  }

  const rows: ParityRow[] = [];
  try {
    for (const [name, exp] of expected) rows.push(await compareOutput(name, produced.get(name), exp, DEFAULT_TOLERANCE));
  } finally {
    for (const t of produced.values()) t.dispose();
    disposeClipVisionOutput(vision);
    disposeClipTextOutput(text);
    pixels.dispose();
    ids.dispose();
    model.dispose();
  }
  return rows;
}
