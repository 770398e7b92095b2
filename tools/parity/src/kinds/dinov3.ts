/**
 * Parity kind `dinov3`: a DINOv3 ViT built from the folder's `config.json` and strictly loaded from
 * `weights.safetensors` (official names); the same outputs as kind `dinov2` (see {@link runDinoFixture}) with
 * `P x_storage_tokens` and the RoPE tables `P rope_sin`, `P rope_cos` instead of `P pos_embed_interp`.
 */
import type { Fixture } from '@hgm/tensor/testing';
import type { ParityRow } from '../compare';
import type { ParityOptions } from '../run-parity';
import { runDinoFixture } from './dinov2';

export async function runFixture(fixture: Fixture, options: ParityOptions = {}): Promise<ParityRow[]> {
  return runDinoFixture(fixture, 'dinov3', options);
}
