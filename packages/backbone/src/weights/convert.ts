import { renameKey, type HostTensor, ConfigError, InvalidFileError, ShapeError } from '@hgm/tensor';
import type { Conversion } from './conversions';
import {
  concatAxis0,
  splitAxis0,
  transpose2d,
  resolveShape,
  multiplyHost,
  qkvBiasMask,
  ropePeriods,
  allZero,
  type ConversionContext,
  type TensorTransform,
  type SplitOutput,
} from './tensor-transforms';
import type { SourceTensorInfo, TensorSource } from './tensor-source';

interface PlannedTensor {
  info: SourceTensorInfo;
  read(): Promise<HostTensor>;
}

/** The RoPE base of every released dinov3 model. */
const DEFAULT_ROPE_BASE = 100;

/** What a transform's planner works with: the source, the output under construction and the shared state. */
interface PlanContext {
  source: TensorSource;
  /** Label for errors: the source's name and the conversion. */
  label: string;
  context: ConversionContext;
  /** Adds an output tensor; two outputs of one name are an error. */
  emit(key: string, t: PlannedTensor): void;
  /** The info of a source tensor that `by` needs; its absence is an error naming both. */
  need(key: string, by: string): SourceTensorInfo;
  /** Source keys a transform used (they are not renamed into the output). */
  consumed: Set<string>;
  /** The parts of the last split tensor (the outputs of one split are read one after another). */
  splitCache: { key: string; parts: HostTensor[] | null };
}

/** Plans one transform at one block index: `at` fills `{n}` of its key templates. */
type Planner<T extends TensorTransform> = (transform: T, at: (template: string) => string, ctx: PlanContext) => void;

const planConcat: Planner<Extract<TensorTransform, { op: 'concat' }>> = (transform, at, { source, label, emit, need, consumed }) => {
  const keys = transform.inputs.map((i) => at(typeof i === 'string' ? i : i.key));
  const first = need(keys[0]!, at(transform.output));
  const present = keys.map((k, i) => {
    const inp = transform.inputs[i]!;
    if (source.has(k)) return true;
    if (typeof inp !== 'string' && inp.ifAbsent === 'zeros') return false;
    need(k, at(transform.output));
    return false;
  });
  let rows = 0;
  for (const [i, k] of keys.entries()) {
    const info = present[i] ? source.info(k) : first;
    if (info.shape.length !== first.shape.length || info.shape.slice(1).some((d, j) => d !== first.shape[j + 1])) {
      throw new ShapeError(`${label}: cannot concatenate ${keys[0]} [${first.shape.join(', ')}] and ${k} [${info.shape.join(', ')}]`);
    }
    rows += info.shape[0] ?? 0;
    if (present[i]) consumed.add(k);
  }
  emit(at(transform.output), {
    info: { shape: [rows, ...first.shape.slice(1)], dtype: 'derived', isFloat: first.isFloat },
    async read() {
      const parts: HostTensor[] = [];
      for (const [i, k] of keys.entries()) {
        if (present[i]) parts.push(await source.read(k));
        else parts.push({ dtype: 'float32', shape: [...first.shape], data: new Float32Array(first.shape.reduce((a, b) => a * b, 1)) });
      }
      return concatAxis0(parts, `${label}: ${at(transform.output)}`);
    },
  });
};

const planSplit: Planner<Extract<TensorTransform, { op: 'split' }>> = (transform, at, { source, label, emit, need, consumed, splitCache }) => {
  const input = at(transform.input);
  const info = need(input, 'a split');
  consumed.add(input);
  const mask = transform.mask !== undefined && source.has(at(transform.mask)) ? at(transform.mask) : undefined;
  if (mask !== undefined) consumed.add(mask);
  const count = transform.outputs.length;
  const rows = info.shape[0];
  if (rows === undefined || rows % count !== 0) {
    throw new ShapeError(`${label}: ${input} has shape [${info.shape.join(', ')}], which does not split into ${count} equal parts`);
  }
  const dropped = transform.outputs.map((o) => mask !== undefined && isDropWhenMasked(o));
  const readParts = async (): Promise<HostTensor[]> => {
    if (splitCache.key === input && splitCache.parts) return splitCache.parts;
    let t = await source.read(input);
    if (mask !== undefined) t = multiplyHost(t, await source.read(mask), `${label}: ${input}`);
    const parts = splitAxis0(t, count, `${label}: ${input}`);
    for (const [i, p] of parts.entries()) {
      if (dropped[i] && !allZero(p)) {
        throw new InvalidFileError(label, `${label}: ${input} part ${i} is left out because ${mask} should zero it, but the masked values are not zero`);
      }
    }
    splitCache.key = input;
    splitCache.parts = parts;
    return parts;
  };
  for (const [i, o] of transform.outputs.entries()) {
    if (dropped[i]) continue;
    emit(at(typeof o === 'string' ? o : o.key), {
      info: { shape: [rows / count, ...info.shape.slice(1)], dtype: 'derived', isFloat: info.isFloat },
      read: async () => (await readParts())[i]!,
    });
  }
};

const planTranspose: Planner<Extract<TensorTransform, { op: 'transpose' }>> = (transform, at, { source, label, emit, need, consumed }) => {
  const input = at(transform.input);
  const info = need(input, 'a transpose');
  if (info.shape.length !== 2) throw new ShapeError(`${label}: ${input} has shape [${info.shape.join(', ')}], expected a 2-D tensor to transpose`);
  consumed.add(input);
  emit(at(transform.output), {
    info: { shape: [info.shape[1]!, info.shape[0]!], dtype: 'derived', isFloat: info.isFloat },
    read: async () => transpose2d(await source.read(input), `${label}: ${input}`),
  });
};

