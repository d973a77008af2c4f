// Limits a kernel must respect that WebGPU does not report, and the check every dispatch goes through.
//
// Mesa's gallivm (llvmpipe through OpenGL ES, lavapipe through Vulkan) ends the loops of one shader invocation once
// they have run 65,535 iterations in total, all loops together (LP_MAX_TGSI_LOOP_ITERATIONS, an infinite-loop guard),
// without any error: the invocation goes on with whatever partial sums it had. A GEMM with K = 28,224 (a 168-px CNN's
// flattened features) summed only its first 20,160 terms there. So each dispatch states an upper bound on the loop
// iterations of one invocation, and a dispatch over the adapter's budget is split by its wrapper or refused here.

import { isVariant } from './shader-sources.ts';

// Counting: gallivm decrements its guard at every loop header, the exiting test included, so a loop of n iterations
// costs n + 1 (measured: a 64×64 GEMM tile step with three inner loops of 16 costs 52, not 49). The helpers below
// count that way, and the budget keeps a tenth of the guard in reserve for loops a shader compiler may add.

/** Mesa's gallivm loop guard: iterations of all loops of one invocation together. */
export const GALLIVM_LOOP_ITERATIONS = 65_535;

/** What gradlens lets a dispatch state on a gallivm adapter: the guard less a tenth in reserve. */
export const GALLIVM_LOOP_BUDGET = Math.floor(0.9 * GALLIVM_LOOP_ITERATIONS);

const GALLIVM_ADAPTERS = /llvmpipe|lavapipe|softpipe/i;

/** What an adapter says of itself (GPUAdapterInfo, AdapterReport). */
type AdapterNames = Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>;

/** Whether any of the names the adapter gives itself matches `pattern`. */
export function adapterNamed(info: AdapterNames, pattern: RegExp): boolean {
  return pattern.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/** Whether the adapter runs on Mesa's gallivm (llvmpipe, lavapipe): its loop guard, and kernel choices measured there. */
export function isGallivm(info: AdapterNames): boolean {
  return adapterNamed(info, GALLIVM_ADAPTERS);
}

/** Whether the adapter is Google's SwiftShader (Dawn's and Chromium's CPU Vulkan): kernel choices measured there. */
export function isSwiftShader(info: AdapterNames): boolean {
  return adapterNamed(info, /swiftshader/i);
}

/** The per-invocation loop budget of an adapter: gallivm's guard, or none (Infinity). */
export function loopBudgetOf(info: AdapterNames): number {
  return isGallivm(info) ? GALLIVM_LOOP_BUDGET : Infinity;
}

/** The guard's cost of a loop of n iterations (its exiting test included). */
export function loopIterations(n: number): number {
  return Math.max(n, 0) + 1;
}

const budgets = new WeakMap<GPUDevice, number>();

/** Records a device's loop budget (GpuContext does, when it opens the device). */
export function setLoopBudget(device: GPUDevice, iterations: number): void {
  budgets.set(device, iterations);
}

/** A device's loop budget; Infinity where none was recorded. */
export function loopBudget(device: GPUDevice): number {
  return budgets.get(device) ?? Infinity;
}

/** The guard's cost of a loop of `outer` iterations, each running a loop of `inner` (a window's rows and columns). */
export function nestedIterations(outer: number, inner: number): number {
  return loopIterations(outer) + Math.max(outer, 0) * loopIterations(inner);
}

/** The guard's cost of `for (i = first; i < count; i += stride)`, for any first < stride. */
export function stridedIterations(count: number, stride: number): number {
  return loopIterations(Math.ceil(Math.max(count, 0) / stride));
}

/** The guard's cost of a tree reduction over `width` lanes (`for (s = width / 2; s > 0; s /= 2)`). */
export function treeIterations(width: number): number {
  return loopIterations(Math.ceil(Math.log2(Math.max(width, 1))));
}

/**
 * The guard's cost of shaders/lib/row-reduce-subgroups.wgsl's reduction over `width` lanes, whatever the subgroup size
 * s: a butterfly of log2(min(width, s)) steps inside the subgroup, then a tree of log2(width / s) over the subgroups'
 * totals: log2(width) steps and two exiting tests.
 */
export function subgroupTreeIterations(width: number): number {
  return treeIterations(width) + 1;
}

/** A row reduction's cost in the module chosen (KernelRegistry.variant): the plain tree or the subgroups one. */
export function rowReduceIterations(width: number, module: string): number {
  return isVariant(module, 'subgroups') ? subgroupTreeIterations(width) : treeIterations(width);
}
