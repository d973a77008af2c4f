import { GradlensError } from '../../gpu/errors.ts';
import {
  averagePoolBackward,
  averagePoolForward,
  globalAveragePoolBackward,
  globalAveragePoolForward,
  maxPoolBackward,
  maxPoolForward,
  poolOutputSize,
  type PoolDims,
} from '../../kernels/pool.ts';
import { resizeBackward, resizeForward, type ResizeDims } from '../../kernels/resize.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpContext, OpDefinition } from '../op.ts';

type Pair = [number, number];
type Pads = [number, number, number, number];

/**
 * Explicit [top, left, bottom, right] pads from ONNX's `pads` or `auto_pad` (SAME_UPPER puts the odd pad at the end,
 * SAME_LOWER at the start; VALID is none). Shared by pooling and convolution.
 */
export function explicitPads(node: GraphNode, input: Pair, kernel: Pair, strides: Pair, dilations: Pair): Pads {
  const autoPad = attribute<string>(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = attribute<readonly number[]>(node, 'pads', [0, 0, 0, 0]);
    return [pads[0]!, pads[1]!, pads[2]!, pads[3]!];
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  const total = (a: 0 | 1) => Math.max(0, (Math.ceil(input[a] / strides[a]) - 1) * strides[a] + (kernel[a] - 1) * dilations[a] + 1 - input[a]);
  const [h, w] = [total(0), total(1)];
  const small = (t: number) => Math.floor(t / 2);
  return autoPad === 'SAME_LOWER' ? [h - small(h), w - small(w), small(h), small(w)] : [small(h), small(w), h - small(h), w - small(w)];
}

function spatial(shape: Shape, node: GraphNode): { batch: number; channels: number; height: number; width: number } {
  if (shape.length !== 4) throw new GradlensError('UNSUPPORTED_OP', `${node.op} "${node.name}": only 2-D spatial (NCHW) inputs are supported, got rank ${shape.length}`);
  return { batch: shape[0]!, channels: shape[1]!, height: shape[2]!, width: shape[3]! };
}

function poolDims(shape: Shape, node: GraphNode): PoolDims {
  const base = spatial(shape, node);
  const kernelShape = attribute<readonly number[]>(node, 'kernel_shape', []) as unknown as Pair;
  const strides = attribute<readonly number[]>(node, 'strides', [1, 1]) as unknown as Pair;
  const dilations = attribute<readonly number[]>(node, 'dilations', [1, 1]) as unknown as Pair;
  const pads = explicitPads(node, [base.height, base.width], kernelShape, strides, dilations);
  return { ...base, kernelShape, strides, dilations, pads, ceilMode: attribute<number>(node, 'ceil_mode', 0) === 1 };
}

const pooledShape = ([x]: Shape[], node: GraphNode): Shape[] => {
  const dims = poolDims(x!, node);
  return [[dims.batch, dims.channels, ...poolOutputSize(dims)]];
};

function backwardOf(c: OpContext, run: (target: { buffer: GPUBuffer; accumulate: boolean }) => Promise<import('../../gpu/commands.ts').Dispatch>) {
  const target = c.inputGradient(0);
  return target ? run(target).then((d) => [d]) : Promise.resolve([]);
}

const maxPool: OpDefinition = {
  shape: pooledShape,
  forward: async (c) => {
    const dims = poolDims(c.inputShapes[0]!, c.node);
    const argmax = c.saved('argmax', c.outputShapes[0]!.reduce((a, b) => a * b, 1) * 4);
    return [await maxPoolForward(c.gpu, { x: c.input(0), y: c.output(0), argmax }, dims)];
  },
  backward: (c) => {
    const dims = poolDims(c.inputShapes[0]!, c.node);
    const argmax = c.saved('argmax', c.outputShapes[0]!.reduce((a, b) => a * b, 1) * 4);
    return backwardOf(c, (t) => maxPoolBackward(c.gpu, { argmax, gradY: c.outputGradient(0), gradX: t.buffer }, { ...dims, accumulate: t.accumulate }));
  },
};

const averagePool: OpDefinition = {
  shape: pooledShape,
  forward: async (c) => {
    const dims = { ...poolDims(c.inputShapes[0]!, c.node), countIncludePad: attribute<number>(c.node, 'count_include_pad', 0) === 1 };
    return [await averagePoolForward(c.gpu, { x: c.input(0), y: c.output(0) }, dims)];
  },
  backward: (c) => {
    const dims = { ...poolDims(c.inputShapes[0]!, c.node), countIncludePad: attribute<number>(c.node, 'count_include_pad', 0) === 1 };
    return backwardOf(c, (t) => averagePoolBackward(c.gpu, { gradY: c.outputGradient(0), gradX: t.buffer }, { ...dims, accumulate: t.accumulate }));
  },
};

const globalAveragePool: OpDefinition = {
  shape: ([x], node) => {
    const { batch, channels } = spatial(x!, node);
    return [[batch, channels, 1, 1]];
  },
  forward: async (c) => [await globalAveragePoolForward(c.gpu, { x: c.input(0), y: c.output(0) }, spatial(c.inputShapes[0]!, c.node))],
  backward: (c) =>
    backwardOf(c, (t) =>
      globalAveragePoolBackward(c.gpu, { gradY: c.outputGradient(0), gradX: t.buffer }, { ...spatial(c.inputShapes[0]!, c.node), accumulate: t.accumulate }),
    ),
};

/** ONNX Resize on the spatial axes: output size from the constant `sizes` (input 3) or `scales` (input 2). */
function resizeDims(shape: Shape, node: GraphNode, constant: (index: number) => Float32Array | undefined): ResizeDims {
  const base = spatial(shape, node);
  const sizes = node.inputs[3] ? constant(3) : undefined;
  const scales = node.inputs[2] ? constant(2) : undefined;
  let out: number[];
  if (sizes && sizes.length === 4) out = Array.from(sizes);
  else if (scales && scales.length === 4) out = shape.map((dim, i) => Math.floor(dim * scales[i]!));
  else throw new GradlensError('UNSUPPORTED_OP', `Resize "${node.name}": needs constant 4-D sizes or scales`);
  // sizes[0] was the batch at export time; the plan's batch replaces it.
  if (out[1] !== base.channels) throw new GradlensError('UNSUPPORTED_OP', `Resize "${node.name}": only the spatial axes may be resized`);
  return {
    batch: base.batch,
    channels: base.channels,
    inHeight: base.height,
    inWidth: base.width,
    outHeight: out[2]!,
    outWidth: out[3]!,
    mode: attribute(node, 'mode', 'nearest') as ResizeDims['mode'],
    coordinateTransformationMode: attribute(node, 'coordinate_transformation_mode', 'half_pixel') as ResizeDims['coordinateTransformationMode'],
    nearestMode: attribute(node, 'nearest_mode', 'round_prefer_floor') as ResizeDims['nearestMode'],
  };
}

const resize: OpDefinition = {
  shape: ([x], node, constant) => {
    const d = resizeDims(x!, node, constant);
    return [[d.batch, d.channels, d.outHeight, d.outWidth]];
  },
  forward: async (c) => [await resizeForward(c.gpu, { x: c.input(0), y: c.output(0) }, resizeDims(c.inputShapes[0]!, c.node, c.constantData))],
  backward: (c) =>
    backwardOf(c, (t) => resizeBackward(c.gpu, { gradY: c.outputGradient(0), gradX: t.buffer }, { ...resizeDims(c.inputShapes[0]!, c.node, c.constantData), accumulate: t.accumulate })),
};

export const spatialOps: Record<string, OpDefinition> = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  Resize: resize,
};
