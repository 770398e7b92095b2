/**
 * A minimal protobuf writer for the parts of `onnx.proto` (IR version 8) that an inference graph needs:
 * `ModelProto`, `GraphProto`, `NodeProto`, `AttributeProto`, `TensorProto` (raw little-endian data, inline or
 * external) and `ValueInfoProto`. Field numbers follow onnx/onnx.proto. Messages are measured first and
 * written once into one buffer, so weight bytes are copied exactly once.
 */

/** A message or field payload: its encoded size and how to write it at an offset. */
export interface Encoded {
  readonly size: number;
  write(out: Uint8Array, offset: number): number;
}

const textEncoder = new TextEncoder();

function varintSize(v: bigint): number {
  let n = 1;
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    x >>= 7n;
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, offset: number, v: bigint): number {
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out[offset++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  out[offset++] = Number(x);
  return offset;
}

function tag(field: number, wire: number): bigint {
  return BigInt((field << 3) | wire);
}

/** A varint field (int32/int64/enum). */
export function varintField(field: number, value: number | bigint): Encoded {
  const t = tag(field, 0);
  const v = BigInt(value);
  return {
    size: varintSize(t) + varintSize(v),
    write: (out, o) => writeVarint(out, writeVarint(out, o, t), v),
  };
}

/** A float field (fixed32). */
export function floatField(field: number, value: number): Encoded {
  const t = tag(field, 5);
  return {
    size: varintSize(t) + 4,
    write: (out, o) => {
      o = writeVarint(out, o, t);
      new DataView(out.buffer, out.byteOffset + o, 4).setFloat32(0, value, true);
      return o + 4;
    },
  };
}

/** A length-delimited field holding raw bytes (copied when written). */
export function bytesField(field: number, bytes: Uint8Array): Encoded {
  const t = tag(field, 2);
  const n = BigInt(bytes.byteLength);
  return {
    size: varintSize(t) + varintSize(n) + bytes.byteLength,
    write: (out, o) => {
      o = writeVarint(out, writeVarint(out, o, t), n);
      out.set(bytes, o);
      return o + bytes.byteLength;
    },
  };
}

/**
 * A length-delimited field whose bytes are produced only when the message is written (a weight transposed
 * or read from its store on demand): the producer runs once, its bytes are copied into the output and
 * dropped, so no second full copy of the weights is held while a model is encoded.
 */
export function lazyBytesField(field: number, byteLength: number, produce: () => Uint8Array): Encoded {
  const t = tag(field, 2);
  const n = BigInt(byteLength);
  return {
    size: varintSize(t) + varintSize(n) + byteLength,
    write: (out, o) => {
      o = writeVarint(out, writeVarint(out, o, t), n);
      const bytes = produce();
      if (bytes.byteLength !== byteLength) throw new Error(`lazyBytesField: the producer gave ${bytes.byteLength} bytes, ${byteLength} were declared`);
      out.set(bytes, o);
      return o + byteLength;
    },
  };
}

export function stringField(field: number, s: string): Encoded {
  return bytesField(field, textEncoder.encode(s));
}

/** A nested message field. */
export function messageField(field: number, parts: readonly Encoded[]): Encoded {
  const t = tag(field, 2);
  const inner = parts.reduce((s, p) => s + p.size, 0);
  const n = BigInt(inner);
  return {
    size: varintSize(t) + varintSize(n) + inner,
    write: (out, o) => {
      o = writeVarint(out, writeVarint(out, o, t), n);
      for (const p of parts) o = p.write(out, o);
      return o;
    },
  };
}

/** Writes top-level fields into one new buffer. */
export function encodeMessage(parts: readonly Encoded[]): Uint8Array {
  const size = parts.reduce((s, p) => s + p.size, 0);
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) o = p.write(out, o);
  if (o !== size) throw new Error(`encodeMessage: wrote ${o} bytes, measured ${size}`);
  return out;
}

