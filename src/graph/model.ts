import { upload } from '../gpu/buffers.ts';
import { releasePackedWeights } from '../kernels/conv2d.ts';
import { releaseHalfWeights } from '../kernels/half.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import type { Constant, Graph, Shape } from './ir.ts';
import { Plan, type PlanOptions } from './plan.ts';
import { foldBatchNorm } from './fold.ts';
import { checkSupported } from './registry.ts';
import { inferShapes } from './shapes.ts';

/** Input shapes a model keeps specialisations (graph, weights that differ, plans) for; the least recently used goes. */
const SPECIALISATIONS_KEPT = 4;

interface CachedPlan {
  plan: Promise<Plan>;
  /** The plan once made. */
  made?: Plan;
  /** Runs using it now (Model.hold). */
  users: number;
}

/** A graph on one device: weights uploaded once, shared by every plan made from it. */
export class Model {
  private readonly plans = new Map<string, CachedPlan>();
  private readonly specialisations = new Map<string, Promise<Model>>();

  private constructor(
    readonly gpu: GpuContext,
    readonly graph: Graph,
    readonly weights: ReadonlyMap<string, GPUBuffer>,
    readonly outputShape: Shape,
    /** Weight buffers this model made and destroys (a specialisation shares the rest with the model it came from). */
    private readonly owned: readonly GPUBuffer[],
    /** The graph as given, before folding: what specialisations start from. */
    private readonly source: Graph,
  ) {}

  static async create(gpu: GpuContext, source: Graph): Promise<Model> {
    return Model.build(gpu, source, new Map(), new Map());
  }

  /** Uploads the constants the graph reads, reusing `shared` buffers whose constant in `sharedConstants` is the same. */
  private static async build(
    gpu: GpuContext,
    source: Graph,
    shared: ReadonlyMap<string, GPUBuffer>,
    sharedConstants: ReadonlyMap<string, Constant>,
  ): Promise<Model> {
    checkSupported(source);
    const graph = foldBatchNorm(source);
    const outputShape = inferShapes(graph, 1).get(graph.output)!.slice(1);
    const used = new Set(graph.nodes.flatMap((node) => node.inputs));
    const weights = new Map<string, GPUBuffer>();
    const owned: GPUBuffer[] = [];
    for (const [name, constant] of graph.constants) {
      if (!used.has(name)) continue;
      const buffer = shared.get(name);
      if (buffer && sameConstant(sharedConstants.get(name), constant)) {
        weights.set(name, buffer);
        continue;
      }
      const made = await upload(gpu.device, `${graph.name}:${name}`, constant.data);
      weights.set(name, made);
      owned.push(made);
    }
    return new Model(gpu, graph, weights, outputShape, owned, source);
  }

  /** The same graph over other weight buffers (NoiseGrad's perturbed copies); the variant owns them and its own plans. */
  static withWeights(model: Model, weights: ReadonlyMap<string, GPUBuffer>): Model {
    return new Model(model.gpu, model.graph, weights, model.outputShape, [...weights.values()], model.source);
  }

  /**
   * The model at another per-sample input shape (an image of another height and width, a sequence of another length),
   * as ORT does it: the graph specialised to it, its shape sub-graph folded for it, weights shared; made once per
   * shape and kept, with its plans, beside this model; beyond the last SPECIALISATIONS_KEPT shapes used, the oldest is
   * destroyed, so ask again for a shape rather than holding its model while using others. Throws BAD_INPUT for a shape
   * the model cannot take.
   */
  at(inputShape: Shape): Promise<Model> {
    const key = inputShape.join(',');
    if (key === this.graph.inputShape.join(',')) return Promise.resolve(this);
    let specialised = this.specialisations.get(key);
    if (specialised) {
      this.specialisations.delete(key); // re-inserted below: the map's order is the order of use
    } else {
      const specialise = this.source.specialise;
      if (!specialise) {
        const fixed = this.graph.inputShape.join(', ');
        return Promise.reject(new GradlensError('BAD_INPUT', `${this.graph.name} takes inputs of [${fixed}] only, not [${inputShape.join(', ')}]`));
      }
      specialised = Promise.resolve().then(() => Model.build(this.gpu, specialise(inputShape), this.weights, this.graph.constants));
      specialised.catch(() => this.specialisations.delete(key));
      if (this.specialisations.size >= SPECIALISATIONS_KEPT) {
        const [oldest, model] = this.specialisations.entries().next().value!;
        this.specialisations.delete(oldest);
        model.then(
          (m) => m.destroy(),
          () => undefined,
        );
      }
    }
    this.specialisations.set(key, specialised);
    return specialised;
  }

