import { GradlensError } from '../gpu/errors.ts';
import type { Constant } from '../graph/ir.ts';
import { readTensor, type OnnxTensor } from './proto.ts';
import { corrupt, ProtoReader } from './protobuf.ts';

/** A tensor's values at load time: floats as float32, integers exactly (to 2^53) as float64, booleans as 0/1. */
export interface TensorValue {
  dtype: 'float' | 'int' | 'bool';
  shape: number[];
  data: Float32Array | Float64Array;
}

/** A tensor larger than this many elements is refused before anything is allocated. */
export const MAX_ELEMENTS = 2 ** 31;

export const DATA_TYPES: Readonly<Record<number, { name: string; bytes: number; dtype: TensorValue['dtype'] }>> = {
  1: { name: 'float32', bytes: 4, dtype: 'float' },
  2: { name: 'uint8', bytes: 1, dtype: 'int' },
  3: { name: 'int8', bytes: 1, dtype: 'int' },
  4: { name: 'uint16', bytes: 2, dtype: 'int' },
  5: { name: 'int16', bytes: 2, dtype: 'int' },
  6: { name: 'int32', bytes: 4, dtype: 'int' },
  7: { name: 'int64', bytes: 8, dtype: 'int' },
  9: { name: 'bool', bytes: 1, dtype: 'bool' },
  10: { name: 'float16', bytes: 2, dtype: 'float' },
  11: { name: 'float64', bytes: 8, dtype: 'float' },
  12: { name: 'uint32', bytes: 4, dtype: 'int' },
  13: { name: 'uint64', bytes: 8, dtype: 'int' },
  16: { name: 'bfloat16', bytes: 2, dtype: 'float' },
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Element count of `dims`, checked: non-negative integers whose product stays under MAX_ELEMENTS. */
export function elementCount(dims: readonly number[], what: string): number {
  let count = 1;
  for (const dim of dims) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw corrupt(`${what} has dimension ${dim}`);
    count *= dim;
    if (count > MAX_ELEMENTS)
      throw new GradlensError('BAD_MODEL', `${what} has more than ${MAX_ELEMENTS} elements [${dims.join(', ')}]; gradlens cannot hold it`);
  }
  return count;
}

/** IEEE half → number (exact). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const bfloatView = new DataView(new ArrayBuffer(4));
function bfloatToFloat(bits: number): number {
  bfloatView.setUint32(0, (bits & 0xffff) << 16);
  return bfloatView.getFloat32(0);
}

/** Reads one raw little-endian element of `type` at byte `offset`. */
function rawElement(view: DataView, type: number, offset: number): number {
  switch (type) {
    case 1:
      return view.getFloat32(offset, true);
    case 2:
      return view.getUint8(offset);
    case 3:
      return view.getInt8(offset);
    case 4:
      return view.getUint16(offset, true);
    case 5:
      return view.getInt16(offset, true);
    case 6:
      return view.getInt32(offset, true);
    case 7:
      return view.getInt32(offset + 4, true) * 4294967296 + view.getUint32(offset, true);
    case 9:
      return view.getUint8(offset) ? 1 : 0;
    case 10:
      return halfToFloat(view.getUint16(offset, true));
    case 11:
      return view.getFloat64(offset, true);
    case 12:
      return view.getUint32(offset, true);
    case 13:
      return view.getUint32(offset + 4, true) * 4294967296 + view.getUint32(offset, true);
    default:
      return bfloatToFloat(view.getUint16(offset, true));
  }
}

/** The typed field that holds `type`'s values when raw_data is absent (onnx.proto's comments on each field). */
function typedField(tensor: OnnxTensor): number[] {
  switch (tensor.dataType) {
    case 1:
      return tensor.floatData;
    case 7:
      return tensor.int64Data;
    case 11:
      return tensor.doubleData;
    case 12:
    case 13:
      return tensor.uint64Data;
    default:
      return tensor.int32Data;
  }
}

function fromBits(type: number, value: number): number {
  if (type === 10) return halfToFloat(value);
  if (type === 16) return bfloatToFloat(value);
  if (type === 9) return value ? 1 : 0;
  return value;
}

/**
 * A TensorProto's values. Float32 raw data that is 4-byte aligned is viewed in place (no copy). External data is
 * refused: gradlens reads one self-contained file.
 */
export function tensorValue(tensor: OnnxTensor): TensorValue {
  const what = `tensor "${tensor.name}"`;
  if (tensor.external) {
    throw new GradlensError(
      'EXTERNAL_DATA',
      `${what} keeps its data in an external file (${tensor.externalLocation ?? 'no location'}); gradlens reads one self-contained .onnx file. ` +
        `Re-save the model with the data inside: onnx.save_model(onnx.load("model.onnx"), "inline.onnx", save_as_external_data=False) (models up to 2 GB).`,
    );
  }
  const type = DATA_TYPES[tensor.dataType];
  if (!type) {
    const kind = tensor.dataType === 8 ? 'string' : tensor.dataType === 14 || tensor.dataType === 15 ? 'complex' : `data type ${tensor.dataType}`;
    throw new GradlensError('BAD_MODEL', `${what} holds ${kind} values; gradlens reads numeric tensors only`);
  }
  if (tensor.segmented) throw new GradlensError('BAD_MODEL', `${what} is segmented (TensorProto.segment); re-save the model with whole tensors`);
  const count = elementCount(tensor.dims, what);
  const shape = [...tensor.dims];
  const make = (n: number) => (type.dtype === 'float' ? new Float32Array(n) : new Float64Array(n));
  if (tensor.rawData) {
    const raw = tensor.rawData;
    if (raw.length !== count * type.bytes) throw corrupt(`${what}: ${raw.length} bytes of raw data for ${count} ${type.name} values`);
    if (tensor.dataType === 1 && LITTLE_ENDIAN && raw.byteOffset % 4 === 0) {
      return { dtype: 'float', shape, data: new Float32Array(raw.buffer, raw.byteOffset, count) };
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const data = make(count);
    for (let i = 0; i < count; i++) data[i] = rawElement(view, tensor.dataType, i * type.bytes);
    return { dtype: type.dtype, shape, data };
  }
  const values = typedField(tensor);
  if (values.length !== count) throw corrupt(`${what}: ${values.length} values for shape [${shape.join(', ')}]`);
  const data = make(count);
  for (let i = 0; i < count; i++) data[i] = fromBits(tensor.dataType, values[i]!);
  return { dtype: type.dtype, shape, data };
}

/** A value as the graph IR's float32 constant (integers converted: fine for shapes, axes and indices). */
export function toConstant(value: TensorValue): Constant {
  return { shape: value.shape, data: value.data instanceof Float32Array ? value.data : Float32Array.from(value.data) };
}

/** A serialized TensorProto (an ONNX test's input_0.pb, output_0.pb) as a float32 tensor, with its name and data type. */
export function decodeTensor(bytes: Uint8Array): Constant & { name: string; dataType: string } {
  const tensor = readTensor(new ProtoReader(bytes));
  const value = tensorValue(tensor);
  return { name: tensor.name, dataType: DATA_TYPES[tensor.dataType]!.name, ...toConstant(value) };
}
