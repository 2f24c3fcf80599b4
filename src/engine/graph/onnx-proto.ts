/**
 * A minimal protobuf encoder for the ONNX messages we emit (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto). Field numbers follow onnx.proto
 * (proto2; repeated scalars are written unpacked, as the reference encoder does).
 * Large byte fields (initializer raw_data) are kept as references and copied once, when
 * the final buffer is assembled.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

/** Accumulates an encoded message as a list of byte chunks. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private pending: number[] = [];
  private size = 0;

  get length(): number {
    return this.size + this.pending.length;
  }

  private varint(value: number | bigint): void {
    if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) {
      let v = value;
      while (v >= 0x80) {
        this.pending.push((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.pending.push(v);
      return;
    }
    // Negative int64: two's complement, always 10 bytes.
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.pending.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.pending.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private flush(): void {
    if (this.pending.length) {
      this.chunks.push(Uint8Array.from(this.pending));
      this.size += this.pending.length;
      this.pending = [];
    }
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.pending.push(x);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** A length-delimited byte field; large arrays are referenced, not copied. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(value.byteLength);
    if (value.byteLength < 64) {
      for (const x of value) this.pending.push(x);
    } else {
      this.flush();
      this.chunks.push(value);
      this.size += value.byteLength;
    }
    return this;
  }

  message(field: number, sub: ProtoWriter): this {
    sub.flush();
    this.tag(field, WIRE_LEN);
    this.varint(sub.size);
    this.flush();
    for (const c of sub.chunks) this.chunks.push(c);
    this.size += sub.size;
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  }
}

/** onnx.TensorProto.DataType codes. */
export const ONNX_DTYPE = { float32: 1, int64: 7, bool: 9, float64: 11 } as const;
export type OnnxDtype = keyof typeof ONNX_DTYPE;

export interface TensorProtoInit {
  name: string;
  dtype: OnnxDtype;
  dims: readonly number[];
  /** Little-endian element bytes. */
  raw: Uint8Array;
}

export type AttributeInit =
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'ints'; value: readonly number[] }
  | { name: string; kind: 'floats'; value: readonly number[] }
  | { name: string; kind: 'string'; value: string };

export interface NodeInit {
  name: string;
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: readonly AttributeInit[];
}

export interface ValueInfoInit {
  name: string;
  dtype: OnnxDtype;
  /** A number is a fixed dimension; a string a symbolic one (dim_param, e.g. "batch"). */
  dims: ReadonlyArray<number | string>;
}

export interface ModelInit {
  graphName: string;
  producerName: string;
  producerVersion: string;
  docString?: string;
  opsetVersion: number;
  irVersion: number;
  nodes: readonly NodeInit[];
  initializers: readonly TensorProtoInit[];
  inputs: readonly ValueInfoInit[];
  outputs: readonly ValueInfoInit[];
  valueInfo: readonly ValueInfoInit[];
}

function tensorProto(t: TensorProtoInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, ONNX_DTYPE[t.dtype]);
  w.string(8, t.name);
  w.bytes(9, t.raw);
  return w;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

function attributeProto(a: AttributeInit): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, a.name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      break;
    case 'ints':
      for (const v of a.value) w.int(8, v);
      break;
  }
  w.int(20, ATTR_TYPE[a.kind]);
  return w;
}

function nodeProto(n: NodeInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, attributeProto(a));
  return w;
}

function valueInfoProto(v: ValueInfoInit): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, typeof d === 'string' ? new ProtoWriter().string(2, d) : new ProtoWriter().int(1, d));
  const tensorType = new ProtoWriter().int(1, ONNX_DTYPE[v.dtype]).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/** Serialises a ModelProto. */
export function encodeModel(m: ModelInit): Uint8Array {
  const g = new ProtoWriter();
  for (const n of m.nodes) g.message(1, nodeProto(n));
  g.string(2, m.graphName);
  for (const t of m.initializers) g.message(5, tensorProto(t));
  for (const v of m.inputs) g.message(11, valueInfoProto(v));
  for (const v of m.outputs) g.message(12, valueInfoProto(v));
  for (const v of m.valueInfo) g.message(13, valueInfoProto(v));
  const model = new ProtoWriter();
  model.int(1, m.irVersion);
  model.string(2, m.producerName);
  model.string(3, m.producerVersion);
  if (m.docString) model.string(6, m.docString);
  model.message(7, g);
  model.message(8, new ProtoWriter().string(1, '').int(2, m.opsetVersion));
  return model.finish();
}
