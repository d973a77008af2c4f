import type { AdapterOptions } from './gpu/adapter.ts';
import { GpuRuntime, type GpuContext } from './gpu/device.ts';
import { GradlensError } from './gpu/errors.ts';
import { explain, type ExplainOptions, type Explanation } from './attribution/explain.ts';
import { logitsOf } from './attribution/targets.ts';
import { explainTokens, type TokenExplanation, type TokenOptions } from './attribution/tokens.ts';
import type { Graph, Shape } from './graph/ir.ts';
import { sizeOf } from './graph/ir.ts';
import { Model } from './graph/model.ts';
import { loadOnnx } from './onnx/load.ts';
import { renderHeatmap, type Heatmap, type HeatmapOptions } from './render/index.ts';

export type ModelSource = Uint8Array | ArrayBuffer | Graph | string | URL;

/** The entry point: one device (Dawn in Node, navigator.gpu in browsers), opened on first use, reopened after a loss. */
export async function createLens(options: AdapterOptions = {}): Promise<Lens> {
  return new Lens(new GpuRuntime(options));
}

export class Lens {
  constructor(readonly runtime: GpuRuntime) {}

  /** An ONNX model from bytes or a URL (fetched), or a graph built in TypeScript. */
  async load(source: ModelSource, options: { name?: string; signal?: AbortSignal } = {}): Promise<LensModel> {
    return new LensModel(this.runtime, await toGraph(source, options));
  }

  /** What the device is: vendor, backend, software or hardware, limits and features. */
  async adapter() {
    return (await this.runtime.context()).report;
  }

  /** An attribution as RGBA pixels (a heat map, over an overlay when given), rendered on this lens's device. */
  async heatmap(attribution: Float32Array, shape: readonly number[], options: HeatmapOptions = {}): Promise<Heatmap> {
    return renderHeatmap(await this.runtime.context(), attribution, shape, options);
  }

  close(): Promise<void> {
    return this.runtime.close();
  }
}

/** A model ready to explain; survives device loss by re-uploading its weights to the new device. */
export class LensModel {
  private model: Promise<Model> | undefined;
  private context: GpuContext | undefined;

  constructor(
    private readonly runtime: GpuRuntime,
    readonly graph: Graph,
  ) {}

  get inputShape(): Shape {
    return this.graph.inputShape;
  }

  /** The output's class names where the model file names them (its metadata), else none. */
  get labels(): readonly string[] {
    return this.graph.labels ?? [];
  }

  /** Explains `count` inputs (count × input shape; default: as many as `input` holds). */
  async explain(input: Float32Array, options: ExplainOptions & { count?: number }): Promise<Explanation> {
    const { count = input.length / sizeOf(this.graph.inputShape), ...rest } = options;
    return explain(await this.resolve(), input, count, rest);
  }

  /**
   * Token attribution for a text model (integer ids in): `count` sequences of ids, row-major; where the model leaves
   * the sequence length free, each is ids.length / count long. The method runs at the token embedding output (or
   * `layer`): integrated gradients there is Captum's LayerIntegratedGradients on the embedding layer.
   */
  async explainTokens(ids: ArrayLike<number | bigint>, options: ExplainOptions & TokenOptions & { count?: number }): Promise<TokenExplanation> {
    const { count = 1, ...rest } = options;
    const values = Float32Array.from(Array.from(ids, Number));
    return explainTokens(await this.sized(values, count), values, count, rest);
  }

  /** The model at the inputs' own sequence length where it takes any (a text model), else as loaded. */
  private async sized(values: Float32Array, count: number): Promise<Model> {
    const model = await this.resolve();
    if (!this.graph.tokenIds || !this.graph.freeAxes?.length || this.graph.inputShape.length !== 1) return model;
    if (values.length % count !== 0) throw new GradlensError('BAD_INPUT', `${values.length} ids do not make ${count} sequences of one length`);
    return model.at([values.length / count]);
  }

  /** The model's vocabulary (id → token) where its file gives one (metadata `vocabulary` or `vocab`). */
  get vocabulary(): readonly string[] {
    return this.graph.tokenIds?.vocabulary ?? [];
  }

  /** Logits of `count` inputs (of a text model: `count` sequences of ids, default one). */
  async predict(input: Float32Array, count = this.graph.tokenIds ? 1 : input.length / sizeOf(this.graph.inputShape)): Promise<Float32Array> {
    return logitsOf(await this.sized(input, count), input, count);
  }

  async destroy(): Promise<void> {
    (await this.model?.catch(() => undefined))?.destroy();
    this.model = undefined;
  }

  /** The model on the current device (made again after a device loss). Internal: the metrics and widgets' helpers use it. */
  async resolve(): Promise<Model> {
    const context = await this.runtime.context();
    if (context !== this.context || !this.model) {
      this.context = context;
      this.model = Model.create(context, this.graph);
    }
    return this.model;
  }
}

/** What the metrics take: the public LensModel, or an internal Model (tests, the CLI). */
export type AnyModel = LensModel | Model;

export const modelOf = (model: AnyModel): Promise<Model> => (model instanceof LensModel ? model.resolve() : Promise.resolve(model));

async function toGraph(source: ModelSource, options: { name?: string; signal?: AbortSignal }): Promise<Graph> {
  if (typeof source === 'string' || source instanceof URL) {
    let response: Response;
    try {
      response = await fetch(source, options.signal ? { signal: options.signal } : {});
    } catch (cause) {
      throw new GradlensError('BAD_MODEL', `could not fetch the model at ${String(source)}: ${String(cause)}`, { cause });
    }
    if (!response.ok) throw new GradlensError('BAD_MODEL', `could not fetch the model at ${String(source)}: HTTP ${response.status}`);
    return loadOnnx(new Uint8Array(await response.arrayBuffer()), { name: options.name ?? String(source).split('/').pop()! });
  }
  if (source instanceof Uint8Array) return loadOnnx(source, options.name ? { name: options.name } : {});
  if (source instanceof ArrayBuffer) return loadOnnx(new Uint8Array(source), options.name ? { name: options.name } : {});
  return source;
}
