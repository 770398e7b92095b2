/**
 * Parity kind `dinov2` (and, through {@link runDinoFixture}, `dinov3`): a DINO ViT built from the folder's
 * `config.json` (`constructor` = the reference's constructor arguments) and strictly loaded from
 * `weights.safetensors`, `weights.pth` or `weights.pt` (official key names), run on every case of `config.json` `cases`
 * (`{input, prefix}`: an input of `inputs.safetensors` and the prefix of its outputs).
 *
 * Produced per case P: `P x_norm_clstoken`, `P x_norm_regtokens`, `P x_norm_patchtokens`, `P x_prenorm`
 * (forward_features; dinov3 also `P x_storage_tokens`), `P inter.{i}.patch|cls|reg` from
 * `get_intermediate_layers` with the `n` / `norm` / `reshape` of `config.json` `get_intermediate_layers`, the
 * same with the opposite `norm` under the name of `also_norm_false_as` (e.g. `inter_raw.*`), and dinov2
 * `P pos_embed_interp` (interpolate_pos_encoding) / dinov3 `P rope_sin`, `P rope_cos` (rope_embed).
 * Every tensor of `outputs.safetensors` is compared; one without a produced counterpart is a failed row.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { hostToTensor } from '@hgm/tensor';
import type { Fixture } from '@hgm/tensor/testing';
import {
  Dinov2VisionTransformer,
  Dinov3VisionTransformer,
  dinoReferenceOutputs,
  parseDinoReferenceRun,
  type DinoVisionTransformer,
} from '@hgm/backbone';
import { compareOutput, DEFAULT_TOLERANCE, type ParityRow } from '../compare';

/** Runs one dinov2 or dinov3 fixture folder and compares every output. */
export async function runDinoFixture(fixture: Fixture, family: 'dinov2' | 'dinov3'): Promise<ParityRow[]> {
  const run = parseDinoReferenceRun(await fixture.json('config.json'), family, `${fixture.folder}/config.json`);
  const inputs = await fixture.tensors('inputs.safetensors');
  const expected = await fixture.tensors('outputs.safetensors');
  const file = await fixture.weightsFile();
  let model: DinoVisionTransformer;
  try {
    const keyFormat = file.metadata.keyFormat;
    if (keyFormat !== undefined && keyFormat !== family) {
      throw new Error(`${file.name}: keyFormat ${JSON.stringify(keyFormat)}, expected ${JSON.stringify(family)} (official names)`);
    }
    const weights = await file.readAllHost();
    const load = { load: { source: file.name } };
    model = run.family === 'dinov2'
      ? await Dinov2VisionTransformer.fromStateDict(run.config, weights, load)
      : await Dinov3VisionTransformer.fromStateDict(run.config, weights, load);
  } finally {
    await file.close();
  }
  const produced = new Map<string, tf.Tensor>();
  try {
    for (const c of run.cases) {
      const host = inputs.get(c.input);
      if (!host) throw new Error(`inputs.safetensors: no tensor ${c.input} (found ${[...inputs.keys()].join(', ')})`);
      if (c.shape && c.shape.join(',') !== host.shape.join(',')) throw new Error(`inputs.safetensors: ${c.input} has shape [${host.shape}], config.json says [${c.shape}]`);
      const pixels = hostToTensor(host) as tf.Tensor4D;
      try {
        const outputs = dinoReferenceOutputs(model, pixels, { prefix: c.prefix, ...(run.intermediate ? { intermediate: run.intermediate } : {}) });
        for (const [name, t] of outputs) {
          if (produced.has(name)) {
            t.dispose();
            throw new Error(`config.json: two cases produce ${name} (check the case prefixes)`);
          }
          produced.set(name, t);
        }
      } finally {
        pixels.dispose();
      }
    }
    const rows: ParityRow[] = [];
    for (const [name, exp] of expected) rows.push(await compareOutput(name, produced.get(name), exp, DEFAULT_TOLERANCE));
    return rows;
  } finally {
    for (const t of produced.values()) t.dispose();
    model.dispose();
  }
}

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  return runDinoFixture(fixture, 'dinov2');
}