  /** Another graph over this model's weights (its graph with a target head, say): weight buffers shared, not copied. */
  derive(graph: Graph): Promise<Model> {
    return Model.build(this.gpu, graph, this.weights, this.graph.constants);
  }

  /** A fixed schedule for one batch size; run it as many times as needed. */
  plan(options: PlanOptions): Promise<Plan> {
    return Plan.create(this, options);
  }

  /**
   * The same plan for the same options, made once: chunks of a long request reuse their buffers and bind groups, and
   * so do later calls, until `fitPlans` frees it to make room. Kept in the order of use, the most recent last.
   */
  cachedPlan(options: PlanOptions): Promise<Plan> {
    const key = JSON.stringify(options);
    const entry = this.plans.get(key);
    if (entry) {
      this.plans.delete(key); // re-inserted: the map's order is the order of use
      this.plans.set(key, entry);
      return entry.plan;
    }
    const made: CachedPlan = { plan: this.plan(options), users: 0 };
    made.plan.then(
      (plan) => (made.made = plan),
      () => this.plans.get(key) === made && this.plans.delete(key),
    );
    this.plans.set(key, made);
    return made.plan;
  }

  /** Whether the plan for these options is cached (made or being made). */
  hasPlan(options: PlanOptions): boolean {
    return this.plans.has(JSON.stringify(options));
  }

  /** Marks a cached plan in use (a run's chunks go through it): `fitPlans` leaves it until `release`. */
  hold(plan: Plan): void {
    for (const entry of this.plans.values()) if (entry.made === plan) entry.users++;
  }

  release(plan: Plan): void {
    for (const entry of this.plans.values()) if (entry.made === plan) entry.users = Math.max(0, entry.users - 1);
  }

  /** GPU bytes of the cached plans (Plan.bytes); `held` only: those in use, which `fitPlans` cannot free. */
  planBytes(held = false): number {
    let bytes = 0;
    for (const entry of this.plans.values()) if (entry.made && (!held || entry.users > 0)) bytes += entry.made.bytes;
    return bytes;
  }

  /** Largest bytes per sample of a cached plan: a new plan's estimate before it is made (0 with none cached). */
  bytesPerSample(): number {
    let most = 0;
    for (const entry of this.plans.values()) if (entry.made) most = Math.max(most, entry.made.bytes / entry.made.batch);
    return most;
  }

  /**
   * Frees cached plans, least recently used first, none in use or still being made, until the cached plans take at
   * most `bytes`; returns what they take then (more than `bytes` where the rest are in use).
   */
  fitPlans(bytes: number): number {
    let total = this.planBytes();
    for (const [key, entry] of this.plans) {
      if (total <= bytes) break;
      if (!entry.made || entry.users > 0) continue;
      this.plans.delete(key);
      entry.made.destroy();
      total -= entry.made.bytes;
    }
    return total;
  }

  destroy(): void {
    for (const { plan } of this.plans.values())
      plan.then(
        (p) => p.destroy(),
        () => undefined,
      );
    this.plans.clear();
    for (const model of this.specialisations.values())
      model.then(
        (m) => m.destroy(),
        () => undefined,
      );
    this.specialisations.clear();
    for (const buffer of this.owned) {
      releasePackedWeights(buffer);
      void releaseHalfWeights(buffer, releasePackedWeights); // and the packed copies of the f16 copy
      buffer.destroy();
    }
  }
}

/** The same values (the same array, or equal contents: folded weights are recomputed per specialisation). */
function sameConstant(a: Constant | undefined, b: Constant): boolean {
  if (!a || a.shape.join() !== b.shape.join()) return false;
  return a.data === b.data || (a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i])));
}
