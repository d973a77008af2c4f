import { gridFor, type Dispatch } from '../../gpu/commands.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { loopIterations, stridedIterations, treeIterations } from '../../gpu/limits.ts';
import { WORKGROUP_SIZE, wgslEnum } from '../wgsl.ts';

/** u32 words per point descriptor in shaders/paths.wgsl's `info` (two vec4<u32>). */
export const POINT_WORDS = 8;

/** How a chunk's gradients are folded into the sums: w·g, g·direction (Blur IG) or c·g² (IDGI). */
export const PATH_FOLDS = ['gradient', 'direction', 'idgi'] as const;
export type PathFold = (typeof PATH_FOLDS)[number];

/** Where a blur runs: the input's two trailing axes, or its only axis (then height is 1 and not blurred). */
export interface BlurAxes {
  height: number;
  width: number;
  blurHeight: boolean;
}

interface ParamValues {
  size: number;
  chunkCount?: number;
  axes?: BlurAxes;
  second?: boolean;
  firstInput?: number;
  chunkInputs?: number;
  inputs?: number;
}

/** Every member of the WGSL `Params`, those an entry point does not read left at 0. */
function params(values: ParamValues) {
  return {
    size: values.size,
    chunk_count: values.chunkCount ?? 0,
    height: values.axes?.height ?? 1,
    width: values.axes?.width ?? 1,
    blur_height: Number(values.axes?.blurHeight ?? false),
    second: Number(values.second ?? false),
    first_input: values.firstInput ?? 0,
    chunk_inputs: values.chunkInputs ?? 0,
    inputs: values.inputs ?? 0,
  };
}

const kernel = (context: GpuContext, entry: string, overrides = {}) => context.kernels.kernel('paths', entry, { WORKGROUP_SIZE, ...overrides });

/** The blur geometry of an input shape: its two trailing axes, or a 1-D input's only axis. */
export function blurAxes(shape: readonly number[]): BlurAxes {
  if (shape.length === 0) throw new GradlensError('BAD_PARAMS', 'a blur path needs an input with at least one axis');
  if (shape.length === 1) return { height: 1, width: shape[0]!, blurHeight: false };
  return { height: shape.at(-2)!, width: shape.at(-1)!, blurHeight: true };
}

/** points[p] = b_i + α_p (x_i − b_i) for the chunk's points. */
export async function pathLinePoints(
  context: GpuContext,
  io: { inputs: GPUBuffer; baselines: GPUBuffer; info: GPUBuffer; points: GPUBuffer },
  dims: { size: number; chunkCount: number },
): Promise<Dispatch> {
  const bound = (await kernel(context, 'paths_line_points')).bind(context.device, { params: params(dims), ...io });
  return { bound, workgroups: gridFor(dims.chunkCount * dims.size, WORKGROUP_SIZE), iterations: 0 };
}

/**
 * The two separable passes of a Gaussian blur of each point's input (scipy's `gaussian_filter`, mode 'constant'):
 * with the σ taps into `points`, or (second) with the σ + grad_step taps into `direction` as w·(blurred − points).
 */
export async function pathBlurPoints(
  context: GpuContext,
  io: { inputs: GPUBuffer; info: GPUBuffer; taps: GPUBuffer; scratch: GPUBuffer; points: GPUBuffer; direction: GPUBuffer },
  dims: { size: number; chunkCount: number; axes: BlurAxes; second: boolean },
): Promise<Dispatch[]> {
  const values = params(dims);
  const workgroups = gridFor(dims.chunkCount * dims.size, WORKGROUP_SIZE);
  const height = (await kernel(context, 'paths_blur_height')).bind(context.device, {
    params: values,
    inputs: io.inputs,
    info: io.info,
    taps: io.taps,
    scratch: io.scratch,
  });
  const width = (await kernel(context, 'paths_blur_width')).bind(context.device, {
    params: values,
    info: io.info,
    taps: io.taps,
    scratch: io.scratch,
    points: io.points,
    direction: io.direction,
  });
  // Each pass walks its taps, clipped to the axis: at most the axis's length.
  return [
    { bound: height, workgroups, iterations: loopIterations(dims.axes.height) },
    { bound: width, workgroups, iterations: loopIterations(dims.axes.width) },
  ];
}

/** IDGI's per-point coefficient sign·(f_{p+1} − f_p)/‖g_p‖²: the norms, then the coefficients. */
export async function idgiCoefficients(
  context: GpuContext,
  io: { info: GPUBuffer; gradients: GPUBuffer; scores: GPUBuffer; norms: GPUBuffer; coefficients: GPUBuffer },
  dims: { size: number; chunkCount: number },
): Promise<Dispatch[]> {
  const values = params(dims);
  const norms = (await kernel(context, 'paths_norms')).bind(context.device, { params: values, gradients: io.gradients, norms: io.norms });
  const coefficients = (await kernel(context, 'paths_idgi_coefficients')).bind(context.device, {
    params: values,
    info: io.info,
    scores: io.scores,
    norms: io.norms,
    coefficients: io.coefficients,
  });
  return [
    {
      bound: norms,
      workgroups: gridFor(dims.chunkCount, 1),
      iterations: stridedIterations(dims.size, WORKGROUP_SIZE) + treeIterations(WORKGROUP_SIZE),
    },
    { bound: coefficients, workgroups: gridFor(dims.chunkCount, WORKGROUP_SIZE), iterations: 0 },
  ];
}

/** sums[i] += Σ over the chunk's points of input i of the fold's term; inputs firstInput … firstInput + chunkInputs − 1. */
export async function pathAccumulate(
  context: GpuContext,
  io: { info: GPUBuffer; gradients: GPUBuffer; direction: GPUBuffer; coefficients: GPUBuffer; sums: GPUBuffer },
  dims: { size: number; chunkCount: number; firstInput: number; chunkInputs: number; fold: PathFold },
): Promise<Dispatch> {
  const fold = { FOLD: wgslEnum('paths', 'FOLD', dims.fold) };
  const bound = (await kernel(context, 'paths_accumulate', fold)).bind(context.device, { params: params(dims), ...io });
  // Two binary searches for the input's points, then its points (at most the chunk's).
  const iterations = 2 * (treeIterations(dims.chunkCount) + 1) + loopIterations(dims.chunkCount);
  return { bound, workgroups: gridFor(dims.chunkInputs * dims.size, WORKGROUP_SIZE), iterations };
}

/** sums ⊙= x − b over all inputs (integrated gradients' last factor). */
export async function pathFinalize(
  context: GpuContext,
  io: { inputs: GPUBuffer; baselines: GPUBuffer; sums: GPUBuffer },
  dims: { size: number; inputs: number },
): Promise<Dispatch> {
  const bound = (await kernel(context, 'paths_finalize')).bind(context.device, { params: params(dims), ...io });
  return { bound, workgroups: gridFor(dims.inputs * dims.size, WORKGROUP_SIZE), iterations: 0 };
}
