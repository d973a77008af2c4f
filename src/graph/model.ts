import { upload } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { Graph, Shape } from './ir.ts';
import { Plan, type PlanOptions } from './plan.ts';
import { foldBatchNorm } from './fold.ts';
import { checkSupported } from './registry.ts';
import { inferShapes } from './shapes.ts';

/** A graph on one device: weights uploaded once, shared by every plan made from it. */
export class Model {
  private readonly plans = new Map<string, Promise<Plan>>();

  private constructor(
    readonly gpu: GpuContext,
    readonly graph: Graph,
    readonly weights: ReadonlyMap<string, GPUBuffer>,
    readonly outputShape: Shape,
  ) {}

  static async create(gpu: GpuContext, source: Graph): Promise<Model> {
    checkSupported(source);
    const graph = foldBatchNorm(source);
    const outputShape = inferShapes(graph, 1).get(graph.output)!.slice(1);
    const used = new Set(graph.nodes.flatMap((node) => node.inputs));
    const weights = new Map<string, GPUBuffer>();
    for (const [name, constant] of graph.constants) {
      if (used.has(name)) weights.set(name, await upload(gpu.device, `${graph.name}:${name}`, constant.data));
    }
    return new Model(gpu, graph, weights, outputShape);
  }

  /** The same graph over other weight buffers (NoiseGrad's perturbed copies); the variant owns them and its own plans. */
  static withWeights(model: Model, weights: ReadonlyMap<string, GPUBuffer>): Model {
    return new Model(model.gpu, model.graph, weights, model.outputShape);
  }

  /** A fixed schedule for one batch size; run it as many times as needed. */
  plan(options: PlanOptions): Promise<Plan> {
    return Plan.create(this, options);
  }

  /** The same plan for the same options, made once: chunks of a long request reuse their buffers and bind groups. */
  cachedPlan(options: PlanOptions): Promise<Plan> {
    const key = JSON.stringify(options);
    let plan = this.plans.get(key);
    if (!plan) {
      plan = this.plan(options);
      this.plans.set(key, plan);
      plan.catch(() => this.plans.delete(key));
    }
    return plan;
  }

  destroy(): void {
    for (const plan of this.plans.values()) plan.then((p) => p.destroy(), () => undefined);
    this.plans.clear();
    for (const buffer of this.weights.values()) buffer.destroy();
  }
}
