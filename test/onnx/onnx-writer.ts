// A small ONNX writer for tests: model bytes built field by field (onnx.proto's numbers), so hand-made cases need no
// Python and hostile ones can be written exactly.

export class ProtoWriter {
  private readonly out: number[] = [];
  // Large byte runs (weights) are kept as chunks rather than copied byte by byte into `out`.
  private readonly chunks: Uint8Array[] = [];

  private flush(): void {
    if (this.out.length) this.chunks.push(Uint8Array.from(this.out.splice(0)));
  }

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.out.push(Number(v));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }

  bytes(field: number, data: Uint8Array | readonly number[]): this {
    this.tag(field, 2).varint(data.length);
    if (data instanceof Uint8Array && data.length > 4096) {
      this.flush();
      this.chunks.push(data);
    } else {
      for (const byte of data) this.out.push(byte);
    }
    return this;
  }

  string(field: number, text: string): this {
    return this.bytes(field, new TextEncoder().encode(text));
  }

  message(field: number, inner: ProtoWriter): this {
    return this.bytes(field, inner.finish());
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.out.push(view.getUint8(i));
    return this;
  }

  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const run = new ProtoWriter();
    for (const v of values) run.varint(v);
    return this.bytes(field, run.finish());
  }

  packedFloats(field: number, values: readonly number[]): this {
    return this.bytes(field, new Uint8Array(Float32Array.from(values).buffer));
  }

  /** Raw bytes appended as they are (for hostile inputs). */
  raw(data: readonly number[] | Uint8Array): this {
    for (const byte of data) this.out.push(byte);
    return this;
  }

  /** Runs `write` on this writer (for optional or repeated fields inside a chain). */
  also(write: (writer: this) => void): this {
    write(this);
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    const result = new Uint8Array(this.chunks.reduce((total, chunk) => total + chunk.length, 0));
    let offset = 0;
    for (const chunk of this.chunks) {
      result.set(chunk, offset);
      offset += chunk.length;
    }
    return result;
  }
}

export const DataType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, double: 11 } as const;

export interface TensorSpec {
  name?: string;
  dims: readonly number[];
  dataType?: number;
  /** float_data (float) or int64_data / int32_data by type. */
  values?: readonly number[];
  raw?: Uint8Array;
  external?: string;
}

export function tensorProto(spec: TensorSpec): ProtoWriter {
  const t = new ProtoWriter();
  if (spec.dims.length) t.packedVarints(1, spec.dims);
  const type = spec.dataType ?? DataType.float;
  t.int(2, type);
  if (spec.name !== undefined) t.string(8, spec.name);
  if (spec.raw) t.bytes(9, spec.raw);
  else if (spec.values) {
    if (type === DataType.float) t.packedFloats(4, spec.values);
    else if (type === DataType.int64) t.packedVarints(7, spec.values);
    else if (type === DataType.double) t.bytes(10, new Uint8Array(Float64Array.from(spec.values).buffer));
    else t.packedVarints(5, spec.values);
  }
  if (spec.external !== undefined) {
    t.message(13, new ProtoWriter().string(1, 'location').string(2, spec.external));
    t.int(14, 1);
  }
  return t;
}

export type AttributeSpec = number | number[] | string | { float: number } | { floats: number[] } | { tensor: TensorSpec };

function attributeProto(name: string, value: AttributeSpec): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if (typeof value === 'number') return a.int(3, value).int(20, 2);
  if (typeof value === 'string') return a.string(4, value).int(20, 3);
  if (Array.isArray(value)) return a.packedVarints(8, value).int(20, 7);
  if ('float' in value) return a.float(2, value.float).int(20, 1);
  if ('floats' in value) return a.packedFloats(7, value.floats).int(20, 6);
  return a.message(5, tensorProto(value.tensor)).int(20, 4);
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeSpec>;
}

export function nodeProto(spec: NodeSpec): ProtoWriter {
  const n = new ProtoWriter();
  for (const input of spec.inputs) n.string(1, input);
  for (const output of spec.outputs) n.string(2, output);
  if (spec.name) n.string(3, spec.name);
  n.string(4, spec.op);
  if (spec.domain) n.string(7, spec.domain);
  for (const [name, value] of Object.entries(spec.attributes ?? {})) n.message(5, attributeProto(name, value));
  return n;
}

export interface ValueSpec {
  name: string;
  elemType?: number;
  /** Numbers are fixed sizes, strings symbolic ones. */
  dims?: (number | string)[];
}

function valueInfo(spec: ValueSpec): ProtoWriter {
  const tensor = new ProtoWriter().int(1, spec.elemType ?? DataType.float);
  if (spec.dims) {
    const shape = new ProtoWriter();
    for (const dim of spec.dims) shape.message(1, typeof dim === 'number' ? new ProtoWriter().int(1, dim) : new ProtoWriter().string(2, dim));
    tensor.message(2, shape);
  }
  return new ProtoWriter().string(1, spec.name).message(2, new ProtoWriter().message(1, tensor));
}

export interface ModelSpec {
  opset?: number;
  name?: string;
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  /** ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

export function graphProto(spec: ModelSpec): ProtoWriter {
  const g = new ProtoWriter();
  for (const node of spec.nodes) g.message(1, nodeProto(node));
  g.string(2, spec.name ?? 'test');
  for (const init of spec.initializers ?? []) g.message(5, tensorProto(init));
  for (const input of spec.inputs) g.message(11, valueInfo(input));
  for (const output of spec.outputs) g.message(12, valueInfo(output));
  return g;
}

export function modelBytes(spec: ModelSpec): Uint8Array {
  return new ProtoWriter()
    .int(1, 8)
    .string(2, 'gradlens-test')
    .message(7, graphProto(spec))
    .message(8, new ProtoWriter().string(1, '').int(2, spec.opset ?? 13))
    .also((writer) =>
      Object.entries(spec.metadata ?? {}).forEach(([key, value]) => writer.message(14, new ProtoWriter().string(1, key).string(2, value))),
    )
    .finish();
}

/** Float32 values as raw little-endian bytes. */
export const rawFloats = (values: readonly number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
