import * as tf from '@tensorflow/tfjs-core';
import { hostToTensor, ParameterStore, SafetensorsReader, StateDictError, type LoadReport, type StateDictProblem } from '@hgm/tensor';
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
export function prepareSource(input: TensorSource | SafetensorsReader, options: PrepareOptions = {}): PreparedSource {
  const raw = input instanceof SafetensorsReader ? readerSource(input) : input;
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
    throw new Error(`${raw.name}: holds ${from} (${keyFormatSpec(from).family}) keys, but ${to} (${keyFormatSpec(to).family}) keys are wanted`);
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
export async function loadWeights(store: ParameterStore, input: TensorSource | SafetensorsReader, options: LoadWeightsOptions = {}): Promise<WeightsLoadReport> {
  const targets = store.entries().filter((p) => (options.only ? options.only(p.name) : true));
  const to = options.to ?? tryDetectKeyFormat(targets.map((p) => p.name))?.format;
  const prepared = prepareSource(input, { ...options, to });
  const { source } = prepared;
  const strict = options.strict ?? true;
  const ignore = (options.ignore ?? []).map((s) => new RegExp(s));
  const report: WeightsLoadReport = { source: source.name, from: prepared.from, to: prepared.to, prefix: prepared.prefix, loaded: [], missing: [], unexpected: [], mismatched: [] };
  const problems: StateDictProblem[] = [];
  const loadable: string[] = [];
  const targetNames = new Set<string>();
  for (const p of targets) {
    targetNames.add(p.name);
    const expected = [...p.variable.shape];
    if (!source.has(p.name)) {
      report.missing.push(p.name);
      problems.push({ kind: 'missing', key: p.name, expected });
      continue;
    }
    const info = source.info(p.name);
    if (!sameShape(info.shape, expected)) {
      report.mismatched.push({ key: p.name, expected, found: info.shape });
      problems.push({ kind: 'shape-mismatch', key: p.name, expected, found: info.shape });
    } else if (!info.isFloat && p.variable.dtype === 'float32') {
      report.mismatched.push({ key: p.name, expected, found: info.shape });
      problems.push({ kind: 'dtype-mismatch', key: p.name });
    } else {
      loadable.push(p.name);
    }
  }
  for (const k of source.keys()) {
    if (targetNames.has(k) || ignore.some((r) => r.test(k))) continue;
    if (options.only && store.has(k)) continue;
    report.unexpected.push(k);
    problems.push({ kind: 'unexpected', key: k, found: source.info(k).shape });
  }
  if (strict && problems.length > 0) throw new StateDictError(source.name, problems);
  for (const name of loadable) {
    const variable = store.get(name);
    const host = await source.read(name);
    const t = hostToTensor(host);
    const value = t.dtype === variable.dtype ? t : tf.cast(t, variable.dtype);
    variable.assign(value);
    if (value !== t) value.dispose();
    t.dispose();
    report.loaded.push(name);
  }
  return report;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
