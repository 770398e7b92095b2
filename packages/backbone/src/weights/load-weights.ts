import { ParameterStore, isTensorFile, type LoadReport, type TensorFile, InvalidFileError } from '@hgm/tensor';
import { convertSource } from './convert';
import { findConversion } from './conversions';
import { detectKeyFormat, keyFormatSpec, tryDetectKeyFormat, type KeyFormat } from './key-formats';
import type { ConversionContext } from './tensor-transforms';
import { readerSource, stripPrefixSource, type TensorSource } from './tensor-source';

/** Options of {@link prepareSource} and {@link loadWeights}. */
export interface PrepareOptions {
  /** Key format of the checkpoint (detected from its names when absent). */
  from?: KeyFormat;
  /** Key format wanted (for {@link loadWeights}: detected from the store's names, else the family's canonical one). */
  to?: KeyFormat;
  /** Facts the conversion may need (dinov3 from Hugging Face: `numHeads`). */
  context?: ConversionContext;
}

/** A checkpoint made ready for a model: the converted view and what was done to it. */
export interface PreparedSource {
  source: TensorSource;
  from: KeyFormat;
  to: KeyFormat;
  /** Wrapper prefix stripped from every key ('' for none). */
  prefix: string;
}

/**
 * Detects a checkpoint's key format, strips a wrapper prefix and converts its keys (lazily) to the
 * wanted format. Without `to`, the family's canonical format is used.
 */
export function prepareSource(input: TensorSource | TensorFile, options: PrepareOptions = {}): PreparedSource {
  const raw = isTensorFile(input) ? readerSource(input) : input;
  let from = options.from;
  let prefix = '';
  if (from === undefined) {
    const found = detectKeyFormat(raw.keys(), raw.name);
    from = found.format;
    prefix = found.prefix;
  }
  const stripped = stripPrefixSource(raw, prefix);
  const to = options.to ?? keyFormatSpec(from).canonical;
  if (keyFormatSpec(from).family !== keyFormatSpec(to).family) {
    throw new InvalidFileError(
      raw.name,
      `${raw.name}: holds ${from} (${keyFormatSpec(from).family}) keys, but ${to} (${keyFormatSpec(to).family}) keys are wanted`,
    );
  }
  const source = from === to ? stripped : convertSource(stripped, findConversion(from, to), options.context);
  return { source, from, to, prefix };
}

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions extends PrepareOptions {
  /** Fail before changing anything, listing every missing, unexpected and mis-shaped key (default true). */
  strict?: boolean;
  /** Checkpoint keys (after conversion) that the model does not use, ignored silently (regular expressions). */
  ignore?: readonly string[];
  /** Load only these parameters (e.g. the frozen backbone of a model that also has trainable prompts). */
  only?: (name: string) => boolean;
}

/** What {@link loadWeights} did. */
export interface WeightsLoadReport extends LoadReport {
  source: string;
  from: KeyFormat;
  to: KeyFormat;
  prefix: string;
}

/**
 * Loads a checkpoint (any supported key format, F32/F16/BF16) into a parameter store, one tensor at a
 * time, so a large checkpoint is never held twice in memory. The store's names are the canonical keys
 * (openai for CLIP, official dinov2/dinov3); other formats are converted on the fly.
 *
 * In strict mode (the default) names, shapes and dtypes are checked against the store first and a
 * {@link StateDictError} lists every problem at once; nothing is changed then.
 */
export async function loadWeights(store: ParameterStore, input: TensorSource | TensorFile, options: LoadWeightsOptions = {}): Promise<WeightsLoadReport> {
  const targets = store.entries().filter((p) => (options.only ? options.only(p.name) : true));
  const to = options.to ?? tryDetectKeyFormat(targets.map((p) => p.name))?.format;
  const prepared = prepareSource(input, { ...options, to });
  const { source } = prepared;
  const loaded = await store.loadStateDict(source, {
    strict: options.strict ?? true,
    source: source.name,
    ...(options.ignore ? { ignore: options.ignore } : {}),
    ...(options.only ? { only: (p) => options.only!(p.name) } : {}),
  });
  return { source: source.name, from: prepared.from, to: prepared.to, prefix: prepared.prefix, ...loaded };
}