/** ONNX `TensorProto.DataType` values used here. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
export type DataTypeValue = (typeof DataType)[keyof typeof DataType];

/** `AttributeProto.AttributeType` values used here. */
const AttributeType = { FLOAT: 1, INT: 2, INTS: 7 } as const;

export type AttributeValue = { float: number } | { int: number } | { ints: readonly number[] };

/** AttributeProto: name=1, f=2, i=3, ints=8, type=20. */
export function attribute(name: string, value: AttributeValue): Encoded[] {
  if ('float' in value) return [stringField(1, name), floatField(2, value.float), varintField(20, AttributeType.FLOAT)];
  if ('int' in value) return [stringField(1, name), varintField(3, value.int), varintField(20, AttributeType.INT)];
  return [stringField(1, name), ...value.ints.map((v) => varintField(8, v)), varintField(20, AttributeType.INTS)];
}

/** NodeProto: input=1, output=2, name=3, op_type=4, attribute=5. */
export function node(
  opType: string,
  name: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Readonly<Record<string, AttributeValue>> = {},
): Encoded[] {
  return [
    ...inputs.map((i) => stringField(1, i)),
    ...outputs.map((o) => stringField(2, o)),
    stringField(3, name),
    stringField(4, opType),
    ...Object.entries(attributes).map(([k, v]) => messageField(5, attribute(k, v))),
  ];
}

/** Where an initializer's bytes live in an external data file. */
export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

/** Raw tensor bytes made on demand (see {@link lazyBytesField}). */
export interface LazyBytes {
  byteLength: number;
  produce: () => Uint8Array;
}

/** TensorProto: dims=1, data_type=2, name=8, raw_data=9, external_data=13, data_location=14 (EXTERNAL = 1). */
export function tensor(name: string, dataType: DataTypeValue, dims: readonly number[], data: Uint8Array | LazyBytes | ExternalLocation): Encoded[] {
  const head = [...dims.map((d) => varintField(1, d)), varintField(2, dataType), stringField(8, name)];
  if (data instanceof Uint8Array) return [...head, bytesField(9, data)];
  if ('produce' in data) return [...head, lazyBytesField(9, data.byteLength, data.produce)];
  const entry = (k: string, v: string) => messageField(13, [stringField(1, k), stringField(2, v)]);
  return [...head, entry('location', data.location), entry('offset', String(data.offset)), entry('length', String(data.length)), varintField(14, 1)];
}

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

/** ValueInfoProto of a tensor: name=1, type=2 -> TypeProto.tensor_type=1 -> elem_type=1, shape=2 -> dim=1 -> dim_value=1 | dim_param=2. */
export function valueInfo(name: string, dataType: DataTypeValue, dims: readonly Dim[]): Encoded[] {
  const shape = dims.map((d) => messageField(1, [typeof d === 'number' ? varintField(1, d) : stringField(2, d)]));
  return [stringField(1, name), messageField(2, [messageField(1, [varintField(1, dataType), messageField(2, shape)])])];
}

/** The parts of a GraphProto: node=1, name=2, initializer=5, input=11, output=12. */
export interface GraphParts {
  name: string;
  nodes: Encoded[][];
  initializers: Encoded[][];
  inputs: Encoded[][];
  outputs: Encoded[][];
}

/** A serialized ModelProto (IR version 8, default domain at `opset`). */
export function encodeModel(graph: GraphParts, opset: number, producer: string): Uint8Array {
  const g = [
    ...graph.nodes.map((n) => messageField(1, n)),
    stringField(2, graph.name),
    ...graph.initializers.map((t) => messageField(5, t)),
    ...graph.inputs.map((v) => messageField(11, v)),
    ...graph.outputs.map((v) => messageField(12, v)),
  ];
  return encodeMessage([varintField(1, 8), stringField(2, producer), messageField(7, g), messageField(8, [stringField(1, ''), varintField(2, opset)])]);
}
