import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGradlensError } from '../../src/gpu/errors.ts';
import { rng } from '../../src/graph/random.ts';
import { loadOnnx, type LoadOptions } from '../../src/onnx/load.ts';
import { MAX_DEPTH, ProtoReader } from '../../src/onnx/protobuf.ts';
import { DataType, ProtoWriter, modelBytes, nodeProto, tensorProto, type NodeSpec, type TensorSpec } from './onnx-writer.ts';

/**
 * Damaged and hostile models: every case must end in a Graph or a GradlensError — never another exception, never a
 * hang — within a time and a memory bound. The valid models load in milliseconds; the worst legal case (folding up to
 * the whole-model budget) in about a second here, so 5 s per case is a bound on hangs and quadratic blow-ups that a
 * slow, shared CI machine still meets. Memory: what the case leaves allocated (heap and array buffers) when it ends.
 */
const BOUND_MS = 5_000;
const BOUND_BYTES = 1 << 30;

type Outcome = 'graph' | string;

/** Fixtures that need a size to load: their file leaves height and width free, but only one size fits. */
const LOAD_OPTIONS: Readonly<Record<string, LoadOptions>> = { 'needs-size/fixed_head_opset13.onnx': { inputShape: [3, 8, 8] } };

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

const allocated = () => {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

function expectClean(bytes: Uint8Array, label: string): Outcome {
  let result: { outcome: Outcome; ms: number };
  const before = allocated();
  try {
    result = outcome(bytes);
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}`, { cause: error });
  }
  const grown = allocated() - before;
  if (result.ms >= BOUND_MS || grown >= BOUND_BYTES) {
    expect.fail(`${label} took ${result.ms.toFixed(1)} ms and grew memory by ${(grown / 2 ** 20).toFixed(0)} MiB`);
  }
  return result.outcome;
}

const models = new Map<string, Uint8Array>(
  readdirSync(new URL('./models/', import.meta.url))
    .filter((file) => file.endsWith('.onnx'))
    .map((file) => [file, new Uint8Array(readFileSync(new URL(`./models/${file}`, import.meta.url)))]),
);
models.set(
  'needs-size/fixed_head_opset13.onnx',
  new Uint8Array(readFileSync(new URL('./models/needs-size/fixed_head_opset13.onnx', import.meta.url))),
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

const CASES_PER_MODEL = 60;

describe('seeded damage to valid models ends in a Graph or a GradlensError, quickly', () => {
  for (const [name, bytes] of models) {
    for (const [kind, mutate] of Object.entries(MUTATIONS)) {
      it(`${name}: ${kind} (${CASES_PER_MODEL} cases)`, () => {
        for (let seed = 1; seed <= CASES_PER_MODEL; seed++) {
          const next = rng(seed * 7919 + kind.length);
          expectClean(mutate(bytes, next), `${name}, ${kind}, seed ${seed}`);
        }
      }, 300_000);
    }
  }

  it('the undamaged models load', () => {
    for (const [name, bytes] of models) expect(outcome(bytes, LOAD_OPTIONS[name]).outcome, name).toBe('graph');
  });
});

// Structure-aware cases: a model written from a spec with hostile parts, so the damage is in what the fields say
// (shapes, attributes, wiring, shape arithmetic) rather than in the encoding.

type Next = () => number;
const pick = <T>(next: Next, items: readonly T[]): T => items[at(next, items.length)]!;
/** Dims mostly small, sometimes impossible: sizes that fold cheaply, and ones the loader must refuse. */
const DIMS = [1, 1, 2, 3, 5, 33, 0, -1, 2 ** 31 - 1, 2 ** 53];
const dims = (next: Next, rank = 1 + at(next, 3)) => Array.from({ length: rank }, () => pick(next, DIMS));
const int64 = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], dataType: DataType.int64, values });
const floats = (name: string, shape: number[]): TensorSpec => {
  const count = shape.reduce((a, b) => a * b, 1);
  return {
    name,
    dims: shape,
    values: Array.from({ length: Number.isSafeInteger(count) && count >= 0 && count <= 4096 ? count : 1 }, (_, i) => i % 7),
  };
};

/** A chain of `op` nodes from a constant, its end added to the input, so the output depends on both. */
function chain(next: Next, op: 'Expand' | 'Where'): Uint8Array {
  const nodes: NodeSpec[] = [];
  const initializers: TensorSpec[] = [floats('c0', dims(next)), { ...floats('cond', dims(next)), dataType: DataType.bool }];
  let previous = 'c0';
  const length = 1 + at(next, 12);
  for (let k = 0; k < length; k++) {
    const other = `k${k}`;
    initializers.push(op === 'Expand' ? int64(other, dims(next)) : floats(other, dims(next)));
    nodes.push({ op, inputs: op === 'Expand' ? [previous, other] : ['cond', previous, other], outputs: [`t${k}`] });
    previous = `t${k}`;
  }
  nodes.push({ op: 'ReduceSum', inputs: [previous], outputs: ['s'], attributes: { keepdims: 0 } }, { op: 'Add', inputs: ['x', 's'], outputs: ['y'] });
  return modelBytes({ nodes, initializers, inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y' }] });
}

/** Small valid models, one per op family with attributes worth damaging. */
const BASES: Readonly<Record<string, { nodes: NodeSpec[]; initializers: TensorSpec[]; shape: number[] }>> = {
  conv: {
    nodes: [
      {
        op: 'Conv',
        inputs: ['x', 'w', 'b'],
        outputs: ['y'],
        attributes: { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 },
      },
    ],
    initializers: [floats('w', [2, 2, 3, 3]), floats('b', [2])],
    shape: [2, 5, 5],
  },
  pool: {
    nodes: [
      { op: 'MaxPool', inputs: ['x'], outputs: ['y'], attributes: { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], ceil_mode: 0 } },
    ],
    initializers: [],
    shape: [2, 5, 5],
  },
  softmax: { nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: -1 } }], initializers: [], shape: [3, 4] },
  concat: { nodes: [{ op: 'Concat', inputs: ['x', 'x'], outputs: ['y'], attributes: { axis: 1 } }], initializers: [], shape: [3, 4] },
  transpose: { nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attributes: { perm: [0, 2, 1] } }], initializers: [], shape: [3, 4] },
  gemm: {
    nodes: [{ op: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], attributes: { transB: 1, alpha: { float: 1 } } }],
    initializers: [floats('w', [5, 4])],
    shape: [4],
  },
  flatten: { nodes: [{ op: 'Flatten', inputs: ['x'], outputs: ['y'], attributes: { axis: 1 } }], initializers: [], shape: [3, 4] },
  reduce: { nodes: [{ op: 'ReduceMean', inputs: ['x'], outputs: ['y'], attributes: { axes: [-1], keepdims: 1 } }], initializers: [], shape: [3, 4] },
};
const HOSTILE_INTS = [0, -1, 2, 17, 2 ** 31, -(2 ** 31), 2 ** 53, -(2 ** 53), 2 ** 62];

function specBytes(base: (typeof BASES)[string], opset = 13, inputDims: (number | string)[] = ['n', ...base.shape]): Uint8Array {
  return modelBytes({
    opset,
    nodes: base.nodes,
    initializers: base.initializers,
    inputs: [{ name: 'x', dims: inputDims }],
    outputs: [{ name: 'y' }],
  });
}

const STRUCTURES: Record<string, (next: Next) => Uint8Array> = {
  'Expand chains': (next) => chain(next, 'Expand'),
  'Where chains': (next) => chain(next, 'Where'),
  'huge and odd input dims': (next) => {
    const base = BASES[pick(next, Object.keys(BASES))]!;
    const shape: (number | string)[] = base.shape.map((d) => (next() < 0.5 ? d : next() < 0.3 ? 'free' : pick(next, DIMS)));
    return specBytes(base, 13, [pick(next, ['n', 1, 0, -1, 2 ** 31]), ...shape]);
  },
  'bad attributes': (next) => {
    const base = BASES[pick(next, Object.keys(BASES))]!;
    const node = { ...base.nodes[0]! };
    const names = Object.keys(node.attributes ?? {});
    const name = names.length && next() < 0.8 ? pick(next, names) : pick(next, ['axis', 'axes', 'perm', 'group', 'kernel_shape', 'pads']);
    const roll = next();
    const value =
      roll < 0.45 ? pick(next, HOSTILE_INTS) : roll < 0.9 ? Array.from({ length: at(next, 9) }, () => pick(next, HOSTILE_INTS)) : 'NOTSET';
    node.attributes = { ...node.attributes, [name]: value };
    return specBytes({ ...base, nodes: [node] });
  },
  'bad wiring and opsets': (next) => {
    const base = BASES[pick(next, Object.keys(BASES))]!;
    const node = { ...base.nodes[0]!, inputs: [...base.nodes[0]!.inputs], outputs: [...base.nodes[0]!.outputs] };
    const damage = at(next, 6);
    if (damage === 0) node.inputs[at(next, node.inputs.length)] = '';
    else if (damage === 1) node.outputs[0] = pick(next, ['', 'x', 'w']);
    else if (damage === 2) node.op = pick(next, ['Unknown', 'If', 'Loop', 'Scan', 'conv', '']);
    else if (damage === 3) node.domain = pick(next, ['com.microsoft', 'ai.onnx.ml', 'x']);
    else if (damage === 4) node.inputs.push(...Array.from({ length: 1 + at(next, 5) }, () => pick(next, ['', 'x', 'y', 'nothing'])));
    const opset = damage === 5 ? pick(next, [0, 1, 6, 7, 9, 10, 11, 18, 19, 1000, 2 ** 40]) : 13;
    return specBytes({ ...base, nodes: [node] }, opset);
  },
  'shape arithmetic': (next) => {
    const op = pick(next, ['ConstantOfShape', 'Range', 'Slice', 'Gather', 'Reshape', 'Tile', 'Expand', 'Squeeze', 'Unsqueeze']);
    const ints = () => Array.from({ length: at(next, 5) }, () => pick(next, [...HOSTILE_INTS, 1, 3, -2]));
    const initializers = [
      int64('a', ints()),
      int64('b', ints()),
      int64('c', ints()),
      { name: 'one', dims: [], dataType: DataType.int64, values: [pick(next, [1, 0, -1, 2 ** 40])] },
    ];
    const inputs = op === 'Range' ? ['one', 'a', 'one'] : op === 'ConstantOfShape' ? ['a'] : ['shape', 'a', 'b', 'c'].slice(0, 1 + at(next, 4));
    const nodes: NodeSpec[] = [
      { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
      { op, inputs, outputs: ['t'], attributes: next() < 0.3 ? { axis: pick(next, HOSTILE_INTS) } : {} },
      { op: 'Cast', inputs: ['t'], outputs: ['f'], attributes: { to: DataType.float } },
      { op: 'Add', inputs: ['x', 'f'], outputs: ['y'] },
    ];
    return modelBytes({ nodes, initializers, inputs: [{ name: 'x', dims: ['n', 3, 4] }], outputs: [{ name: 'y' }] });
  },
};

const CASES_PER_STRUCTURE = 1_100;

describe('seeded structure-aware hostile models end in a Graph or a GradlensError, within time and memory bounds', () => {
  for (const [kind, make] of Object.entries(STRUCTURES)) {
    it(`${kind} (${CASES_PER_STRUCTURE} cases)`, () => {
      const outcomes = new Map<Outcome, number>();
      for (let seed = 1; seed <= CASES_PER_STRUCTURE; seed++) {
        const result = expectClean(make(rng(seed * 104_729 + kind.length)), `${kind}, seed ${seed}`);
        outcomes.set(result, (outcomes.get(result) ?? 0) + 1);
      }
      // Each kind reaches both ends: some cases load, some are refused (a generator stuck on one side tests little).
      expect(outcomes.size, `${kind}: ${JSON.stringify([...outcomes])}`).toBeGreaterThan(1);
    }, 300_000);
  }

  it(`${Object.keys(STRUCTURES).length * CASES_PER_STRUCTURE} structural and ${models.size * Object.keys(MUTATIONS).length * CASES_PER_MODEL} byte-level cases: at least 10 000`, () =>
    expect(
      Object.keys(STRUCTURES).length * CASES_PER_STRUCTURE + models.size * Object.keys(MUTATIONS).length * CASES_PER_MODEL,
    ).toBeGreaterThanOrEqual(10_000));
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
    for (let k = 0; k < depth; k++)
      out.push(...header(1, nodeLength[k]!), ...nodeHead, ...header(5, attributeLength[k]!), ...attributeHead, ...header(6, graphLength[k + 1]!));
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
    const bytes = new ProtoWriter()
      .tag(7, 2)
      .varint(2n ** 40n)
      .raw([1, 2, 3])
      .finish();
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
          .message(
            11,
            new ProtoWriter()
              .string(1, 'x')
              .message(
                2,
                new ProtoWriter().message(
                  1,
                  new ProtoWriter()
                    .int(1, 1)
                    .message(2, new ProtoWriter().message(1, new ProtoWriter().int(1, 1)).message(1, new ProtoWriter().int(1, 4))),
                ),
              ),
          )
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
