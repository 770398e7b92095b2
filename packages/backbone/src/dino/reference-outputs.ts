import * as tf from '@tensorflow/tfjs-core';
import type { DinoVisionTransformer } from './dino-vit';
import { Dinov2VisionTransformer } from './dinov2';
import { Dinov3VisionTransformer } from './dinov3';
import { dinov2ConfigFromReference, type Dinov2Config } from './dinov2-config';
import { dinov3ConfigFromReference, type Dinov3Config } from './dinov3-config';
import { InvalidFileError } from '@hgm/tensor';

/** Which `get_intermediate_layers` calls to record, as a reference run describes them. */
export interface ReferenceIntermediateSpec {
  /** The reference's `n`: the last n blocks, or block indices. */
  n: number | readonly number[];
  /** Output name -> `norm` flag, e.g. `{ inter: true, inter_raw: false }`. */
  variants: Readonly<Record<string, boolean>>;
  reshape?: boolean;
}

/**
 * Runs a DINO model on one input and names every result as the reference API would, for golden comparisons:
 * - `forward_features`: `x_norm_clstoken` [B, D], `x_norm_regtokens` [B, R, D], `x_norm_patchtokens`
 *   [B, N, D], `x_prenorm` [B, 1 + R + N, D]; DINOv3 also `x_storage_tokens` (the reference's own key).
 * - DINOv2 `pos_embed_interp` = `interpolate_pos_encoding(x, H, W)` [1, 1 + N, D];
 *   DINOv3 `rope_sin`, `rope_cos` = `rope_embed(H=H/p, W=W/p)` [N, headDim].
 * - per variant V and block i of `get_intermediate_layers`: `V.{i}.patch`, `V.{i}.cls`, `V.{i}.reg`.
 * Every name gets `prefix` in front. The caller owns (and disposes) the returned tensors.
 *
 * @param pixels [B, C, H, W]
 */
export function dinoReferenceOutputs(
  model: DinoVisionTransformer,
  pixels: tf.Tensor4D,
  options: { prefix?: string; intermediate?: ReferenceIntermediateSpec } = {},
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  const p = options.prefix ?? '';
  try {
    const f = model.forwardFeatures(pixels);
    out.set(`${p}x_norm_clstoken`, f.clsToken);
    out.set(`${p}x_norm_regtokens`, f.registerTokens);
    out.set(`${p}x_norm_patchtokens`, f.patchTokens);
    out.set(`${p}x_prenorm`, f.prenorm);
    if (model instanceof Dinov2VisionTransformer) {
      out.set(`${p}pos_embed_interp`, model.interpolatePosEncoding(pixels.shape[2], pixels.shape[3]));
    } else if (model instanceof Dinov3VisionTransformer) {
      out.set(`${p}x_storage_tokens`, tf.clone(f.registerTokens));
      const rope = model.ropeEmbed(f.grid[0], f.grid[1]);
      out.set(`${p}rope_sin`, rope.sin);
      out.set(`${p}rope_cos`, rope.cos);
    }
    const spec = options.intermediate;
    if (spec) {
      for (const [name, norm] of Object.entries(spec.variants)) {
        for (const l of model.getIntermediateLayers(pixels, { n: spec.n, norm, reshape: spec.reshape ?? false })) {
          out.set(`${p}${name}.${l.layer}.patch`, l.patchTokens);
          out.set(`${p}${name}.${l.layer}.cls`, l.classToken);
          out.set(`${p}${name}.${l.layer}.reg`, l.extraTokens);
        }
      }
    }
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
}

/** One input of a reference run: a tensor name and the prefix of its outputs. */
export interface ReferenceCase {
  input: string;
  prefix: string;
  shape?: number[];
}

/** A reference run description parsed: the model config, the cases and the intermediate-layer calls. */
export type DinoReferenceRun =
  | { family: 'dinov2'; config: Dinov2Config; cases: ReferenceCase[]; intermediate?: ReferenceIntermediateSpec }
  | { family: 'dinov3'; config: Dinov3Config; cases: ReferenceCase[]; intermediate?: ReferenceIntermediateSpec };

/**
 * Parses a reference-run description (the `config.json` of a DINO golden fixture): `constructor` (the
 * reference constructor's arguments), `cases` (`[{input, prefix}]`, default one case `pixel_values` without
 * prefix) and `get_intermediate_layers` (`n`, `norm`, `reshape`, and `also_norm_false_as: "name.*"` for a
 * second call with the opposite `norm`; the first call's outputs are named `inter`).
 */
export function parseDinoReferenceRun(json: unknown, family: 'dinov2' | 'dinov3', source = 'config.json'): DinoReferenceRun {
  if (!json || typeof json !== 'object') throw new InvalidFileError(source, `${source}: expected a JSON object`);
  const doc = json as Record<string, unknown>;
  const ctor = Object.prototype.hasOwnProperty.call(doc, 'constructor') ? doc['constructor'] : undefined;
  if (!ctor || typeof ctor !== 'object') throw new InvalidFileError(source, `${source}: no "constructor" object (the reference constructor's arguments)`);
  const rawCases = doc['cases'] ?? [{ input: 'pixel_values', prefix: '' }];
  if (!Array.isArray(rawCases)) throw new InvalidFileError(source, `${source}: "cases" must be an array`);
  const cases: ReferenceCase[] = rawCases.map((c: unknown, i: number) => {
    const r = c as Record<string, unknown>;
    if (typeof r?.['input'] !== 'string') throw new InvalidFileError(source, `${source}: cases[${i}].input must be a string`);
    const prefix = r['prefix'] ?? '';
    if (typeof prefix !== 'string') throw new InvalidFileError(source, `${source}: cases[${i}].prefix must be a string`);
    const shape = Array.isArray(r['shape']) ? (r['shape'] as number[]) : undefined;
    return shape ? { input: r['input'], prefix, shape } : { input: r['input'], prefix };
  });
  let intermediate: ReferenceIntermediateSpec | undefined;
  const gil = doc['get_intermediate_layers'] as Record<string, unknown> | undefined;
  if (gil) {
    const norm = gil['norm'] ?? true;
    if (typeof norm !== 'boolean') throw new InvalidFileError(source, `${source}: get_intermediate_layers.norm must be a boolean`);
    const variants: Record<string, boolean> = { inter: norm };
    const other = gil['also_norm_false_as'];
    if (other !== undefined) {
      const m = typeof other === 'string' ? /^([A-Za-z0-9_]+)\.\*$/.exec(other) : null;
      if (!m)
        throw new InvalidFileError(source, `${source}: get_intermediate_layers.also_norm_false_as must look like "name.*", found ${JSON.stringify(other)}`);
      variants[m[1]!] = !norm;
    }
    const n = gil['n'] ?? 1;
    if (typeof n !== 'number' && !(Array.isArray(n) && n.every((x) => typeof x === 'number'))) {
      throw new InvalidFileError(source, `${source}: get_intermediate_layers.n must be a number or a list of block indices`);
    }
    intermediate = { n: n as number | number[], variants, reshape: gil['reshape'] === true };
  }
  const base = { cases, ...(intermediate ? { intermediate } : {}) };
  return family === 'dinov2'
    ? { family, config: dinov2ConfigFromReference(ctor as Record<string, unknown>), ...base }
    : { family, config: dinov3ConfigFromReference(ctor as Record<string, unknown>), ...base };
}
