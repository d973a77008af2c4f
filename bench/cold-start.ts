// Cold start: from process start to the first attribution (integrated gradients, the CLI's default method, on one
// digit), split into opening the adapter, loading the model, compiling pipelines and running. Must run first in the
// process: pipelines compiled earlier would be cached and not counted.
import { explain } from '../src/attribution/explain.ts';
import type { AdapterOptions } from '../src/gpu/adapter.ts';
import { GpuContext } from '../src/gpu/device.ts';
import { sizeOf } from '../src/graph/ir.ts';
import { Model } from '../src/graph/model.ts';
import { rng, uniform } from '../src/graph/random.ts';
import { digitsCase } from './attribution.ts';

export interface ColdStart {
  model: string;
  method: string;
  /** performance.now() when the first attribution was in hand: ms since this process started (module loading included). */
  sinceProcessStartMs: number;
  /** Finding the adapter and creating the device. */
  adapterMs: number;
  /** Reading the ONNX file, uploading weights (Model.create). */
  loadMs: number;
  /** The first explain call, compile and run together. */
  firstAttributionMs: number;
  /** Of that, wall time inside createShaderModule and createComputePipeline (KernelRegistry.compiled). */
  compileMs: number;
  /** firstAttributionMs − compileMs: planning, dispatching, waiting on the GPU, reading back. */
  runMs: number;
  modules: number;
  pipelines: number;
  /** A second, warm call of the same explanation, for scale. */
  warmMs: number;
}

/** Opens the device itself (its time is part of a cold start) and hands it on for the other suites. */
export async function coldStart(adapter: AdapterOptions, notes: string[]): Promise<{ gpu: GpuContext; coldStart: ColdStart }> {
  let mark = performance.now();
  const lap = () => {
    const now = performance.now();
    const ms = now - mark;
    mark = now;
    return ms;
  };
  const gpu = await GpuContext.open(adapter);
  const adapterMs = lap();
  const { model: name, graph } = digitsCase(1, notes);
  const model = await Model.create(gpu, graph);
  const loadMs = lap();
  const input = uniform(rng(3), sizeOf(graph.inputShape), 1).map((v) => 0.5 + 0.5 * v);
  const before = { ...gpu.kernels.compiled };
  await explain(model, input, 1, { method: 'integrated-gradients', seed: 1 });
  const sinceProcessStartMs = performance.now();
  const firstAttributionMs = lap();
  const compileMs = gpu.kernels.compiled.ms - before.ms;
  await explain(model, input, 1, { method: 'integrated-gradients', seed: 1 });
  const warmMs = lap();
  model.destroy();
  return {
    gpu,
    coldStart: {
      model: name,
      method: 'integrated-gradients (50 steps)',
      sinceProcessStartMs,
      adapterMs,
      loadMs,
      firstAttributionMs,
      compileMs,
      runMs: firstAttributionMs - compileMs,
      modules: gpu.kernels.compiled.modules - before.modules,
      pipelines: gpu.kernels.compiled.pipelines - before.pipelines,
      warmMs,
    },
  };
}
