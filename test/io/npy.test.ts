import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGradlensError } from '../../src/gpu/errors.ts';
import { readNpy, toFloat32, writeNpy, type NpyData, type NpyDtype } from '../../src/io/npy.ts';

/** Files written by NumPy's np.save (fixtures/make_fixtures.py, make_npy_fixtures); their values are restated here. */
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/pytorch/npy/${name}.npy`, import.meta.url)));

// (np.arange(6).reshape(2, 3) − 2.5) / 4, exact in float32.
const FLOAT32_2X3 = [-0.625, -0.375, -0.125, 0.125, 0.375, 0.625];

function expectBadInput(read: () => unknown, message: RegExp): void {
  try {
    read();
  } catch (error) {
    expect(isGradlensError(error, 'BAD_INPUT'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    return;
  }
  expect.fail('expected a BAD_INPUT error');
}

/** A version-1.0 file around a hand-written header dict, for malformed cases numpy would never write. */
function withHeader(dict: string, data = new Uint8Array(0)): Uint8Array {
  const header = new TextEncoder().encode(dict.padEnd(64 - 10 - 1, ' ') + '\n');
  const bytes = new Uint8Array(10 + header.length + data.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  bytes.set(header, 10);
  bytes.set(data, 10 + header.length);
  return bytes;
}

describe('readNpy: arrays written by NumPy', () => {
  it('reads float32 with its shape, in C order', () => {
    const array = readNpy(fixture('float32_2x3'));
    expect(array.dtype).toBe('float32');
    expect(array.shape).toEqual([2, 3]);
    expect(array.data).toBeInstanceOf(Float32Array);
    expect(Array.from(array.data as Float32Array)).toEqual(FLOAT32_2X3);
  });

  it('reads float64 exactly, keeping 1e300 and the sign of zero', () => {
    const { data, dtype } = readNpy(fixture('float64_4'));
    expect(dtype).toBe('float64');
    expect(Array.from(data as Float64Array)).toEqual([0.1, -2.5, 1e300, -0]);
    expect(Object.is((data as Float64Array)[3], -0)).toBe(true);
  });

  it('reads int64 as BigInt64Array, beyond 2^53', () => {
    const { data, dtype, shape } = readNpy(fixture('int64_3'));
    expect([dtype, shape]).toEqual(['int64', [3]]);
    expect(Array.from(data as BigInt64Array)).toEqual([-(2n ** 40n), 7n, 2n ** 62n]);
  });

  it('reads every other integer width and bool', () => {
    const cases: [string, NpyDtype, number[], (number | bigint)[]][] = [
      ['int32_2x2', 'int32', [2, 2], [-3, 2, 2 ** 31 - 1, -(2 ** 31)]],
      ['uint8_5', 'uint8', [5], [0, 1, 127, 128, 255]],
      ['bool_4', 'bool', [4], [1, 0, 0, 1]],
      ['int8_3', 'int8', [3], [-128, 0, 127]],
      ['int16_2', 'int16', [2], [-32768, 32767]],
      ['uint16_2', 'uint16', [2], [0, 65535]],
      ['uint32_2', 'uint32', [2], [0, 2 ** 32 - 1]],
      ['uint64_2', 'uint64', [2], [0n, 2n ** 64n - 1n]],
    ];
    for (const [name, dtype, shape, values] of cases) {
      const array = readNpy(fixture(name));
      expect([array.dtype, array.shape, Array.from(array.data as ArrayLike<number | bigint>)], name).toEqual([dtype, shape, values]);
    }
  });

  it('reads a 0-d scalar as shape [] with one value', () => {
    const { data, shape } = readNpy(fixture('float32_scalar'));
    expect(shape).toEqual([]);
    expect(Array.from(data as Float32Array)).toEqual([1.5]);
  });

  it('reads an empty array', () => {
    const { data, shape } = readNpy(fixture('float32_0x3'));
    expect(shape).toEqual([0, 3]);
    expect(data.length).toBe(0);
  });

  it('reads a 4-D NCHW array in C order', () => {
    const { data, shape } = readNpy(fixture('float32_1x2x3x4'));
    expect(shape).toEqual([1, 2, 3, 4]);
    expect(Array.from(data as Float32Array)).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('reads format versions 2.0 and 3.0 (4-byte header length)', () => {
    for (const version of ['v2', 'v3']) {
      const bytes = fixture(`float32_2x3.${version}`);
      expect(bytes[6], version).toBe(Number(version[1]));
      expect(Array.from(readNpy(bytes).data as Float32Array), version).toEqual(FLOAT32_2X3);
    }
  });

  it('reads from a view at an unaligned byte offset', () => {
    const file = fixture('float32_2x3');
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    expect(Array.from(readNpy(padded.subarray(3)).data as Float32Array)).toEqual(FLOAT32_2X3);
  });

  it('ignores bytes after the array, as numpy.load does', () => {
    const file = fixture('float32_2x3');
    const longer = new Uint8Array(file.length + 8);
    longer.set(file);
    expect(Array.from(readNpy(longer).data as Float32Array)).toEqual(FLOAT32_2X3);
  });
});

describe('readNpy: what it refuses, with BAD_INPUT', () => {
  it('Fortran order', () => expectBadInput(() => readNpy(fixture('fortran_float32_2x3')), /Fortran order/));
  it('big-endian data', () => expectBadInput(() => readNpy(fixture('bigendian_float32_3')), /big-endian/));
  it('an unsupported dtype (float16)', () => expectBadInput(() => readNpy(fixture('float16_2')), /'<f2' is not supported/));
  it('truncated data', () => {
    const file = fixture('float32_2x3');
    expectBadInput(() => readNpy(file.subarray(0, file.length - 4)), /truncated: .* needs 24 bytes, the file has 20/);
  });
  it('a file that is not .npy', () => expectBadInput(() => readNpy(new TextEncoder().encode('PK\x03\x04 a zip, maybe an .npz')), /\\x93NUMPY/));
  it('a header cut off', () => expectBadInput(() => readNpy(fixture('float32_2x3').subarray(0, 40)), /header claims 118 bytes/));
  it('an unknown format version', () => {
    const file = fixture('float32_2x3').slice();
    file[6] = 4;
    expectBadInput(() => readNpy(file), /version 4\.0 is unknown/);
  });
  it('a header without a shape', () =>
    expectBadInput(() => readNpy(withHeader("{'descr': '<f4', 'fortran_order': False, }")), /needs 'descr'.*'shape'/));
  it('a malformed header dict', () =>
    expectBadInput(() => readNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }")), /malformed header/));
  it('a structured dtype', () =>
    expectBadInput(() => readNpy(withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }")), /malformed header/));
});

describe('writeNpy', () => {
  it('writes the same bytes as np.save for each dtype and shape', () => {
    const cases: [string, number[], number[], NpyDtype][] = [
      ['float32_2x3', FLOAT32_2X3, [2, 3], 'float32'],
      ['float64_4', [0.1, -2.5, 1e300, -0], [4], 'float64'],
      ['int32_2x2', [-3, 2, 2 ** 31 - 1, -(2 ** 31)], [2, 2], 'int32'],
      ['uint8_5', [0, 1, 127, 128, 255], [5], 'uint8'],
      ['bool_4', [1, 0, 0, 1], [4], 'bool'],
      ['float32_scalar', [1.5], [], 'float32'],
      ['float32_0x3', [], [0, 3], 'float32'],
      ['float32_1x2x3x4', Array.from({ length: 24 }, (_, i) => i), [1, 2, 3, 4], 'float32'],
    ];
    for (const [name, values, shape, dtype] of cases) {
      expect(writeNpy(values, shape, dtype), name).toEqual(fixture(name));
    }
    expect(writeNpy(BigInt64Array.from([-(2n ** 40n), 7n, 2n ** 62n]), [3]), 'int64_3').toEqual(fixture('int64_3'));
  });

  it('takes the dtype from the typed array when none is given', () => {
    const cases: [NpyData | number[], NpyDtype][] = [
      [new Float32Array(2), 'float32'],
      [new Float64Array(2), 'float64'],
      [new Int32Array(2), 'int32'],
      [new Uint8Array(2), 'uint8'],
      [new BigInt64Array(2), 'int64'],
      [[0, 1], 'float32'],
    ];
    for (const [data, dtype] of cases) expect(readNpy(writeNpy(data, [2])).dtype).toBe(dtype);
  });

  it('round-trips every dtype through readNpy', () => {
    const dtypes: NpyDtype[] = ['bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64'];
    for (const dtype of dtypes) {
      const array = readNpy(writeNpy([0, 1, 1, 0, 1, 1], [3, 2], dtype));
      expect([array.dtype, array.shape], dtype).toEqual([dtype, [3, 2]]);
      expect(Array.from(array.data as ArrayLike<number | bigint>, Number), dtype).toEqual([0, 1, 1, 0, 1, 1]);
    }
  });

  it('converts numbers to int64, truncating toward zero as astype does', () => {
    const { data } = readNpy(writeNpy([3, -2.7, 2 ** 40], [3], 'int64'));
    expect(Array.from(data as BigInt64Array)).toEqual([3n, -2n, 2n ** 40n]);
  });

  it('switches to format 2.0 when the header outgrows version 1.0’s 65535 bytes', () => {
    const shape = Array.from({ length: 25_000 }, () => 1); // "1, " × 25000 ≈ 75 kB of header
    const bytes = writeNpy([2.5], shape);
    expect(bytes[6]).toBe(2);
    const array = readNpy(bytes);
    expect([array.shape.length, Array.from(array.data as Float32Array)]).toEqual([25_000, [2.5]]);
  });

  it('aligns the data on 64 bytes', () => {
    for (const shape of [[1], [7, 3], [1, 2, 3, 4, 5]]) {
      const bytes = writeNpy(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      expect((bytes.length - 4 * shape.reduce((a, b) => a * b, 1)) % 64, String(shape)).toBe(0);
    }
  });

  it('refuses values that do not fill the shape', () => expectBadInput(() => writeNpy([1, 2, 3], [2, 2]), /3 values do not fill shape \(2, 2\)/));
  it('refuses a negative or fractional dimension', () => expectBadInput(() => writeNpy([], [-1]), /non-negative integers/));
});

describe('toFloat32', () => {
  it('returns a float32 array as it is, without a copy', () => {
    const array = readNpy(fixture('float32_2x3'));
    expect(toFloat32(array)).toBe(array.data);
  });

  it('converts float64 and int64 values', () => {
    expect(Array.from(toFloat32(readNpy(fixture('float64_4'))))).toEqual([Math.fround(0.1), -2.5, Infinity, -0]);
    expect(Array.from(toFloat32(readNpy(fixture('int64_3'))))).toEqual([-(2 ** 40), 7, 2 ** 62]);
  });
});

describe('readNpy on a Node Buffer', () => {
  it('reads only the array, even when the Buffer is a view into a larger pool', async () => {
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(new URL('../../fixtures/pytorch/resnet/input.npy', import.meta.url));
    const array = readNpy(bytes);
    expect(array.data.length).toBe(array.shape.reduce((a, b) => a * b, 1));
  });
});
