// Limits a kernel must respect that WebGPU does not report, and the check every dispatch goes through.
//
// Mesa's gallivm (llvmpipe through OpenGL ES, lavapipe through Vulkan) ends the loops of one shader invocation once
// they have run 65,535 iterations in total, all loops together (LP_MAX_TGSI_LOOP_ITERATIONS, an infinite-loop guard),
// without any error: the invocation goes on with whatever partial sums it had. A GEMM with K = 28,224 (a 168-px CNN's
// flattened features) summed only its first 20,160 terms there. So each dispatch states an upper bound on the loop
// iterations of one invocation, and a dispatch over the adapter's budget is split by its wrapper or refused here.

/** Mesa's gallivm loop guard: iterations of all loops of one invocation together. */
export const GALLIVM_LOOP_ITERATIONS = 65_535;

const GALLIVM_ADAPTERS = /llvmpipe|lavapipe|softpipe/i;

/** The per-invocation loop budget of an adapter named so: gallivm's guard, or none (Infinity). */
export function loopBudgetOf(adapterNames: string): number {
  return GALLIVM_ADAPTERS.test(adapterNames) ? GALLIVM_LOOP_ITERATIONS : Infinity;
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

/** Iterations of `for (i = first; i < count; i += stride)` at most, for any first < stride. */
export function stridedIterations(count: number, stride: number): number {
  return Math.ceil(Math.max(count, 0) / stride);
}

/** Iterations of a tree reduction over `width` lanes (`for (s = width / 2; s > 0; s /= 2)`). */
export function treeIterations(width: number): number {
  return Math.ceil(Math.log2(Math.max(width, 1)));
}
