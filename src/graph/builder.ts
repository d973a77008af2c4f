import type { AttributeValue, Constant, Graph, GraphNode, Shape } from './ir.ts';
import { sizeOf } from './ir.ts';
import { rng, uniform } from './random.ts';
import { opDefinition } from './registry.ts';

export interface ConvOptions {
  channels: number;
  kernel: number | [number, number];
  stride?: number;
  /** Symmetric padding; default keeps the size at stride 1 ("same" for odd kernels). */
  pad?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

export interface PoolOptions {
  kernel: number;
  stride?: number;
  pad?: number;
  ceil?: boolean;
}

/**
 * Builds graphs in TypeScript with seeded initialisation (He-uniform weights, small random biases and
 * BatchNorm statistics, so folding and every path are exercised): for tests, benchmarks and demos without ONNX.
 */
export class GraphBuilder {
  private readonly nodes: GraphNode[] = [];
  private readonly constants = new Map<string, Constant>();
  private readonly shapes = new Map<string, Shape>();
  private readonly random: () => number;
  private inputName = '';
  private inputShape: Shape = [];
  private count = 0;

  constructor(
    readonly name: string,
    seed = 1,
  ) {
    this.random = rng(seed);
  }

  /** The per-sample input shape (no batch dimension). */
  input(shape: Shape, name = 'input'): string {
    this.inputName = name;
    this.inputShape = shape;
    this.shapes.set(name, [1, ...shape]);
    return name;
  }

  /** Per-sample shape of a tensor built so far. */
  shapeOf(tensor: string): Shape {
    return this.shapes.get(tensor)!.slice(1);
  }

  constant(data: Float32Array, shape: Shape, hint = 'const'): string {
    const name = `${hint}_${this.count++}`;
    this.constants.set(name, { shape, data });
    this.shapes.set(name, shape);
    return name;
  }

  /** Adds a node of any registered op; returns its first output. */
  node(op: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, name = `${op.toLowerCase()}_${this.count++}`): string {
    return this.nodeOutputs(op, inputs, attributes, 1, name)[0]!;
  }

  /** Adds a node with `count` outputs (Split); returns them. */
  nodeOutputs(
    op: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue>,
    count: number,
    name = `${op.toLowerCase()}_${this.count++}`,
  ): string[] {
    const outputs = Array.from({ length: count }, (_, k) => (k === 0 ? name : `${name}:${k}`));
    const node: GraphNode = { name, op, inputs, outputs, attributes };
    const inputShapes = inputs.map((input) => this.shapes.get(input) ?? []);
    const shapes = opDefinition(op).shape(inputShapes, node, (i) => this.constants.get(inputs[i] ?? '')?.data);
    this.nodes.push(node);
    outputs.forEach((output, k) => this.shapes.set(output, shapes[k]!));
    return outputs;
  }

  conv(x: string, options: ConvOptions, name?: string): string {
    const [kh, kw] = typeof options.kernel === 'number' ? [options.kernel, options.kernel] : options.kernel;
    const inChannels = this.shapeOf(x)[0]!;
    const groups = options.groups ?? 1;
    const dilation = options.dilation ?? 1;
    const fanIn = (inChannels / groups) * kh * kw;
    const weight = this.constant(
      uniform(this.random, options.channels * fanIn, Math.sqrt(6 / fanIn)),
      [options.channels, inChannels / groups, kh, kw],
      'weight',
    );
    const inputs = [x, weight];
    if (options.bias ?? true) inputs.push(this.constant(uniform(this.random, options.channels, 1 / Math.sqrt(fanIn)), [options.channels], 'bias'));
    const padH = options.pad ?? Math.floor((dilation * (kh - 1)) / 2);
    const padW = options.pad ?? Math.floor((dilation * (kw - 1)) / 2);
    const stride = options.stride ?? 1;
    return this.node(
      'Conv',
      inputs,
      { kernel_shape: [kh, kw], strides: [stride, stride], pads: [padH, padW, padH, padW], dilations: [dilation, dilation], group: groups },
      name,
    );
  }

  /** Inference-form BatchNormalization with random running statistics (the importer and planner fold it). */
  batchNorm(x: string, name?: string): string {
    const channels = this.shapeOf(x)[0]!;
    const around = (center: number, spread: number) => Float32Array.from(uniform(this.random, channels, spread), (v) => center + v);
    const params = [around(1, 0.5), around(0, 0.1), around(0, 0.1), around(1, 0.5)].map((data, i) =>
      this.constant(data, [channels], ['gamma', 'beta', 'mean', 'var'][i]),
    );
    return this.node('BatchNormalization', [x, ...params], { epsilon: 1e-5 }, name);
  }

  gemm(x: string, units: number, options: { bias?: boolean } = {}, name?: string): string {
    const fanIn = this.shapeOf(x).at(-1)!;
    const weight = this.constant(uniform(this.random, units * fanIn, Math.sqrt(6 / fanIn)), [units, fanIn], 'weight');
    const inputs = [x, weight];
    if (options.bias ?? true) inputs.push(this.constant(uniform(this.random, units, 1 / Math.sqrt(fanIn)), [units], 'bias'));
    return this.node('Gemm', inputs, { transB: 1 }, name);
  }

  layerNorm(x: string, name?: string): string {
    const size = this.shapeOf(x).at(-1)!;
    const gamma = this.constant(
      Float32Array.from(uniform(this.random, size, 0.5), (v) => 1 + v),
      [size],
      'gamma',
    );
    const beta = this.constant(uniform(this.random, size, 0.1), [size], 'beta');
    return this.node('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: 1e-5 }, name);
  }

  maxPool(x: string, options: PoolOptions, name?: string): string {
    return this.node('MaxPool', [x], poolAttributes(options), name);
  }

  averagePool(x: string, options: PoolOptions & { countIncludePad?: boolean }, name?: string): string {
    return this.node('AveragePool', [x], { ...poolAttributes(options), count_include_pad: Number(options.countIncludePad ?? false) }, name);
  }

  relu(x: string, name?: string): string {
    return this.node('Relu', [x], {}, name);
  }

  build(output: string): Graph {
    return {
      name: this.name,
      input: this.inputName,
      inputShape: this.inputShape,
      output,
      nodes: [...this.nodes],
      constants: new Map(this.constants),
    };
  }

  /** Number of weights, for reports. */
  get parameterCount(): number {
    return [...this.constants.values()].reduce((sum, constant) => sum + sizeOf(constant.shape), 0);
  }
}

function poolAttributes(options: PoolOptions): Record<string, AttributeValue> {
  const pad = options.pad ?? 0;
  const stride = options.stride ?? options.kernel;
  return {
    kernel_shape: [options.kernel, options.kernel],
    strides: [stride, stride],
    pads: [pad, pad, pad, pad],
    ceil_mode: Number(options.ceil ?? false),
  };
}
