// The DINOv2 / DINOv3 catalogue preprocessing against their references' numbers: PIL-made outputs of
// fixtures/preprocess/image.png (tools/fixtures-gen/reference-preprocess.py).
import { describe, it, expect } from 'vitest';
import { readFile } from 'node:fs/promises';
import { DINOV2_PREPROCESS, DINOV3_PREPROCESS, findWeights } from '@hgm/backbone';
import { decodePng, preprocessImage, planResize } from '@hgm/data';
import { SafetensorsReader } from '@hgm/tensor';
import { repoFixturesDir } from '@hgm/tensor/testing';
import { join } from 'node:path';

/** PIL rounds to 8 bits after each resize pass and this pipeline keeps floats: 2/255 over the smallest std. */
const TOLERANCE = 2 / 255 / 0.224;

describe('reference preprocessing of the DINO catalogue entries', () => {
  it('DINOv2: shorter side to 256 (bicubic), centre crop 224; DINOv3: squash to 224 (bilinear); ImageNet statistics', async () => {
    const dir = join(repoFixturesDir(), 'preprocess');
    const image = decodePng(new Uint8Array(await readFile(join(dir, 'image.png'))), 'image.png');
    expect([image.width, image.height]).toEqual([300, 260]);
    const ref = await SafetensorsReader.fromBytes(await readFile(join(dir, 'reference.safetensors')));
    for (const [name, preprocess, weights] of [
      ['dinov2', DINOV2_PREPROCESS, 'dinov2-vitl14'],
      ['dinov3', DINOV3_PREPROCESS, 'dinov3-vitl16'],
    ] as const) {
      expect(findWeights(weights).preprocess).toEqual(preprocess);
      const ours = preprocessImage(image, preprocess);
      const expected = (await ref.readHost(name)).data as Float32Array;
      expect(ours.length, name).toBe(expected.length);
      let maxDiff = 0;
      let sumDiff = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i]! - expected[i]!);
        maxDiff = Math.max(maxDiff, d);
        sumDiff += d;
      }
      expect(maxDiff, `${name} max |diff|`).toBeLessThanOrEqual(TOLERANCE);
      expect(sumDiff / ours.length, `${name} mean |diff|`).toBeLessThan(0.005);
    }
    expect(planResize(300, 260, DINOV2_PREPROCESS)).toEqual({ resizeWidth: 295, resizeHeight: 256, cropX: 36, cropY: 16, height: 224, width: 224 });
  });
});
