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
 * With the `onnx` executor the encoder runs as an ONNX graph tapping every block of
 * `get_intermediate_layers` (the positional tables are those the graph is fed).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { hostToTensor } from '@hgm/tensor';
import type { Fixture } from '@hgm/tensor/testing';
import { Dinov2VisionTransformer, Dinov3VisionTransformer, dinoReferenceOutputs, parseDinoReferenceRun, type DinoVisionTransformer } from '@hgm/backbone';
import * as tfc from '@tensorflow/tfjs-core';
import { OnnxImageEncoder } from '@hgm/onnx';
import { compareOutput, DEFAULT_TOLERANCE, type ParityRow } from '../compare';
import { isOnnx, onnxProviders, type ParityOptions } from '../run-parity';

/** Runs one dinov2 or dinov3 fixture folder and compares every output. */
export async function runDinoFixture(fixture: Fixture, family: 'dinov2' | 'dinov3', options: ParityOptions = {}): Promise<ParityRow[]> {
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
    model =
      run.family === 'dinov2'
        ? await Dinov2VisionTransformer.fromStateDict(run.config, weights, load)
        : await Dinov3VisionTransformer.fromStateDict(run.config, weights, load);
  } finally {
    await file.close();
  }
  const produced = new Map<string, tf.Tensor>();
  let onnx: OnnxImageEncoder | null = null;
  try {
    if (isOnnx(options.executor)) {
      const taps = run.intermediate ? model.selectBlocks(run.intermediate.n) : [];
      onnx = await OnnxImageEncoder.fromDino(model as DinoVisionTransformer & { config: typeof run.config }, {
        layers: taps,
        ...onnxProviders(options.executor),
      });
    }
    for (const c of run.cases) {
      const host = inputs.get(c.input);
      if (!host) throw new Error(`inputs.safetensors: no tensor ${c.input} (found ${[...inputs.keys()].join(', ')})`);
      if (c.shape && c.shape.join(',') !== host.shape.join(','))
        throw new Error(`inputs.safetensors: ${c.input} has shape [${host.shape}], config.json says [${c.shape}]`);
      const pixels = hostToTensor(host) as tf.Tensor4D;
      try {
        const outputs = onnx
          ? await onnxReferenceOutputs(onnx, model, pixels, c.prefix, run.intermediate)
          : dinoReferenceOutputs(model, pixels, { prefix: c.prefix, ...(run.intermediate ? { intermediate: run.intermediate } : {}) });
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
    await onnx?.dispose();
    model.dispose();
  }
}

/**
 * The names of {@link dinoReferenceOutputs} from the ONNX graph's outputs (`prenorm`, `norm`, `block.{i}`,
 * `block_norm.{i}`); the positional tables come from the model's functions that feed the graph.
 */
async function onnxReferenceOutputs(
  onnx: OnnxImageEncoder,
  model: DinoVisionTransformer,
  pixels: tf.Tensor4D,
  p: string,
  spec: { n: number | readonly number[]; variants: Readonly<Record<string, boolean>>; reshape?: boolean } | undefined,
): Promise<Map<string, tf.Tensor>> {
  const taps = spec ? model.selectBlocks(spec.n) : [];
  const raw = await onnx.run(pixels, ['prenorm', 'norm', ...taps.flatMap((l) => [`block.${l}`, `block_norm.${l}`])]);
  const out = new Map<string, tf.Tensor>();
  const k = 1 + model.numRegisterTokens;
  const [, , h, w] = pixels.shape;
  const gh = h / model.info.patchSize;
  const gw = w / model.info.patchSize;
  try {
    tfc.tidy(() => {
      const split = (x: tf.Tensor) => ({
        cls: tfc.reshape(tfc.slice(x, [0, 0, 0], [-1, 1, -1]), [x.shape[0]!, x.shape[2]!]),
        reg: tfc.slice(x, [0, 1, 0], [-1, k - 1, -1]),
        patch: tfc.slice(x, [0, k, 0], [-1, -1, -1]),
      });
      const f = split(raw.get('norm')!);
      out.set(`${p}x_norm_clstoken`, tfc.keep(f.cls));
      out.set(`${p}x_norm_regtokens`, tfc.keep(f.reg));
      out.set(`${p}x_norm_patchtokens`, tfc.keep(f.patch));
      out.set(`${p}x_prenorm`, tfc.keep(tfc.clone(raw.get('prenorm')!)));
      if (model instanceof Dinov2VisionTransformer) {
        out.set(`${p}pos_embed_interp`, tfc.keep(model.interpolatePosEncoding(h, w)));
      } else if (model instanceof Dinov3VisionTransformer) {
        out.set(`${p}x_storage_tokens`, tfc.keep(tfc.clone(f.reg)));
        const rope = model.ropeEmbed(gh, gw);
        out.set(`${p}rope_sin`, tfc.keep(rope.sin));
        out.set(`${p}rope_cos`, tfc.keep(rope.cos));
      }
      for (const [name, norm] of Object.entries(spec?.variants ?? {})) {
        for (const l of taps) {
          const s = split(raw.get(norm ? `block_norm.${l}` : `block.${l}`)!);
          const d = s.patch.shape[2]!;
          const patch = spec?.reshape ? tfc.transpose(tfc.reshape(s.patch, [s.patch.shape[0]!, gh, gw, d]), [0, 3, 1, 2]) : s.patch;
          out.set(`${p}${name}.${l}.patch`, tfc.keep(patch));
          out.set(`${p}${name}.${l}.cls`, tfc.keep(s.cls));
          out.set(`${p}${name}.${l}.reg`, tfc.keep(s.reg));
        }
      }
    });
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  } finally {
    for (const t of raw.values()) t.dispose();
  }
}

export async function runFixture(fixture: Fixture, options: ParityOptions = {}): Promise<ParityRow[]> {
  return runDinoFixture(fixture, 'dinov2', options);
}
