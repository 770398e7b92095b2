import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { ConfigError } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import type { DualAnchorModel } from './dual-anchor-model';
import { clipVisionBackbone, disposeVisionFeatures, executorBackbone, type ClipTokenEncoder, type VisionBackbone } from './vision-features';
import { syntheticBatch, tinyModel } from './test-support';

async function sameFeatures(a: VisionBackbone, b: VisionBackbone, model: DualAnchorModel): Promise<void> {
  const { pixels, masks, labels } = syntheticBatch(2, 32, 7);
  const fa = await a.encode(pixels, model.config.layers);
  const fb = await b.encode(pixels, model.config.layers);
  try {
    expect(fb.grid).toEqual(fa.grid);
    await expectClose(fb.globalToken, fa.globalToken, { atol: 0, rtol: 0, name: 'global token' });
    expect(fb.patchTokens).toHaveLength(fa.patchTokens.length);
    for (let i = 0; i < fa.patchTokens.length; i++) await expectClose(fb.patchTokens[i]!, fa.patchTokens[i]!, { atol: 0, rtol: 0, name: `patch tokens ${i}` });
  } finally {
    disposeVisionFeatures({ ...fa, imageSize: [32, 32] });
    disposeVisionFeatures({ ...fb, imageSize: [32, 32] });
    tf.dispose([pixels, masks, labels]);
  }
}

describeBackends(
  'executorBackbone',
  ({ it }) => {
    it("gives a DINO source's encoder the features of the model's own backbone", async () => {
      const model = await tinyModel();
      try {
        const source = model.frozen.visionSource!;
        expect(source.kind).not.toBe('clip');
        if (source.kind === 'clip') return;
        const backbone = executorBackbone(source.encoder, source);
        expect([backbone.kind, backbone.patchSize, backbone.depth, backbone.tokenWidth]).toEqual([
          model.frozen.backbone.kind,
          model.frozen.backbone.patchSize,
          model.frozen.backbone.depth,
          model.frozen.backbone.tokenWidth,
        ]);
        await sameFeatures(model.frozen.backbone, backbone, model);
      } finally {
        model.dispose();
      }
    });

    it("asks a CLIP source's encoder for the source's global token, and refuses an encoder without encodeClipTokens", async () => {
      const model = await tinyModel({
        backbone: { kind: 'clip', vvAttentionBlocks: 1, globalToken: 'no-ln-post' },
        layers: [0, 1],
        hgm: { groupsPerLevel: [4, 2] },
      });
      try {
        const source = model.frozen.visionSource!;
        if (source.kind !== 'clip') throw new Error(`expected a clip source, found ${source.kind}`);
        const asked: string[] = [];
        const tfjs = (g: 'ln-post' | 'no-ln-post') => clipVisionBackbone(source.clip.vision, g);
        const encoder: ClipTokenEncoder = {
          info: source.clip.vision.info,
          encode: (pixels, options) => source.clip.vision.encode(pixels, options),
          dispose: () => undefined,
          encodeClipTokens: (pixels, layers, g) => {
            asked.push(g);
            return tfjs(g).encode(pixels, layers);
          },
        };
        await sameFeatures(model.frozen.backbone, executorBackbone(encoder, source), model);
        expect(asked).toEqual(['no-ln-post']);
        const { encodeClipTokens: _, ...plain } = encoder;
        expect(() => executorBackbone(plain, source)).toThrow(ConfigError);
        expect(() => executorBackbone(plain, source)).toThrow(/needs an encoder with encodeClipTokens/);
      } finally {
        model.dispose();
      }
    });
  },
  { backends: ['cpu'] },
);
