import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { WORKGROUP_SIZE } from './wgsl.ts';
import { loopIterations, nestedIterations, stridedIterations, treeIterations } from '../gpu/limits.ts';

/** An NCHW input and a 2-D pooling window, with ONNX's attributes (explicit pads; auto_pad is the importer's to resolve). */
export interface PoolDims {
  batch: number;
  channels: number;
  height: number;
  width: number;
  kernelShape: readonly [number, number];
  /** Default [1, 1]. */
  strides?: readonly [number, number];
  /** [top, left, bottom, right] (ONNX's [x1_begin, x2_begin, x1_end, x2_end]); default zeros. */
  pads?: readonly [number, number, number, number];
  /** Default [1, 1]. */
  dilations?: readonly [number, number];
  ceilMode?: boolean;
}

export interface AveragePoolDims extends PoolDims {
  /** ONNX count_include_pad: 1 divides by the taps inside the padded input, 0 (default) by the taps inside the input. */
  countIncludePad?: boolean;
}

export interface GlobalPoolDims {
  batch: number;
  channels: number;
  height: number;
  width: number;
}

export interface BackwardFlags {
  /** Add into gradX instead of overwriting it (a tensor read by several nodes). */
  accumulate?: boolean;
}

/** Planes at least this large get a workgroup each for GlobalAveragePool; smaller ones an invocation each. */
export const GLOBAL_POOL_REDUCE_FROM = 256;

/**
 * ONNX's output size [height, width]: ⌊ or ⌈ (in + pad_begin + pad_end − ((k−1)·d + 1)) / s ⌉ + 1, where with
 * ceil mode a last window that would start past the input and its begin padding is dropped (as PyTorch).
 */
export function poolOutputSize(dims: PoolDims): [number, number] {
  const w = resolve(dims);
  const axis = (size: number, a: 0 | 1) => {
    const span = size + w.pads[a]! + w.pads[a + 2]! - ((w.kernelShape[a] - 1) * w.dilations[a] + 1);
    let out = (w.ceilMode ? Math.ceil(span / w.strides[a]) : Math.floor(span / w.strides[a])) + 1;
    if (w.ceilMode && (out - 1) * w.strides[a] >= size + w.pads[a]!) out--;
    return out;
  };
  const out: [number, number] = [axis(dims.height, 0), axis(dims.width, 1)];
  if (out[0] < 1 || out[1] < 1) {
    throw new GradlensError(
      'BAD_PARAMS',
      `pool: window ${dims.kernelShape.join('×')} (dilations ${w.dilations.join('×')}) does not fit the padded ${dims.height}×${dims.width} input`,
    );
  }
  return out;
}

function resolve(dims: PoolDims) {
  const w = {
    kernelShape: dims.kernelShape,
    strides: dims.strides ?? [1, 1],
    pads: dims.pads ?? [0, 0, 0, 0],
    dilations: dims.dilations ?? [1, 1],
    ceilMode: dims.ceilMode ?? false,
  };
  const positive = [...w.kernelShape, ...w.strides, ...w.dilations].every((v) => Number.isInteger(v) && v >= 1);
  if (!positive || !w.pads.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new GradlensError(
      'BAD_PARAMS',
      `pool: kernel, strides and dilations must be positive integers and pads non-negative (got ${JSON.stringify(w)})`,
    );
  }
  return w;
}

function poolParams(dims: PoolDims, countIncludePad: boolean) {
  const w = resolve(dims);
  return {
    planes: dims.batch * dims.channels,
    in_size: [dims.height, dims.width],
    out_size: poolOutputSize(dims),
    kernel: [...w.kernelShape],
    strides: [...w.strides],
    pads_begin: [w.pads[0], w.pads[1]],
    pads_end: [w.pads[2], w.pads[3]],
    dilations: [...w.dilations],
    count_include_pad: Number(countIncludePad),
  };
}

function globalParams(dims: GlobalPoolDims) {
  const one = [1, 1];
  return {
    planes: dims.batch * dims.channels,
    in_size: [dims.height, dims.width],
    out_size: one,
    kernel: [dims.height, dims.width],
    strides: one,
    pads_begin: [0, 0],
    pads_end: [0, 0],
    dilations: one,
    count_include_pad: 0,
  };
}

/** Loop iterations of a forward invocation: its window's taps, row by row. */
function windowIterations(p: ReturnType<typeof poolParams>): number {
  return nestedIterations(p.kernel[0]!, p.kernel[1]!);
}

/** Windows that partition the input: each element in exactly one window (strides = kernel, dilation 1, no padding). */
function tilesExactly(p: ReturnType<typeof poolParams>): boolean {
  return [0, 1].every(
    (a) =>
      p.strides[a] === p.kernel[a] &&
      p.dilations[a] === 1 &&
      p.pads_begin[a] === 0 &&
      p.pads_end[a] === 0 &&
      p.out_size[a]! * p.kernel[a]! === p.in_size[a],
  );
}

