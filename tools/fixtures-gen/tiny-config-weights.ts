/**
 * Writes seeded random frozen weights of the `tiny` Dual-Anchor configuration (CLIP in openai names,
 * the DINOv3 backbone in official names) as safetensors, the inputs of `torch-checkpoints.py`:
 *
 *   npx tsx tools/fixtures-gen/tiny-config-weights.ts fixtures/torch
 */
import { join } from 'node:path';
import { initNodeBackend, writeSafetensorsFile } from '@hgm/tensor/node';
import { ClipModel, Dinov3VisionTransformer } from '@hgm/backbone';
import { resolveConfig, TINY_CONFIG } from '@hgm/dual-anchor';

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: tiny-config-weights.ts <output folder>');
  await initNodeBackend('cpu');
  const c = resolveConfig(TINY_CONFIG);
  if (c.backbone.kind !== 'dinov3') throw new Error('the tiny configuration has a DINOv3 backbone');
  const clip = ClipModel.create(c.clip, { towers: 'both' });
  await writeSafetensorsFile(join(out, 'tiny-clip.safetensors'), await clip.params.stateDict(), { keyFormat: 'openai' });
  clip.dispose();
  const dino = new Dinov3VisionTransformer(c.backbone.config);
  await writeSafetensorsFile(join(out, 'tiny-dinov3.safetensors'), await dino.params.stateDict(), { keyFormat: 'dinov3' });
  dino.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
