/**
 * The checkpoint key formats the loaders understand, and their detection from tensor names alone.
 *
 * Canonical formats (the names model code registers its parameters under):
 * - `openai`: openai/CLIP `clip/model.py` state dicts; open_clip ViT checkpoints use the same names.
 * - `dinov2`, `dinov3`: facebookresearch/dinov2 and /dinov3 `DinoVisionTransformer` state dicts.
 *
 * Hugging Face transformers formats (converted on load):
 * - `hf-clip`: `CLIPModel` / `CLIPVisionModel(WithProjection)` / `CLIPTextModel(WithProjection)`.
 * - `hf-dinov2`: `Dinov2Model` and `Dinov2WithRegistersModel`.
 * - `hf-dinov3`: `DINOv3ViTModel`.
 */
import { ConfigError, InvalidFileError } from '@hgm/tensor';
export type KeyFormat = 'openai' | 'hf-clip' | 'dinov2' | 'hf-dinov2' | 'dinov3' | 'hf-dinov3';

/** The model family of a key format. */
export type ModelFamily = 'clip' | 'dinov2' | 'dinov3';

/** Facts about one key format, as data. */
export interface KeyFormatSpec {
  format: KeyFormat;
  family: ModelFamily;
  /** The canonical format of the family (the names the model code uses). */
  canonical: KeyFormat;
  /** A checkpoint is in this format when at least one key matches one of these patterns. */
  markers: readonly string[];
  /** ... and no key matches one of these (to tell formats with shared names apart). */
  excluders: readonly string[];
  /** Wrapper prefixes that checkpoints of this format may carry (e.g. a classification model's base model). */
  wrapperPrefixes: readonly string[];
}

/** Every known key format. Detection tries them in this order. */
export const KEY_FORMATS: readonly KeyFormatSpec[] = [
  {
    format: 'openai',
    family: 'clip',
    canonical: 'openai',
    markers: [
      '^visual\\.transformer\\.resblocks\\.\\d+\\.attn\\.in_proj_weight$',
      '^transformer\\.resblocks\\.\\d+\\.attn\\.in_proj_weight$',
      '^visual\\.conv1\\.weight$',
    ],
    excluders: [],
    wrapperPrefixes: ['module.'],
  },
  {
    format: 'hf-clip',
    family: 'clip',
    canonical: 'openai',
    markers: ['^(vision_model|text_model)\\.encoder\\.layers\\.\\d+\\.self_attn\\.q_proj\\.weight$', '^vision_model\\.embeddings\\.patch_embedding\\.weight$'],
    excluders: [],
    wrapperPrefixes: ['clip.'],
  },
  {
    format: 'dinov3',
    family: 'dinov3',
    canonical: 'dinov3',
    markers: ['^storage_tokens$', '^rope_embed\\.periods$', '^blocks\\.\\d+\\.attn\\.qkv\\.bias_mask$'],
    excluders: ['^pos_embed$'],
    wrapperPrefixes: ['module.', 'backbone.'],
  },
  {
    format: 'dinov2',
    family: 'dinov2',
    canonical: 'dinov2',
    markers: ['^blocks\\.\\d+\\.attn\\.qkv\\.weight$', '^pos_embed$'],
    excluders: ['^storage_tokens$', '^rope_embed\\.periods$'],
    wrapperPrefixes: ['module.', 'backbone.'],
  },
  {
    format: 'hf-dinov3',
    family: 'dinov3',
    canonical: 'dinov3',
    markers: ['^layer\\.\\d+\\.attention\\.q_proj\\.weight$', '^embeddings\\.patch_embeddings\\.weight$'],
    excluders: [],
    wrapperPrefixes: ['dinov3_vit.'],
  },
  {
    format: 'hf-dinov2',
    family: 'dinov2',
    canonical: 'dinov2',
    markers: ['^encoder\\.layer\\.\\d+\\.attention\\.attention\\.query\\.weight$', '^embeddings\\.patch_embeddings\\.projection\\.weight$'],
    excluders: [],
    wrapperPrefixes: ['dinov2.', 'dinov2_with_registers.'],
  },
];

/** The spec of a key format. */
export function keyFormatSpec(format: KeyFormat): KeyFormatSpec {
  const spec = KEY_FORMATS.find((s) => s.format === format);
  if (!spec) throw new ConfigError(`unknown key format ${JSON.stringify(format)} (known: ${KEY_FORMATS.map((s) => s.format).join(', ')})`);
  return spec;
}

/** What {@link detectKeyFormat} found. */
export interface DetectedKeyFormat {
  format: KeyFormat;
  family: ModelFamily;
  /** A wrapper prefix every tensor name carries (stripped before conversion), or '' for none. */
  prefix: string;
  /** The first key that matched a marker of the format. */
  evidence: string;
}

/**
 * Tells the key format of a checkpoint from its tensor names.
 *
 * @param names tensor names as stored in the file
 * @param source label for error messages (the file name)
 * @throws when no format matches, naming a few of the keys
 */
export function detectKeyFormat(names: readonly string[], source = 'checkpoint'): DetectedKeyFormat {
  const found = tryDetectKeyFormat(names);
  if (found) return found;
  const sample = names.slice(0, 6).join(', ');
  throw new InvalidFileError(
    source,
    `${source}: cannot tell the key format from its ${names.length} tensor names (first: ${sample || 'none'}); ` +
      `expected openai/open_clip CLIP, Hugging Face CLIP, dinov2, dinov3 or their Hugging Face forms (${KEY_FORMATS.map((s) => s.format).join(', ')})`,
  );
}

/** Like {@link detectKeyFormat} but returns undefined when no format matches. */
export function tryDetectKeyFormat(names: readonly string[]): DetectedKeyFormat | undefined {
  for (const spec of KEY_FORMATS) {
    for (const prefix of ['', ...spec.wrapperPrefixes]) {
      const keys = prefix === '' ? names : names.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
      if (keys.length === 0) continue;
      const excluders = spec.excluders.map((p) => new RegExp(p));
      if (keys.some((k) => excluders.some((r) => r.test(k)))) continue;
      const markers = spec.markers.map((p) => new RegExp(p));
      const evidence = keys.find((k) => markers.some((r) => r.test(k)));
      if (evidence !== undefined) return { format: spec.format, family: spec.family, prefix, evidence: prefix + evidence };
    }
  }
  return undefined;
}
