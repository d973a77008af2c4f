import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGradlensError } from '../../src/gpu/errors.ts';
import { rng } from '../../src/graph/random.ts';
import { loadOnnx, type LoadOptions } from '../../src/onnx/load.ts';
import { MAX_DEPTH, ProtoReader } from '../../src/onnx/protobuf.ts';
import { DataType, ProtoWriter, modelBytes, nodeProto, tensorProto } from './onnx-writer.ts';

/**
 * Damaged and hostile bytes: every case must end, quickly, in a Graph or a GradlensError — never another exception,
 * never a hang. The valid models load in about a millisecond; 250 ms per case leaves room for a slow, shared CI.
 */
const BOUND_MS = 250;

type Outcome = 'graph' | string;

/** Fixtures that need a size to load: their file leaves height and width free, but only one size fits. */
const LOAD_OPTIONS: Readonly<Record<string, LoadOptions>> = { 'dynamic_fixed_head_opset13.onnx': { inputShape: [3, 8, 8] } };

function outcome(bytes: Uint8Array, options: LoadOptions = {}): { outcome: Outcome; ms: number } {
  const start = performance.now();
  try {
    const graph = loadOnnx(bytes, options);
    expect(Array.isArray(graph.nodes)).toBe(true);
    return { outcome: 'graph', ms: performance.now() - start };
  } catch (error) {
    if (!isGradlensError(error)) throw new Error(`not a GradlensError: ${String(error)}`, { cause: error });
    return { outcome: error.code, ms: performance.now() - start };
  }
}

