import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { expect } from 'vitest';
import { hostToTensor, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import { clipConfigFromConstructorArgs, vvBlocksFromDpamLayer } from '@hgm/backbone';
import { anomalyClipConfig } from './config';
import { buildModel } from './build';
import { disposeDualAnchorOutput } from './dual-anchor-model';
import { testTokenizer } from './test-support';

/** The AnomalyCLIP baseline composed from the packages reproduces anomalyclip-tiny (native size) end to end. */
describeBackends(
  'AnomalyCLIP baseline',
  ({ it }) => {
    it('reproduces the text features, maps, smoothed map and score of anomalyclip-tiny', async () => {
      const fx = await readFixture(join(repoFixturesDir(), 'clip/anomalyclip-tiny'));
      const cfg = await fx.json('config.json');
      const hp = cfg.hyperparameters;
      const reader = await fx.safetensors('weights.safetensors');
      const clip = clipConfigFromConstructorArgs(cfg.constructor, { visionHeads: cfg.derived.vision_heads });
      const vv = vvBlocksFromDpamLayer(hp.DPAM_layer);
      const model = await buildModel(
        anomalyClipConfig({
          clip,
          backbone: { kind: 'clip', vvAttentionBlocks: vv, globalToken: 'no-ln-post' },
          layers: hp['features_list (1-based block indices)'].map((l: number) => l - 1),
          imageSize: cfg.derived.image_size,
          staticPrompts: { contextTokens: 4, deepPromptDepth: 3, deepPromptLength: 2 },
        }),
        { clip: reader, tokenizer: await testTokenizer() },
      );
      // AnomalyCLIP saves {"prompt_learner": state_dict}: keys without the prefix load too.
      const bare = new Map<string, HostTensor>();
      for (const n of reader.tensorNames()) if (n.startsWith('prompt_learner.')) bare.set(n.slice('prompt_learner.'.length), await reader.readHost(n));
      const report = await model.loadAnomalyClipPrompts(bare, '');
      expect(report.loaded).toHaveLength(4);
      await reader.close();
      const inputs = await fx.tensors('inputs.safetensors');
      const expected = await fx.tensors('outputs.safetensors');
      const pixels = hostToTensor(inputs.get('pixel_values')!) as tf.Tensor4D;
      const out = model.forwardSync(pixels);
      const tol = { atol: 1e-4, rtol: 1e-4 };
      await expectClose(out.textFeatures, expected.get('text_features')!, { ...tol, name: 'text_features' });
      await expectClose(out.imageProbabilities, expected.get('text_probs_full')!, { ...tol, name: 'text_probs_full' });
      await expectClose(out.imageScore, expected.get('text_probs')!, { ...tol, name: 'text_probs' });
      for (let j = 0; j < out.mapProbabilities.length; j++)
        await expectClose(out.mapProbabilities[j]!, expected.get(`similarity_map.${j}`)!, { ...tol, name: `similarity_map.${j}` });
      await expectClose(out.rawAnomalyMap, expected.get('anomaly_map')!, { ...tol, name: 'anomaly_map' });
      await expectClose(out.anomalyMap, expected.get('anomaly_map_smoothed')!, { ...tol, name: 'anomaly_map_smoothed' });
      expect(model.params.count()).toBe((2 * 4 * 48 * 2) / 2 + 2 * 2 * 48);
      disposeDualAnchorOutput(out);
      pixels.dispose();
      model.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