/** Loop iterations of a backward invocation: the windows that cover one input element, row by row. */
function coveringIterations(p: ReturnType<typeof poolParams>): number {
  const windows = (a: number) => Math.floor(((p.kernel[a]! - 1) * p.dilations[a]!) / p.strides[a]!) + 1;
  return nestedIterations(windows(0), windows(1));
}

const kernel = (context: GpuContext, entry: string, accumulate = false) =>
  context.kernels.kernel('pool', entry, { WORKGROUP_SIZE, ACCUMULATE: Number(accumulate) });

/** MaxPool: y, and argmax (u32: the winner's index ih·W + iw in its (n, c) plane) for the backward. */
export async function maxPoolForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer; argmax: GPUBuffer }, dims: PoolDims): Promise<Dispatch> {
  const params = poolParams(dims, false);
  const entry = tilesExactly(params) ? 'pool_max_forward_tiled' : 'pool_max_forward';
  const bound = (await kernel(context, entry)).bind(context.device, { params, x: io.x, y: io.y, argmax: io.argmax });
  return {
    bound,
    workgroups: gridFor(params.planes * params.out_size[0]! * params.out_size[1]!, WORKGROUP_SIZE),
    iterations: windowIterations(params),
  };
}

/** gradX (=|+=) the MaxPool input gradient: each output's gradY goes to its argmax from maxPoolForward. */
export async function maxPoolBackward(
  context: GpuContext,
  io: { argmax: GPUBuffer; gradY: GPUBuffer; gradX: GPUBuffer },
  dims: PoolDims & BackwardFlags,
): Promise<Dispatch> {
  const params = poolParams(dims, false);
  const accumulate = dims.accumulate ?? false;
  if (tilesExactly(params)) {
    const bound = (await kernel(context, 'pool_max_backward_tiled', accumulate)).bind(context.device, {
      params,
      argmax: io.argmax,
      grad_y: io.gradY,
      grad_x: io.gradX,
    });
    return {
      bound,
      workgroups: gridFor(params.planes * params.out_size[0]! * params.out_size[1]!, WORKGROUP_SIZE),
      iterations: windowIterations(params),
    };
  }
  const bound = (await kernel(context, 'pool_max_backward', accumulate)).bind(context.device, {
    params,
    argmax: io.argmax,
    grad_y: io.gradY,
    grad_x: io.gradX,
  });
  return { bound, workgroups: gridFor(params.planes * dims.height * dims.width, WORKGROUP_SIZE), iterations: coveringIterations(params) };
}

export async function averagePoolForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: AveragePoolDims): Promise<Dispatch> {
  const params = poolParams(dims, dims.countIncludePad ?? false);
  const bound = (await kernel(context, 'pool_average_forward')).bind(context.device, { params, x: io.x, y: io.y });
  return {
    bound,
    workgroups: gridFor(params.planes * params.out_size[0]! * params.out_size[1]!, WORKGROUP_SIZE),
    iterations: windowIterations(params),
  };
}

/** gradX (=|+=) the AveragePool input gradient: Σ gradY / divisor over the windows with a tap on each element. */
export async function averagePoolBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer },
  dims: AveragePoolDims & BackwardFlags,
): Promise<Dispatch> {
  const params = poolParams(dims, dims.countIncludePad ?? false);
  const bound = (await kernel(context, 'pool_average_backward', dims.accumulate ?? false)).bind(context.device, {
    params,
    grad_y: io.gradY,
    grad_x: io.gradX,
  });
  return { bound, workgroups: gridFor(params.planes * dims.height * dims.width, WORKGROUP_SIZE), iterations: coveringIterations(params) };
}

/** GlobalAveragePool: y[n, c] (shape N×C×1×1) = mean of x[n, c] over H·W; a workgroup reduction for large planes. */
export async function globalAveragePoolForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: GlobalPoolDims): Promise<Dispatch> {
  const params = globalParams(dims);
  const reduce = dims.height * dims.width >= GLOBAL_POOL_REDUCE_FROM;
  const bound = (await kernel(context, reduce ? 'pool_global_average_forward_reduce' : 'pool_global_average_forward')).bind(context.device, {
    params,
    x: io.x,
    y: io.y,
  });
  const plane = dims.height * dims.width;
  const iterations = reduce ? stridedIterations(plane, WORKGROUP_SIZE) + treeIterations(WORKGROUP_SIZE) : loopIterations(plane);
  return { bound, workgroups: gridFor(params.planes, reduce ? 1 : WORKGROUP_SIZE), iterations };
}

/** gradX (=|+=) gradY[n, c] / (H·W) at every element of plane (n, c). */
export async function globalAveragePoolBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer },
  dims: GlobalPoolDims & BackwardFlags,
): Promise<Dispatch> {
  const params = globalParams(dims);
  const bound = (await kernel(context, 'pool_global_average_backward', dims.accumulate ?? false)).bind(context.device, {
    params,
    grad_y: io.gradY,
    grad_x: io.gradX,
  });
  return { bound, workgroups: gridFor(params.planes * dims.height * dims.width, WORKGROUP_SIZE), iterations: 0 };
}
