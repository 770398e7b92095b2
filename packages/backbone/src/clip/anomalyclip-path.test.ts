/**
 * The AnomalyCLIP paths of the CLIP towers (V-V attention in the last blocks, compound text prompts,
 * the global feature without ln_post, resized positional table) against fixtures/clip/anomalyclip-tiny,
 * native and `_interp` variants. The prompt learner itself lives elsewhere; here its stored pieces are
 * concatenated as the reference does.
 */
import { expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { hostToTensor, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, readFixture, repoFixturesDir, useBackend, type Fixture } from '@hgm/tensor/testing';
import { ClipModel } from './clip-model';
import { clipConfigFromConstructorArgs, type OpenaiClipConstructorArgs } from './config';
import { disposeClipTextOutput, disposeClipVisionOutput, vvBlocksFromDpamLayer } from './types';

interface AnomalyClipConfig {
  constructor: OpenaiClipConstructorArgs;
  hyperparameters: Record<string, unknown> & { DPAM_layer: number; 'features_list (1-based block indices)': number[] };
  AnomalyCLIP_parameters: { learnabel_text_embedding_depth: number };
}

const TOL = { atol: 1e-4, rtol: 1e-4 };

describeBackends('AnomalyCLIP paths of the CLIP towers (anomalyclip-tiny)', ({ backend, it }) => {
  let fixture: Fixture;
  let config: AnomalyClipConfig;
  let model: ClipModel;
  let weights: Map<string, HostTensor>;
  beforeAll(async () => {
    if (!(await useBackend(backend)).ok) return;
    fixture = await readFixture(join(repoFixturesDir(), 'clip', 'anomalyclip-tiny'));
    config = await fixture.json<AnomalyClipConfig>('config.json');
    weights = await fixture.tensors('weights.safetensors');
    model = await ClipModel.fromStateDict(clipConfigFromConstructorArgs(config.constructor), weights, {
      vvAttentionBlocks: vvBlocksFromDpamLayer(config.hyperparameters.DPAM_layer),
      ignore: ['^prompt_learner\\.'],
    });
  });
  afterAll(() => model?.dispose());

  it('builds the V-V blocks AnomalyCLIP replaces', () => {
    const blocks = Array.from({ length: model.config.vision.layers }, (_, i) => i).filter((i) => i >= model.vision.firstVVBlock);
    expect(blocks).toEqual(config.hyperparameters.DPAM_replaced_blocks_0based);
  });

  for (const variant of ['', '_interp']) {
    it(`vision: hidden, V-V hidden, patch features, raw global feature, positional table${variant}`, async () => {
      const inputs = await fixture.tensors(`inputs${variant}.safetensors`);
      const outputs = await fixture.tensors(`outputs${variant}.safetensors`);
      const pixels = hostToTensor(inputs.get('pixel_values')!) as tf.Tensor4D;
      const featureLayers = config.hyperparameters['features_list (1-based block indices)'].map((l) => l - 1);
      const all = Array.from({ length: model.config.vision.layers }, (_, i) => i);
      const out = model.vision.forward(pixels, { layers: all, hiddenStates: true });
      const features = model.vision.forward(pixels, { layers: featureLayers });
      const pos = model.vision.positionalEmbeddingFor(out.grid);
      try {
        for (const l of all) {
          await expectClose(out.hiddenStates![l]!, outputs.get(`vision_hidden.${l}`)!, { ...TOL, name: `vision_hidden.${l}` });
          const vv = outputs.get(`vision_hidden_vv.${l}`);
          if (vv) await expectClose(out.vvHiddenStates![l]!, vv, { ...TOL, name: `vision_hidden_vv.${l}` });
          else expect(out.vvHiddenStates![l]).toBeNull();
        }
        for (let j = 0; j < featureLayers.length; j++) {
          await expectClose(features.projectedTokens[j]!, outputs.get(`patch_features.${j}`)!, { ...TOL, name: `patch_features.${j}` });
        }
        await expectClose(out.globalFeature, outputs.get('image_features_raw')!, { ...TOL, name: 'image_features_raw' });
        await expectClose(pos, outputs.get('visual_positional_embedding_used')!, { ...TOL, name: 'visual_positional_embedding_used' });
      } finally {
        disposeClipVisionOutput(out);
        disposeClipVisionOutput(features);
        tf.dispose([pixels, pos]);
      }
    });
  }

  it('text: compound prompts replace tokens 1..n in the first blocks; hidden states and raw features', async () => {
    const outputs = await fixture.tensors('outputs.safetensors');
    const inputs = await fixture.tensors('inputs.safetensors');
    const t = (name: string) => hostToTensor(weights.get(`prompt_learner.${name}`)!);
    const width = model.config.text.width;
    const row = (kind: 'pos' | 'neg') =>
      tf.concat(
        [t(`token_prefix_${kind}`), t(`ctx_${kind}`), t(`token_suffix_${kind}`)].map((x) => tf.reshape(x, [-1, width])),
        0,
      );
    const prompts = tf.stack([row('pos'), row('neg')]) as tf.Tensor3D;
    const ids = hostToTensor(inputs.get('tokenized_prompts')!) as tf.Tensor2D;
    const depth = config.AnomalyCLIP_parameters.learnabel_text_embedding_depth;
    const compound = Array.from({ length: depth - 1 }, (_, k) => t(`compound_prompts_text.${k}`) as tf.Tensor2D);
    const out = model.text.forward({ tokenEmbeddings: prompts, tokenIds: ids, compoundPrompts: compound }, { hiddenStates: true });
    try {
      await expectClose(prompts, outputs.get('prompts')!, { ...TOL, name: 'prompts' });
      for (let l = 0; l < model.config.text.layers; l++) {
        await expectClose(out.hiddenStates![l]!, outputs.get(`text_hidden.${l}`)!, { ...TOL, name: `text_hidden.${l}` });
      }
      await expectClose(out.textEmbeds, outputs.get('text_features_raw')!, { ...TOL, name: 'text_features_raw' });
    } finally {
      disposeClipTextOutput(out);
      tf.dispose([prompts, ids, ...compound]);
    }
  });

  it('text: gradients flow into the prompt embeddings and the compound tokens', async () => {
    const width = model.config.text.width;
    const ids = hostToTensor({
      dtype: 'int32',
      shape: [1, 77],
      data: Int32Array.from({ length: 77 }, (_, i) => (i === 5 ? 49407 : i === 0 ? 49406 : i < 5 ? 343 : 0)),
    }) as tf.Tensor2D;
    const emb = model.text.embedTokens(ids);
    const compound = tf.fill([2, width], 0.1) as tf.Tensor2D;
    const grads = tf.grads((e: tf.Tensor, c: tf.Tensor) =>
      tf.sum(model.text.forward({ tokenEmbeddings: e as tf.Tensor3D, tokenIds: ids, compoundPrompts: [c as tf.Tensor2D] }).textEmbeds),
    )([emb, compound]);
    const [ge, gc] = grads as [tf.Tensor, tf.Tensor];
    expect(ge.shape).toEqual([1, 77, width]);
    expect(gc.shape).toEqual([2, width]);
    // Positions after EOT cannot influence EOT (causal mask); positions 1..2 are replaced in block 1 but still feed block 0.
    const geRows = [...(await tf.sum(tf.abs(ge), [0, 2]).data())];
    expect(geRows.slice(6).every((v) => v === 0)).toBe(true);
    expect(geRows.slice(0, 6).every((v) => v > 0)).toBe(true);
    expect((await tf.sum(tf.abs(gc)).data())[0]! > 0).toBe(true);
    tf.dispose([ids, emb, compound, ge, gc]);
  });
});
