import { GradlensError } from '../../gpu/errors.ts';
import {
  expandMap,
  gatherBackward,
  gatherForward,
  gatherMap,
  lookupForward,
  lookupZeroGradient,
  packIndexMap,
  padMap,
  PAD_MODES,
  sliceMap,
  splitMaps,
  tileMap,
  type IndexMap,
  type PadMode,
} from '../../kernels/gather.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpContext, OpDefinition } from '../op.ts';

type Constants = (index: number) => Float32Array | undefined;

/** An input the op needs at plan time (starts, indices, repeats…), as numbers. */
function constantInput(node: GraphNode, index: number, constant: Constants, what: string): number[] {
  const data = node.inputs[index] ? constant(index) : undefined;
  if (!data) throw new GradlensError('UNSUPPORTED_OP', `${node.op} "${node.name}": ${what} (input ${index}) must be a constant`);
  return Array.from(data);
}

/**
 * The axes of x along which a map moves elements (an axis whose table is not the identity): the loader refuses a move
 * along an axis that carries the batch, which would mix or drop samples. Axes a map prepends (Expand) are not x's.
 */
function movedAxes(x: Shape, maps: readonly IndexMap[]): number[] {
  const moved = new Set<number>();
  for (const map of maps) {
    const offset = map.inShape.length - x.length;
    map.tables.forEach((table, d) => {
      if (d >= offset && (table.length !== map.inShape[d] || table.some((i, k) => i !== k))) moved.add(d - offset);
    });
  }
  return [...moved].sort((a, b) => a - b);
}

/** Slice: starts, ends, axes, steps from inputs 1–4 (opset ≥ 10) or the attributes (opset 1–9). */
function sliceOf(x: Shape, node: GraphNode, constant: Constants): IndexMap {
  const fromInputs = node.inputs.length > 1;
  const list = (index: number, name: string) =>
    fromInputs ? (node.inputs[index] ? constantInput(node, index, constant, name) : undefined) : (node.attributes[name] as number[] | undefined);
  const starts = list(1, 'starts') ?? [];
  const ends = list(2, 'ends') ?? [];
  const axes = list(3, 'axes') ?? starts.map((_, d) => d);
  const steps = list(4, 'steps') ?? starts.map(() => 1);
  return sliceMap(
    x,
    axes.map((axis, k) => ({ axis, start: starts[k]!, end: ends[k]!, step: steps[k]! })),
  );
}

/**
 * Split: extents from input 1 (opset ≥ 13) or the `split` attribute, else `num_outputs` equal parts (the last smaller,
 * opset 18; the loader records it for older opsets before unread outputs are dropped).
 */
function splitOf(x: Shape, node: GraphNode, constant: Constants): IndexMap[] {
  const axis = attribute(node, 'axis', 0);
  const d = axis < 0 ? axis + x.length : axis;
  const given = node.inputs[1] ? constantInput(node, 1, constant, 'split') : (node.attributes.split as number[] | undefined);
  const parts = attribute(node, 'num_outputs', node.outputs.length);
  const even = Math.ceil(x[d]! / parts);
  const extents = given ?? Array.from({ length: parts }, (_, k) => Math.min(even, x[d]! - k * even));
  return splitMaps(x, axis, extents);
}

function gatherOf(x: Shape, node: GraphNode, constant: Constants): IndexMap {
  return gatherMap(x, attribute(node, 'axis', 0), constantInput(node, 1, constant, 'indices'));
}

function expandOf(x: Shape, node: GraphNode, constant: Constants): IndexMap {
  return expandMap(x, constantInput(node, 1, constant, 'shape'));
}

const tileOf = (x: Shape, node: GraphNode, constant: Constants) => tileMap(x, constantInput(node, 1, constant, 'repeats'));

/** Pad in the form src/onnx/opsets.ts gives every opset: full-rank `pads`, `mode` and `value` attributes. */
function padOf(x: Shape, node: GraphNode): IndexMap {
  const pads = node.attributes.pads as number[] | undefined;
  if (!pads) throw new GradlensError('UNSUPPORTED_OP', `Pad "${node.name}": the pads must be constants`);
  const mode = attribute<string>(node, 'mode', 'constant');
  if (!(PAD_MODES as readonly string[]).includes(mode))
    throw new GradlensError('UNSUPPORTED_OP', `Pad "${node.name}": mode "${mode}" (supported: ${PAD_MODES.join(', ')})`);
  return padMap(x, pads, mode as PadMode, attribute(node, 'value', 0));
}

/** The tables of output k, uploaded once when the plan is made; the backward reads the same buffer. */
function tables(c: OpContext, map: IndexMap, k: number): GPUBuffer {
  const { data } = packIndexMap(map);
  const buffer = c.saved(`index tables ${k}`, data.byteLength);
  c.gpu.device.queue.writeBuffer(buffer, 0, data as Int32Array<ArrayBuffer>);
  return buffer;
}

