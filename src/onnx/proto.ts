// The parts of onnx.proto (onnx/onnx.proto, IR version 8 and later) that loading needs, decoded into plain objects.
// Field numbers are onnx.proto's. Unknown fields are skipped; subgraphs (If, Loop, Scan) are skipped unread, so
// nesting never recurses.
import { ProtoReader, WIRE, corrupt, expectWire, readDouble, readFloat, readRepeated, readVarint, type WireType } from './protobuf.ts';

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** TensorProto.DataType: 1 float, 2 uint8, 3 int8, 6 int32, 7 int64, 9 bool, 10 float16, 11 double, 16 bfloat16, ... */
  dataType: number;
  /** Little-endian bytes, a subarray of the model (no copy). */
  rawData?: Uint8Array;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  uint64Data: number[];
  stringCount: number;
  /** data_location = EXTERNAL: the values live in another file. */
  external: boolean;
  externalLocation?: string;
  segmented: boolean;
}

export interface OnnxAttribute {
  name: string;
  /** AttributeProto.AttributeType; 0 in old files, where the field present tells. */
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  /** Graphs, sparse tensors, type protos: present but not read (no supported op takes them). */
  unread: boolean;
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxValueInfo {
  name: string;
  /** A tensor type (not a sequence, map or optional). */
  isTensor: boolean;
  elemType: number;
  /** Each dim's value, or its symbolic name; undefined where the type has no shape. */
  dims?: (number | string | undefined)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  sparseInitializers: string[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  /** Opset version by domain ('' is the default ONNX domain). */
  opsets: Map<string, number>;
  producer: string;
  graph: OnnxGraph;
  /** ModelProto.metadata_props: free-form key/value pairs (class names live here in many exports). */
  metadata: Map<string, string>;
}

/** Reads each field of a message with `on`; fields it does not claim are skipped. */
function fields(reader: ProtoReader, on: (field: number, wire: WireType) => boolean): void {
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (!on(field, wire)) reader.skip(wire);
  }
}

function string(reader: ProtoReader, wire: WireType, name: string): string {
  expectWire(wire, WIRE.bytes, name);
  return reader.string();
}

function varint(reader: ProtoReader, wire: WireType, name: string): number {
  expectWire(wire, WIRE.varint, name);
  return reader.varint();
}

export function decodeModel(bytes: Uint8Array): OnnxModel {
  const model: OnnxModel = { irVersion: 0, opsets: new Map(), producer: '', graph: emptyGraph(), metadata: new Map() };
  let graphSeen = false;
  const r = new ProtoReader(bytes);
  fields(r, (field, wire) => {
    if (field === 1) model.irVersion = varint(r, wire, 'ModelProto.ir_version');
    else if (field === 2) model.producer = string(r, wire, 'ModelProto.producer_name');
    else if (field === 7) {
      expectWire(wire, WIRE.bytes, 'ModelProto.graph');
      model.graph = decodeGraph(r.message());
      graphSeen = true;
    } else if (field === 8) {
      expectWire(wire, WIRE.bytes, 'ModelProto.opset_import');
      let domain = '';
      let version = 0;
      const o = r.message();
      fields(o, (f, w) => {
        if (f === 1) domain = string(o, w, 'OperatorSetIdProto.domain');
        else if (f === 2) version = varint(o, w, 'OperatorSetIdProto.version');
        else return false;
        return true;
      });
      model.opsets.set(domain === 'ai.onnx' ? '' : domain, version);
    } else if (field === 14) {
      expectWire(wire, WIRE.bytes, 'ModelProto.metadata_props');
      let key = '';
      let value = '';
      const entry = r.message();
      fields(entry, (f, w) => {
        if (f === 1) key = string(entry, w, 'StringStringEntryProto.key');
        else if (f === 2) value = string(entry, w, 'StringStringEntryProto.value');
        else return false;
        return true;
      });
      model.metadata.set(key, value);
    } else return false;
    return true;
  });
  if (!graphSeen) throw corrupt('no graph in the model');
  return model;
}

function emptyGraph(): OnnxGraph {
  return { name: '', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [] };
}

function decodeGraph(reader: ProtoReader): OnnxGraph {
  const graph = emptyGraph();
  fields(reader, (field, wire) => {
    if (field === 1) graph.nodes.push(decodeNode(sub(reader, wire, 'GraphProto.node')));
    else if (field === 2) graph.name = string(reader, wire, 'GraphProto.name');
    else if (field === 5) graph.initializers.push(readTensor(sub(reader, wire, 'GraphProto.initializer')));
    else if (field === 11) graph.inputs.push(decodeValueInfo(sub(reader, wire, 'GraphProto.input')));
    else if (field === 12) graph.outputs.push(decodeValueInfo(sub(reader, wire, 'GraphProto.output')));
    else if (field === 15) {
      // SparseTensorProto: only the name (values.name) is read, to say which initializer is sparse.
      const sparse = sub(reader, wire, 'GraphProto.sparse_initializer');
      fields(sparse, (f, w) => {
        if (f !== 1) return false;
        graph.sparseInitializers.push(readTensor(sub(sparse, w, 'SparseTensorProto.values')).name);
        return true;
      });
    } else return false;
    return true;
  });
  return graph;
}

function sub(reader: ProtoReader, wire: WireType, name: string): ProtoReader {
  expectWire(wire, WIRE.bytes, name);
  return reader.message();
}

function decodeNode(reader: ProtoReader): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  fields(reader, (field, wire) => {
    if (field === 1) node.inputs.push(string(reader, wire, 'NodeProto.input'));
    else if (field === 2) node.outputs.push(string(reader, wire, 'NodeProto.output'));
    else if (field === 3) node.name = string(reader, wire, 'NodeProto.name');
    else if (field === 4) node.opType = string(reader, wire, 'NodeProto.op_type');
    else if (field === 7) node.domain = string(reader, wire, 'NodeProto.domain');
    else if (field === 5) node.attributes.push(decodeAttribute(sub(reader, wire, 'NodeProto.attribute')));
    else return false;
    return true;
  });
  if (node.domain === 'ai.onnx') node.domain = '';
  return node;
}