const planReshape: Planner<Extract<TensorTransform, { op: 'reshape' }>> = (transform, at, { source, label, emit, need, consumed }) => {
  const input = at(transform.input);
  const info = need(input, 'a reshape');
  const shape = resolveShape(
    transform.shape,
    info.shape.reduce((a, b) => a * b, 1),
    `${label}: ${input}`,
  );
  consumed.add(input);
  emit(at(transform.output), {
    info: { shape, dtype: 'derived', isFloat: info.isFloat },
    read: async () => ({ ...(await source.read(input)), shape: [...shape] }),
  });
};

const planQkvBiasMask: Planner<Extract<TensorTransform, { op: 'qkv-bias-mask' }>> = (transform, at, { source, emit, need }) => {
  if (source.has(at(transform.absent))) return;
  const info = need(at(transform.like), 'a qkv bias mask');
  const width = info.shape[0]!;
  emit(at(transform.output), { info: { shape: [3 * width], dtype: 'derived', isFloat: true }, read: async () => qkvBiasMask(width) });
};

const planRopePeriods: Planner<Extract<TensorTransform, { op: 'rope-periods' }>> = (transform, at, { label, context, emit, need }) => {
  const info = need(at(transform.like), 'rope periods');
  const width = info.shape[info.shape.length - 1]!;
  const heads = context.numHeads;
  if (heads === undefined) {
    throw new ConfigError(
      `${label}: ${at(transform.output)} is not stored in this format and is rebuilt from the attention head count; pass { numHeads } in the conversion context`,
    );
  }
  const periods = ropePeriods(width, heads, context.ropeBase ?? DEFAULT_ROPE_BASE);
  emit(at(transform.output), { info: { shape: [...periods.shape], dtype: 'derived', isFloat: true }, read: async () => periods });
};

/** One planner per transform op; the mapped type makes a new op without a planner a type error. */
const PLANNERS: { [Op in TensorTransform['op']]: Planner<Extract<TensorTransform, { op: Op }>> } = {
  concat: planConcat,
  split: planSplit,
  transpose: planTranspose,
  reshape: planReshape,
  'qkv-bias-mask': planQkvBiasMask,
  'rope-periods': planRopePeriods,
};

/**
 * A converted view of a checkpoint: names and shapes are worked out at once from the source's header
 * (so a strict load can list every problem before reading data), tensors are read and transformed one
 * at a time on request. Nothing is held in memory between reads except the parts of the last split.
 * Each transform is planned by its op's planner (`PLANNERS`), once per block index its anchor key matches;
 * the source keys no transform used are renamed by the conversion's rules, or dropped.
 *
 * @throws when a transform's inputs are incomplete (naming the missing key), when two keys land on the
 *   same name, or when the conversion needs a fact the context lacks
 */
export function convertSource(source: TensorSource, conversion: Conversion, context: ConversionContext = {}): TensorSource {
  const label = `${source.name} (${conversion.from} -> ${conversion.to})`;
  const planned = new Map<string, PlannedTensor>();
  const ctx: PlanContext = {
    source,
    label,
    context,
    consumed: new Set<string>(),
    splitCache: { key: '', parts: null },
    emit(key, t) {
      if (planned.has(key)) throw new InvalidFileError(label, `${label}: two source tensors convert to ${key}`);
      planned.set(key, t);
    },
    need(key, by) {
      if (!source.has(key)) throw new InvalidFileError(label, `${label}: ${by} needs ${key}, which the checkpoint lacks`);
      return source.info(key);
    },
  };

  for (const transform of conversion.transforms) {
    const plan = PLANNERS[transform.op] as Planner<TensorTransform>;
    for (const n of blockIndices(source.keys(), anchorOf(transform))) plan(transform, (template) => template.replace('{n}', n), ctx);
  }

  const drop = conversion.drop.map((p) => new RegExp(p));
  for (const key of source.keys()) {
    if (ctx.consumed.has(key) || drop.some((r) => r.test(key))) continue;
    ctx.emit(renameKey(key, conversion.rename), { info: source.info(key), read: () => source.read(key) });
  }

  const find = (k: string): PlannedTensor => {
    const p = planned.get(k);
    if (!p) throw new InvalidFileError(label, `${label}: no tensor named ${k}`);
    return p;
  };
  return {
    name: label,
    keys: () => [...planned.keys()],
    has: (k) => planned.has(k),
    info: (k) => find(k).info,
    read: (k) => find(k).read(),
  };
}

function isDropWhenMasked(o: SplitOutput): boolean {
  return typeof o !== 'string' && o.dropWhenMasked;
}

function anchorOf(t: TensorTransform): string {
  switch (t.op) {
    case 'concat': {
      const first = t.inputs[0]!;
      return typeof first === 'string' ? first : first.key;
    }
    case 'split':
    case 'transpose':
    case 'reshape':
      return t.input;
    case 'qkv-bias-mask':
    case 'rope-periods':
      return t.like;
  }
}

/** The values of `{n}` for which a key matches the template ('' once for a template without `{n}`). */
function blockIndices(keys: readonly string[], template: string): string[] {
  const pattern = new RegExp(
    `^${template
      .split('{n}')
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('(\\d+)')}$`,
  );
  const out: string[] = [];
  for (const k of keys) {
    const m = pattern.exec(k);
    if (m) out.push(m[1] ?? '');
  }
  return out;
}