/**
 * An op whose outputs are moves of input 0 (maps, one per output); the declared shapes may split or merge the
 * kernel's axes (Gather by a multi-dimensional index tensor), which keeps the memory.
 */
function moving(
  maps: (x: Shape, node: GraphNode, constant: Constants) => IndexMap[],
  shapes?: (x: Shape, node: GraphNode, inputs: Shape[]) => Shape[],
): OpDefinition {
  const mapsOf = (c: OpContext) => maps(c.inputShapes[0]!, c.node, c.constantData);
  return {
    shape: (inputs, node, constant) => {
      const moves = maps(inputs[0]!, node, constant); // checks the attributes and constants once, at load
      return (shapes?.(inputs[0]!, node, inputs) ?? moves.map((map) => [...map.outShape])).slice(0, node.outputs.length);
    },
    movedAxes: (inputs, node, constant) => movedAxes(inputs[0]!, maps(inputs[0]!, node, constant)),
    forward: async (c) => {
      const written = mapsOf(c).flatMap((map, k) => (c.node.outputs[k] ? [[map, k] as const] : [])); // dropped outputs are not computed
      return Promise.all(written.map(([map, k]) => gatherForward(c.gpu, { x: c.input(0), y: c.output(k), tables: tables(c, map, k) }, map)));
    },
    backward: async (c) => {
      const target = c.inputGradient(0);
      if (!target) return [];
      const maps = mapsOf(c);
      const flowing = maps.flatMap((map, k) => (c.hasOutputGradient(k) ? [k] : []));
      return Promise.all(
        flowing.map((k, n) => {
          const io = {
            gradY: c.outputGradient(k),
            gradX: target.buffer,
            tables: c.saved(`index tables ${k}`, packIndexMap(maps[k]!).data.byteLength),
          };
          return gatherBackward(c.gpu, io, { ...maps[k]!, accumulate: n > 0 || target.accumulate });
        }),
      );
    },
  };
}

const one = (of: (x: Shape, node: GraphNode, constant: Constants) => IndexMap) => (x: Shape, node: GraphNode, constant: Constants) => [
  of(x, node, constant),
];

// The output keeps the indices' own axes: x.shape[:axis] + indices.shape + x.shape[axis+1:].
const byConstantIndices = moving(one(gatherOf), (x, node, inputs) => {
  const axis = attribute(node, 'axis', 0);
  const d = axis < 0 ? axis + x.length : axis;
  return [[...x.slice(0, d), ...inputs[1]!, ...x.slice(d + 1)]];
});

/** Token embeddings: ids computed from the input index rows of a constant table (axis 0). */
const isLookup = (node: GraphNode, constant: Constants) => node.inputs[1] !== undefined && !constant(1) && constant(0) !== undefined;

const byLookup: OpDefinition = {
  shape: ([table, ids], node) => {
    if (attribute(node, 'axis', 0) !== 0)
      throw new GradlensError('UNSUPPORTED_OP', `Gather "${node.name}": ids computed at run time index axis 0 of a constant table only`);
    return [[...ids!, ...table!.slice(1)]];
  },
  forward: async (c) => {
    const [table, ids] = c.inputShapes as [Shape, Shape];
    const dims = { ids: ids.reduce((a, b) => a * b, 1), rows: table[0]!, rowSize: table.slice(1).reduce((a, b) => a * b, 1) };
    return [await lookupForward(c.gpu, { table: c.input(0), ids: c.input(1), y: c.output(0) }, dims)];
  },
  // Ids are integers: the gradient stops at the embedding output (capture it there); theirs is zero.
  backward: async (c) => {
    const target = c.inputGradient(1);
    if (!target || target.accumulate) return [];
    return [await lookupZeroGradient(c.gpu, { gradIds: target.buffer }, { ids: c.inputShapes[1]!.reduce((a, b) => a * b, 1) })];
  },
};

/** Gather by constant indices (a move of the activation), or by ids computed at run time from a constant table. */
const gather: OpDefinition = {
  shape: (inputs, node, constant) => (isLookup(node, constant) ? byLookup : byConstantIndices).shape(inputs, node, constant),
  forward: (c) => (isLookup(c.node, c.constantData) ? byLookup : byConstantIndices).forward!(c),
  backward: (c) => (isLookup(c.node, c.constantData) ? byLookup : byConstantIndices).backward!(c),
  movedAxes: (inputs, node, constant) => (isLookup(node, constant) ? [] : byConstantIndices.movedAxes!(inputs, node, constant)),
};

export const gatherOps: Record<string, OpDefinition> = {
  Slice: moving(one(sliceOf)),
  Split: moving(splitOf),
  Gather: gather,
  Expand: moving(one(expandOf)),
  Tile: moving(one(tileOf)),
  Pad: moving(one((x, node) => padOf(x, node))),
};
