import { DataType, encodeModel, node, tensor, valueInfo, type AttributeValue, type Dim, type Encoded, type ExternalLocation } from './onnx-proto';

/** The opset the graphs are written for (LayerNormalization needs 17). */
export const OPSET = 17;

/**
 * An initializer: name, dims and its values, or (for weights) a function that makes them when the model is
 * written. Values are not copied until then; made values are dropped once written.
 */
export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array | (() => Float32Array);
}

/** Float32 values, given or made on demand (read from a store, transposed) when the model is written. */
export type WeightValues = Float32Array | (() => Float32Array);

/** How {@link GraphBuilder.toModel} stores initializers: inside the model, or in an external data file. */
export type WeightStorage = { kind: 'inline' } | { kind: 'external'; location: string; write: (chunk: Uint8Array) => void; alignment?: number };

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function byteLengthOf(init: Initializer): number {
  if (typeof init.data !== 'function') return init.data.byteLength;
  return 4 * init.dims.reduce((a, b) => a * b, 1);
}

/** The bytes of an initializer, made now when lazy (checked against its dims). */
function valuesOf(init: Initializer, who: string): Uint8Array {
  if (typeof init.data !== 'function') return bytesOf(init.data);
  const values = init.data();
  const n = init.dims.reduce((a, b) => a * b, 1);
  if (values.length !== n)
    throw new Error(`GraphBuilder ${who}: weight ${init.name} produced ${values.length} values, dims [${init.dims.join(', ')}] need ${n}`);
  return bytesOf(values);
}

/**
 * Builds an ONNX graph node by node. Values are named by string; every helper returns the name of its
 * output. Shapes use 0 in Reshape targets to copy a dimension, so the batch (and the grid) stay dynamic.
 */
export class GraphBuilder {
  private readonly nodes: Encoded[][] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: Encoded[][] = [];
  private readonly outputs: Encoded[][] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(readonly name: string) {}

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** Declares a float32 graph input. */
  input(name: string, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, DataType.FLOAT, dims));
    return name;
  }

  /** Declares a graph output named `name` equal to `value`. */
  output(name: string, value: string, dims: readonly Dim[]): void {
    this.nodes.push(node('Identity', `out_${name}`, [value], [name]));
    this.outputs.push(valueInfo(name, DataType.FLOAT, dims));
  }

  /**
   * A float32 initializer: the values are referenced, not copied, or (a function) made when the model is
   * written and dropped right after, so a graph of lazy weights holds no copy of them.
   */
  weight(name: string, dims: readonly number[], data: WeightValues): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (typeof data !== 'function' && data.length !== n)
      throw new Error(`GraphBuilder ${this.name}: weight ${name} has ${data.length} values, dims [${dims.join(', ')}] need ${n}`);
    this.initializers.push({ name, dims: [...dims], data });
    return name;
  }

  /** An int64 constant (shapes, axes), shared by value. */
  ints(values: readonly number[]): string {
    const key = `i64:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.fresh('const_i64');
    this.initializers.push({ name, dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    this.constants.set(key, name);
    return name;
  }

  /** A float32 scalar constant, shared by value. */
  scalar(value: number): string {
    const key = `f32:${value}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.fresh('const_f32');
    this.initializers.push({ name, dims: [], data: Float32Array.of(value) });
    this.constants.set(key, name);
    return name;
  }

  /** One node with one output. */
  op(opType: string, inputs: readonly string[], attributes: Readonly<Record<string, AttributeValue>> = {}): string {
    const out = this.fresh(opType.toLowerCase());
    this.nodes.push(node(opType, out, inputs, [out], attributes));
    return out;
  }

  /** One node with several outputs. */
  opMulti(opType: string, inputs: readonly string[], outputs: number, attributes: Readonly<Record<string, AttributeValue>> = {}): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push(node(opType, names[0]!, inputs, names, attributes));
    return names;
  }

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.op('Reshape', [x, this.ints(shape)]);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm: { ints: perm } });
  }

  /** `x[..., start:end, ...]` along `axis`. */
  slice(x: string, axis: number, start: number, end: number): string {
    return this.op('Slice', [x, this.ints([start]), this.ints([end]), this.ints([axis])]);
  }

  concat(xs: readonly string[], axis: number): string {
    return this.op('Concat', xs, { axis: { int: axis } });
  }

  /** LayerNormalization over the last axis. */
  layerNorm(x: string, weight: string, bias: string | undefined, eps: number): string {
    return this.op('LayerNormalization', bias ? [x, weight, bias] : [x, weight], { axis: { int: -1 }, epsilon: { float: eps } });
  }

  /**
   * `x Wᵀ + b` for a torch-layout weight [out, in] given as a transposed initializer (transposed once here,
   * so ORT runs a plain MatMul).
   */
  linear(x: string, weightT: string, bias?: string): string {
    const y = this.op('MatMul', [x, weightT]);
    return bias ? this.add(y, bias) : y;
  }

  /**
   * Writes the model: initializers inline (< 2 GB) or in an external data file through `storage.write`.
   * Lazy weights are made one at a time while their bytes are copied out, so the peak is the output plus
   * one weight.
   */
  toModel(storage: WeightStorage = { kind: 'inline' }): Uint8Array {
    const inits: Encoded[][] = [];
    let offset = 0;
    for (const init of this.initializers) {
      const type = init.data instanceof BigInt64Array ? DataType.INT64 : DataType.FLOAT;
      const byteLength = byteLengthOf(init);
      if (storage.kind === 'inline' || byteLength < 1024) {
        inits.push(
          tensor(init.name, type, init.dims, typeof init.data === 'function' ? { byteLength, produce: () => valuesOf(init, this.name) } : bytesOf(init.data)),
        );
      } else {
        const bytes = valuesOf(init, this.name);
        const align = storage.alignment ?? 4096;
        const pad = (align - (offset % align)) % align;
        if (pad > 0) storage.write(new Uint8Array(pad));
        offset += pad;
        const location: ExternalLocation = { location: storage.location, offset, length: bytes.byteLength };
        storage.write(bytes);
        offset += bytes.byteLength;
        inits.push(tensor(init.name, type, init.dims, location));
      }
    }
    return encodeModel({ name: this.name, nodes: this.nodes, initializers: inits, inputs: this.inputs, outputs: this.outputs }, OPSET, 'hgm');
  }

  /** Bytes of all float initializers. */
  weightBytes(): number {
    return this.initializers.reduce((s, i) => s + byteLengthOf(i), 0);
  }
}

/** Transposes a row-major [rows, cols] matrix. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  if (data.length !== rows * cols) throw new Error(`transposeMatrix: ${data.length} values, expected ${rows} x ${cols}`);
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}