function expectClean(bytes: Uint8Array, label: string): Outcome {
  let result: { outcome: Outcome; ms: number };
  try {
    result = outcome(bytes);
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}`, { cause: error });
  }
  expect(result.ms, `${label} took ${result.ms.toFixed(1)} ms`).toBeLessThan(BOUND_MS);
  return result.outcome;
}

const models = new Map<string, Uint8Array>(
  readdirSync(new URL('./models/', import.meta.url))
    .filter((file) => file.endsWith('.onnx'))
    .map((file) => [file, new Uint8Array(readFileSync(new URL(`./models/${file}`, import.meta.url)))]),
);
models.set(
  'hand-made GELU',
  modelBytes({
    nodes: [
      { op: 'Div', inputs: ['x', 'r2'], outputs: ['s'] },
      { op: 'Erf', inputs: ['s'], outputs: ['e'] },
      { op: 'Add', inputs: ['e', 'one'], outputs: ['p'] },
      { op: 'Mul', inputs: ['x', 'p'], outputs: ['xp'] },
      { op: 'Mul', inputs: ['xp', 'half'], outputs: ['y'] },
    ],
    initializers: [
      { name: 'r2', dims: [], values: [Math.SQRT2] },
      { name: 'one', dims: [], values: [1] },
      { name: 'half', dims: [], values: [0.5] },
    ],
    inputs: [{ name: 'x', dims: ['n', 4] }],
    outputs: [{ name: 'y' }],
  }),
);

type Mutation = (bytes: Uint8Array, next: () => number) => Uint8Array;
const at = (next: () => number, n: number) => Math.floor(next() * n);

const MUTATIONS: Record<string, Mutation> = {
  'flip bytes': (bytes, next) => {
    const out = bytes.slice();
    const flips = 1 + at(next, 8);
    for (let k = 0; k < flips; k++) out[at(next, out.length)]! ^= 1 + at(next, 255);
    return out;
  },
  'insert garbage': (bytes, next) => {
    const position = at(next, bytes.length + 1);
    const garbage = Uint8Array.from({ length: 1 + at(next, 16) }, () => at(next, 256));
    return new Uint8Array([...bytes.subarray(0, position), ...garbage, ...bytes.subarray(position)]);
  },
  // Same length: the outer length prefixes stay right, so the damage reaches the fields inside.
  'overwrite a span': (bytes, next) => {
    const out = bytes.slice();
    const start = at(next, out.length);
    const length = 1 + at(next, 16);
    for (let i = start; i < Math.min(out.length, start + length); i++) out[i] = at(next, 256);
    return out;
  },
  truncate: (bytes, next) => bytes.slice(0, at(next, bytes.length)),
  'cut a span': (bytes, next) => {
    const start = at(next, bytes.length);
    const end = start + 1 + at(next, 64);
    return new Uint8Array([...bytes.subarray(0, start), ...bytes.subarray(end)]);
  },
};

const CASES_PER_MODEL = 40;

describe('seeded damage to valid models ends in a Graph or a GradlensError, quickly', () => {
  for (const [name, bytes] of models) {
    for (const [kind, mutate] of Object.entries(MUTATIONS)) {
      it(`${name}: ${kind} (${CASES_PER_MODEL} cases)`, () => {
        for (let seed = 1; seed <= CASES_PER_MODEL; seed++) {
          const next = rng(seed * 7919 + kind.length);
          expectClean(mutate(bytes, next), `${name}, ${kind}, seed ${seed}`);
        }
      });
    }
  }

  it('the undamaged models load', () => {
    for (const [name, bytes] of models) expect(outcome(bytes, LOAD_OPTIONS[name]).outcome, name).toBe('graph');
  });
});

describe('hostile bytes', () => {
  it('subgraphs nested 20 000 deep (If inside If ...) are skipped unread, not recursed into', () => {
    // Built outside-in with lengths computed first: wrapping byte arrays level by level would be quadratic.
    const depth = 20_000;
    const bytesOf = (w: ProtoWriter) => Array.from(w.finish());
    const header = (field: number, length: number) => bytesOf(new ProtoWriter().tag(field, 2).varint(length));
    const core = bytesOf(new ProtoWriter().message(1, nodeProto({ op: 'Relu', inputs: ['x'], outputs: ['y'] })));
    const nodeHead = bytesOf(new ProtoWriter().string(1, 'c').string(2, 'y').string(4, 'If'));
    const attributeHead = bytesOf(new ProtoWriter().string(1, 'then_branch'));
    const attributeTail = bytesOf(new ProtoWriter().int(20, 5));
    const graphLength = new Array<number>(depth + 1);
    const attributeLength = new Array<number>(depth);
    const nodeLength = new Array<number>(depth);
    graphLength[depth] = core.length;
    for (let k = depth - 1; k >= 0; k--) {
      attributeLength[k] = attributeHead.length + header(6, graphLength[k + 1]!).length + graphLength[k + 1]! + attributeTail.length;
      nodeLength[k] = nodeHead.length + header(5, attributeLength[k]!).length + attributeLength[k]!;
      graphLength[k] = header(1, nodeLength[k]!).length + nodeLength[k]!;
    }
    const name = bytesOf(new ProtoWriter().string(2, 'deep'));
    const out: number[] = [...header(7, graphLength[0]! + name.length)];
    for (let k = 0; k < depth; k++) out.push(...header(1, nodeLength[k]!), ...nodeHead, ...header(5, attributeLength[k]!), ...attributeHead, ...header(6, graphLength[k + 1]!));
    out.push(...core);
    for (let k = 0; k < depth; k++) out.push(...attributeTail);
    out.push(...name, ...bytesOf(new ProtoWriter().message(8, new ProtoWriter().int(2, 13))));
    const bytes = Uint8Array.from(out);
    expect(bytes.length).toBeGreaterThan(depth * 20);
    expect(expectClean(bytes, 'deep If')).not.toBe('graph');
  });

  it('the reader refuses messages nested deeper than MAX_DEPTH', () => {
    let bytes: Uint8Array = new Uint8Array(0);
    for (let depth = 0; depth <= MAX_DEPTH + 1; depth++) bytes = new ProtoWriter().bytes(1, bytes).finish();
    let reader = new ProtoReader(bytes);
    const descend = () => {
      for (;;) {
        reader.tag();
        reader = reader.message();
      }
    };
    expect(descend).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL', message: expect.stringMatching(/deeper/) }));
  });

  it('a length far beyond the buffer is CORRUPT_MODEL', () => {
    const bytes = new ProtoWriter().tag(7, 2).varint(2n ** 40n).raw([1, 2, 3]).finish();
    expect(expectClean(bytes, 'long length')).toBe('CORRUPT_MODEL');
  });

  it('a negative (10-byte) length is CORRUPT_MODEL', () => {
    const bytes = new ProtoWriter().tag(7, 2).varint(-5).raw([1, 2, 3]).finish();
    expect(expectClean(bytes, 'negative length')).toBe('CORRUPT_MODEL');
  });

  it('a varint longer than 10 bytes is CORRUPT_MODEL', () => {
    const bytes = new ProtoWriter().tag(1, 0).raw(new Array(12).fill(0xff)).raw([1]).finish();
    expect(expectClean(bytes, 'long varint')).toBe('CORRUPT_MODEL');
  });

  const withInitializer = (tensor: ProtoWriter) =>
    new ProtoWriter()
      .message(
        7,
        new ProtoWriter()
          .message(1, nodeProto({ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }))
          .message(5, tensor)
          .message(11, new ProtoWriter().string(1, 'x').message(2, new ProtoWriter().message(1, new ProtoWriter().int(1, 1).message(2, new ProtoWriter().message(1, new ProtoWriter().int(1, 1)).message(1, new ProtoWriter().int(1, 4))))))
          .message(12, new ProtoWriter().string(1, 'y')),
      )
      .message(8, new ProtoWriter().int(2, 13))
      .finish();

  it('a huge element count with little data is refused before anything is allocated', () => {
    const huge = tensorProto({ name: 'w', dims: [2 ** 31, 2 ** 31], dataType: DataType.float, raw: Uint8Array.of(1, 2, 3, 4) });
    expect(expectClean(withInitializer(huge), 'huge dims')).toMatch(/BAD_MODEL|CORRUPT_MODEL/);
    const large = tensorProto({ name: 'w', dims: [1 << 20, 1 << 10], dataType: DataType.float, raw: Uint8Array.of(1, 2, 3, 4) });
    expect(expectClean(withInitializer(large), 'large dims')).toBe('CORRUPT_MODEL');
  });

  it('a packed field claiming more values than bytes present is CORRUPT_MODEL', () => {
    const tensor = new ProtoWriter().packedVarints(1, [4]).int(2, 1).string(8, 'w').tag(4, 2).varint(1e9).raw([0, 0, 128, 63]);
    expect(expectClean(withInitializer(tensor), 'packed overrun')).toBe('CORRUPT_MODEL');
  });

  it('shape arithmetic asking for a billion elements is refused, not computed', () => {
    const bytes = modelBytes({
      nodes: [
        { op: 'ConstantOfShape', inputs: ['big'], outputs: ['c'] },
        { op: 'Range', inputs: ['zero', 'limit', 'one'], outputs: ['r'] },
        { op: 'Add', inputs: ['x', 'c'], outputs: ['a'] },
        { op: 'Add', inputs: ['a', 'r'], outputs: ['y'] },
      ],
      initializers: [
        { name: 'big', dims: [2], dataType: DataType.int64, values: [1 << 15, 1 << 15] },
        { name: 'zero', dims: [], values: [0] },
        { name: 'limit', dims: [], values: [1e15] },
        { name: 'one', dims: [], values: [1] },
      ],
      inputs: [{ name: 'x', dims: ['n', 4] }],
      outputs: [{ name: 'y' }],
    });
    expect(expectClean(bytes, 'huge folds')).toMatch(/BAD_MODEL|UNSUPPORTED_OP/);
  });
});
