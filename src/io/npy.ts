import { GradlensError } from '../gpu/errors.ts';

/**
 * NumPy's .npy format (numpy.lib.format, versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", a version, a header
 * length, a Python-literal dict {'descr', 'fortran_order', 'shape'}, then the raw array in C order.
 * Little-endian numeric dtypes only; the host is assumed little-endian (every WebGPU platform is).
 */

export type NpyDtype = 'bool' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export type NpyData =
  Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

export interface NpyArray {
  shape: number[];
  dtype: NpyDtype;
  /** Row-major values; bool as 0/1 bytes in a Uint8Array. */
  data: NpyData;
}

interface DtypeInfo {
  /** numpy's descr with its byte-order mark, as np.save writes it. */
  descr: string;
  bytes: number;
  make: (buffer: ArrayBuffer) => NpyData;
}

const DTYPES: Readonly<Record<NpyDtype, DtypeInfo>> = {
  bool: { descr: '|b1', bytes: 1, make: (b) => new Uint8Array(b) },
  int8: { descr: '|i1', bytes: 1, make: (b) => new Int8Array(b) },
  uint8: { descr: '|u1', bytes: 1, make: (b) => new Uint8Array(b) },
  int16: { descr: '<i2', bytes: 2, make: (b) => new Int16Array(b) },
  uint16: { descr: '<u2', bytes: 2, make: (b) => new Uint16Array(b) },
  int32: { descr: '<i4', bytes: 4, make: (b) => new Int32Array(b) },
  uint32: { descr: '<u4', bytes: 4, make: (b) => new Uint32Array(b) },
  int64: { descr: '<i8', bytes: 8, make: (b) => new BigInt64Array(b) },
  uint64: { descr: '<u8', bytes: 8, make: (b) => new BigUint64Array(b) },
  float32: { descr: '<f4', bytes: 4, make: (b) => new Float32Array(b) },
  float64: { descr: '<f8', bytes: 8, make: (b) => new Float64Array(b) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64; // numpy ≥ 1.14 pads the header so the data starts on a 64-byte boundary
const GROWTH_AXIS_MAX_DIGITS = 21; // numpy ≥ 1.22 leaves room for the shape to grow in place; copied so files match byte for byte

function bad(message: string): GradlensError {
  return new GradlensError('BAD_INPUT', `not a readable .npy file: ${message}`);
}

function dtypeOf(descr: string): NpyDtype {
  const order = descr[0];
  const kind = descr.slice(1);
  if (order === '>' && kind !== 'i1' && kind !== 'u1' && kind !== 'b1') {
    throw bad(`dtype '${descr}' is big-endian; save it little-endian (array.astype('<${kind}'))`);
  }
  const found = (Object.keys(DTYPES) as NpyDtype[]).find((name) => DTYPES[name].descr.slice(1) === kind);
  if (!found || !'<|=>'.includes(order ?? '')) {
    throw bad(
      `dtype '${descr}' is not supported; use one of ${Object.values(DTYPES)
        .map((d) => d.descr)
        .join(', ')}`,
    );
  }
  return found;
}

/** Reads an .npy file. Trailing bytes after the array are ignored, as numpy.load does. */
export function readNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((byte, i) => bytes[i] !== byte)) throw bad('it does not start with \\x93NUMPY');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw bad(`format version ${major}.${bytes[7]} is unknown (1.0, 2.0 and 3.0 are)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw bad('the header length is cut off');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) throw bad(`the header claims ${headerLength} bytes but the file has ${bytes.length - 8 - lengthBytes} after it`);
  const headerBytes = bytes.subarray(8 + lengthBytes, dataStart);
  // Versions 1 and 2 are latin-1; 3 is UTF-8.
  const text = major === 3 ? new TextDecoder('utf-8', { fatal: false }).decode(headerBytes) : String.fromCharCode(...headerBytes);
  const header = parseHeader(text);
  const dtype = dtypeOf(header.descr);
  if (header.fortranOrder) throw bad('the array is in Fortran order; save it in C order (np.ascontiguousarray(array))');
  const count = header.shape.reduce((product, dim) => product * dim, 1);
  const byteLength = count * DTYPES[dtype].bytes;
  if (dataStart + byteLength > bytes.length) {
    throw bad(
      `the data is truncated: shape (${header.shape.join(', ')}) of ${dtype} needs ${byteLength} bytes, the file has ${bytes.length - dataStart}`,
    );
  }
  // Copy so the array owns aligned storage whatever the input's byte offset.
  // Copied through the Uint8Array constructor: a Node Buffer's slice() is a view into a shared pool.
  const data = DTYPES[dtype].make(new Uint8Array(bytes.subarray(dataStart, dataStart + byteLength)).buffer);
  return { shape: header.shape, dtype, data };
}

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** Parses the header dict, a Python literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. */
function parseHeader(text: string): Header {
  let at = 0;
  const skip = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++;
  };
  const expect = (char: string) => {
    skip();
    if (text[at] !== char) throw bad(`malformed header at ${at}: expected '${char}' in ${JSON.stringify(text.trim())}`);
    at++;
  };
  const peek = () => (skip(), text[at]);
  const string = (): string => {
    skip();
    const quote = text[at];
    if (quote !== "'" && quote !== '"') throw bad(`malformed header at ${at}: expected a string in ${JSON.stringify(text.trim())}`);
    const end = text.indexOf(quote, at + 1);
    if (end < 0) throw bad('malformed header: unterminated string');
    const value = text.slice(at + 1, end);
    at = end + 1;
    return value;
  };
  const value = (): string | boolean | number[] => {
    const next = peek();
    if (next === "'" || next === '"') return string();
    if (next === '(') {
      at++;
      const dims: number[] = [];
      while (peek() !== ')') {
        const match = /^\d+L?/.exec(text.slice(at)); // Python 2 wrote longs as 3L
        if (!match) throw bad(`malformed header at ${at}: a shape holds non-negative integers, in ${JSON.stringify(text.trim())}`);
        dims.push(Number.parseInt(match[0], 10));
        at += match[0].length;
        if (peek() === ',') at++;
        else if (peek() !== ')') throw bad(`malformed header at ${at}: expected ',' or ')' in the shape`);
      }
      at++;
      return dims;
    }
    for (const [word, literal] of [
      ['True', true],
      ['False', false],
    ] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return literal;
      }
    }
    throw bad(`malformed header at ${at}: unexpected ${JSON.stringify(text.slice(at, at + 12))} (a structured dtype or an object array?)`);
  };
  const entries = new Map<string, string | boolean | number[]>();
  expect('{');
  while (peek() !== '}') {
    if (at >= text.length) throw bad('malformed header: no closing }');
    const key = string();
    expect(':');
    entries.set(key, value());
    if (peek() === ',') at++;
    else if (peek() !== '}') throw bad(`malformed header at ${at}: expected ',' or '}'`);
  }
  const descr = entries.get('descr');
  const fortranOrder = entries.get('fortran_order');
  const shape = entries.get('shape');
  if (typeof descr !== 'string' || typeof fortranOrder !== 'boolean' || !Array.isArray(shape)) {
    throw bad(`the header needs 'descr' (a string), 'fortran_order' (a bool) and 'shape' (a tuple): ${JSON.stringify(text.trim())}`);
  }
  return { descr, fortranOrder, shape };
}

function defaultDtype(data: NpyData | ArrayLike<number>): NpyDtype {
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  return 'float32';
}

/** Converts values to the dtype's typed array; integers from floats are truncated toward zero, as numpy's astype. */
function toDtype(data: NpyData | ArrayLike<number>, dtype: NpyDtype): NpyData {
  const numbers = (): number[] => Array.from(data as ArrayLike<number | bigint>, Number);
  switch (dtype) {
    case 'int64':
      return data instanceof BigInt64Array ? data : BigInt64Array.from(numbers(), (v) => BigInt(Math.trunc(v)));
    case 'uint64':
      return data instanceof BigUint64Array ? data : BigUint64Array.from(numbers(), (v) => BigInt(Math.trunc(v)));
    case 'bool':
      return Uint8Array.from(numbers(), (v) => (v !== 0 ? 1 : 0));
    default: {
      const make = {
        int8: Int8Array,
        uint8: Uint8Array,
        int16: Int16Array,
        uint16: Uint16Array,
        int32: Int32Array,
        uint32: Uint32Array,
        float32: Float32Array,
        float64: Float64Array,
      }[dtype];
      return data instanceof make ? data : new make(dtype.startsWith('float') ? numbers() : numbers().map(Math.trunc));
    }
  }
}

/**
 * Writes an .npy file in C order, as np.save does (byte for byte for the same array): version 1.0, or 2.0 when the
 * header outgrows 65535 bytes. The dtype defaults to the typed array's (float32 for plain number arrays).
 */
export function writeNpy(data: NpyData | ArrayLike<number>, shape: readonly number[], dtype: NpyDtype = defaultDtype(data)): Uint8Array {
  if (!shape.every((dim) => Number.isInteger(dim) && dim >= 0))
    throw new GradlensError('BAD_INPUT', `shape (${shape.join(', ')}) must hold non-negative integers`);
  const count = shape.reduce((product, dim) => product * dim, 1);
  if (data.length !== count) throw new GradlensError('BAD_INPUT', `${data.length} values do not fill shape (${shape.join(', ')}) of ${count}`);
  const info = DTYPES[dtype];
  if (!info) throw new GradlensError('BAD_INPUT', `dtype ${String(dtype)} is not supported; use one of ${Object.keys(DTYPES).join(', ')}`);
  const values = toDtype(data, dtype);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${info.descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const withLength = (lengthBytes: number) => {
    const unpadded = MAGIC.length + 2 + lengthBytes + dict.length + 1;
    return dict.length + 1 + ALIGN - (unpadded % ALIGN); // numpy pads 1..64 bytes, never 0
  };
  const major = withLength(2) <= 0xffff ? 1 : 2;
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = withLength(lengthBytes);
  const dataStart = MAGIC.length + 2 + lengthBytes + headerLength;
  const out = new Uint8Array(dataStart + count * info.bytes);
  out.set(MAGIC);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  for (let i = 0; i < header.length; i++) out[8 + lengthBytes + i] = header.charCodeAt(i);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), dataStart);
  return out;
}

/** The array's values as float32 (what the runtime takes); a float32 array is returned as is, not copied. */
export function toFloat32(array: NpyArray): Float32Array {
  if (array.data instanceof Float32Array) return array.data;
  return Float32Array.from(array.data as ArrayLike<number | bigint>, Number);
}