function decodeAttribute(reader: ProtoReader): OnnxAttribute {
  const a: OnnxAttribute = { name: '', type: 0, floats: [], ints: [], strings: [], unread: false };
  fields(reader, (field, wire) => {
    if (field === 1) a.name = string(reader, wire, 'AttributeProto.name');
    else if (field === 20) a.type = varint(reader, wire, 'AttributeProto.type');
    else if (field === 2) {
      expectWire(wire, WIRE.fixed32, 'AttributeProto.f');
      a.f = readFloat(reader);
    } else if (field === 3) a.i = varint(reader, wire, 'AttributeProto.i');
    else if (field === 4) {
      expectWire(wire, WIRE.bytes, 'AttributeProto.s');
      a.s = reader.bytesField();
    } else if (field === 5) a.t = readTensor(sub(reader, wire, 'AttributeProto.t'));
    else if (field === 7) readRepeated(reader, wire, 'fixed32', a.floats, 'AttributeProto.floats', readFloat);
    else if (field === 8) readRepeated(reader, wire, 'varint', a.ints, 'AttributeProto.ints', readVarint);
    else if (field === 9) {
      expectWire(wire, WIRE.bytes, 'AttributeProto.strings');
      a.strings.push(reader.bytesField());
    } else if (field === 6 || field === 10 || field === 11 || field === 14 || field === 15 || field === 22 || field === 23) {
      expectWire(wire, WIRE.bytes, `AttributeProto field ${field}`);
      reader.bytesField();
      a.unread = true;
    } else return false;
    return true;
  });
  return a;
}

export function readTensor(reader: ProtoReader): OnnxTensor {
  const t: OnnxTensor = {
    name: '',
    dims: [],
    dataType: 0,
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    stringCount: 0,
    external: false,
    segmented: false,
  };
  fields(reader, (field, wire) => {
    if (field === 1) readRepeated(reader, wire, 'varint', t.dims, 'TensorProto.dims', readVarint);
    else if (field === 2) t.dataType = varint(reader, wire, 'TensorProto.data_type');
    else if (field === 3) {
      expectWire(wire, WIRE.bytes, 'TensorProto.segment');
      reader.bytesField();
      t.segmented = true;
    } else if (field === 4) readRepeated(reader, wire, 'fixed32', t.floatData, 'TensorProto.float_data', readFloat);
    else if (field === 5) readRepeated(reader, wire, 'varint', t.int32Data, 'TensorProto.int32_data', readVarint);
    else if (field === 6) {
      expectWire(wire, WIRE.bytes, 'TensorProto.string_data');
      reader.bytesField();
      t.stringCount++;
    } else if (field === 7) readRepeated(reader, wire, 'varint', t.int64Data, 'TensorProto.int64_data', readVarint);
    else if (field === 8) t.name = string(reader, wire, 'TensorProto.name');
    else if (field === 9) {
      expectWire(wire, WIRE.bytes, 'TensorProto.raw_data');
      t.rawData = reader.bytesField();
    } else if (field === 10) readRepeated(reader, wire, 'fixed64', t.doubleData, 'TensorProto.double_data', readDouble);
    else if (field === 11) readRepeated(reader, wire, 'varint', t.uint64Data, 'TensorProto.uint64_data', readVarint);
    else if (field === 13) {
      const entry = sub(reader, wire, 'TensorProto.external_data');
      let key = '';
      let value = '';
      fields(entry, (f, w) => {
        if (f === 1) key = string(entry, w, 'StringStringEntryProto.key');
        else if (f === 2) value = string(entry, w, 'StringStringEntryProto.value');
        else return false;
        return true;
      });
      if (key === 'location') t.externalLocation = value;
    } else if (field === 14) t.external = varint(reader, wire, 'TensorProto.data_location') === 1;
    else return false;
    return true;
  });
  return t;
}

function decodeValueInfo(reader: ProtoReader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', isTensor: false, elemType: 0 };
  fields(reader, (field, wire) => {
    if (field === 1) info.name = string(reader, wire, 'ValueInfoProto.name');
    else if (field === 2) {
      const type = sub(reader, wire, 'ValueInfoProto.type');
      fields(type, (f, w) => {
        if (f !== 1) return false; // sequence, map, optional, sparse: not tensors
        info.isTensor = true;
        const tensor = sub(type, w, 'TypeProto.tensor_type');
        fields(tensor, (g, x) => {
          if (g === 1) info.elemType = varint(tensor, x, 'TypeProto.Tensor.elem_type');
          else if (g === 2) info.dims = decodeShape(sub(tensor, x, 'TypeProto.Tensor.shape'));
          else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return info;
}

function decodeShape(reader: ProtoReader): (number | string | undefined)[] {
  const dims: (number | string | undefined)[] = [];
  fields(reader, (field, wire) => {
    if (field !== 1) return false;
    const dim = sub(reader, wire, 'TensorShapeProto.dim');
    let value: number | string | undefined;
    fields(dim, (f, w) => {
      if (f === 1) value = varint(dim, w, 'Dimension.dim_value');
      else if (f === 2) value = string(dim, w, 'Dimension.dim_param');
      else return false;
      return true;
    });
    dims.push(value);
    return true;
  });
  return dims;
}
