/**
 * Attribution at a layer (Captum's Layer* and Neuron* classes): which tensor a layer name means, the layer's values of
 * given inputs, and integrated gradients along a path of the layer's values (LayerIntegratedGradients), the path
 * interpolated on the GPU and run through the model's part after the layer, one readback.
 */
import { readFloats } from '../gpu/buffers.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf, type Graph, type Shape } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import type { LayerSite } from '../graph/plan.ts';
import { inferShapes } from '../graph/shapes.ts';
import { integrate, type EngineResult } from './engine.ts';
import { quadrature, type IntegrationRule } from './quadrature.ts';
import { runJob, type Job, type RunControl } from './runner.ts';
import { scoresOf } from './targets.ts';
import type { MethodContext } from './types.ts';

/**
 * A layer resolved, as Captum's hooks see it: gradients and values are taken at the tensor itself (Captum saves the
 * module's input or output tensor and differentiates with respect to it, through every reader), while
 * LayerIntegratedGradients' values replace only what the layer's node reads (its hook returns them to the module).
 */
export interface Layer {
  /** Where gradients and values are taken: the tensor. */
  site: LayerSite;
  /** Where LayerIntegratedGradients' path values go: with attributeToLayerInput, the node's read of its input alone. */
  replaced: LayerSite;
  shape: Shape;
  /** The layer as named (a node or a tensor), and the node it belongs to, for the record. */
  name: string;
}

/**
 * The layer `name` means: a tensor of the graph, or a node (its first output). With `toInput` (Captum's
 * attribute_to_layer_input), the input of the node that computes it, as that node alone reads it.
 */
export function resolveLayer(graph: Graph, name: string | undefined, toInput = false): Layer {
  const shapes = inferShapes(graph, 1);
  if (name === undefined) throw new GradlensError('BAD_PARAMS', `give \`layer\`, a node or tensor of ${graph.name} (${candidates(graph, shapes)})`);
  const producer = graph.nodes.find((node) => node.outputs.includes(name)) ?? graph.nodes.find((node) => node.name === name);
  if (!producer)
    throw new GradlensError('BAD_PARAMS', `layer "${name}" is neither a computed tensor nor a node of ${graph.name}; ${candidates(graph, shapes)}`);
  const tensor = producer.outputs.includes(name) ? name : producer.outputs[0]!;
  if (!toInput) return { site: { tensor }, replaced: { tensor }, shape: shapes.get(tensor)!.slice(1), name };
  const data = producer.inputs.filter((input) => input !== '' && !graph.constants.has(input));
  if (data.length !== 1) {
    throw new GradlensError(
      'BAD_PARAMS',
      `attributeToLayerInput: ${producer.op} "${producer.name}" reads ${data.length} computed tensors (${data.join(', ')}); ` +
        'name the one to attribute to as the layer instead',
    );
  }
  const input = data[0]!;
  return { site: { tensor: input }, replaced: { tensor: input, reader: producer.name }, shape: shapes.get(input)!.slice(1), name };
}

/** Up to 30 computed tensors with their shapes, the last first: what a layer name could be. */
function candidates(graph: Graph, shapes: ReadonlyMap<string, Shape>): string {
  const names = graph.nodes.flatMap((node) => node.outputs.filter((name) => shapes.has(name))).reverse();
  const shown = names.slice(0, 30).map((name) => `"${name}" [${shapes.get(name)!.slice(1).join('×')}]`);
  return `its tensors, last first: ${shown.join(', ')}${names.length > 30 ? `, … ${names.length - 30} more` : ''}`;
}

/**
 * The layer's values (count × layer size) and the model's outputs (count × classes) for `count` inputs; with
 * `injected` layer values, the outputs of the model run with the layer's value replaced by them.
 */
export async function layerValues(
  model: Model,
  layer: Layer,
  inputs: Float32Array,
  count: number,
  control: RunControl = {},
  injected?: Float32Array,
): Promise<{ values: Float32Array; logits: Float32Array }> {
  const { device } = model.gpu;
  const [size, layerSize, classes] = [sizeOf(model.graph.inputShape), sizeOf(layer.shape), sizeOf(model.outputShape)];
  const write = (buffer: GPUBuffer, data: Float32Array, rowSize: number, start: number, n: number) => {
    const rows = data.subarray(start * rowSize, (start + n) * rowSize);
    device.queue.writeBuffer(buffer, 0, rows.buffer, rows.byteOffset, rows.byteLength);
  };
  const job: Job<{ values: Float32Array; logits: Float32Array }> = {
    label: 'layer values',
    total: count,
    plans: [{ objective: 'none', layer: { ...layer.replaced, inject: injected !== undefined } }],
    async prepare(scope, _chunkSize, [plan]) {
      const [values, logits] = (await scope.allocate([
        { label: 'layer values', size: count * layerSize * 4 },
        { label: 'layer logits', size: count * classes * 4 },
      ])) as [GPUBuffer, GPUBuffer];
      return {
        points: ({ start, count: n }) => {
          write(plan!.buffers.input, inputs, size, start, n);
          if (injected) write(plan!.buffers.layer!.value, injected, layerSize, start, n);
          return [];
        },
        reduce: ({ start, count: n }) => [
          { source: plan!.buffers.layer!.value, target: values, size: n * layerSize * 4, targetOffset: start * layerSize * 4 },
          { source: plan!.buffers.output, target: logits, size: n * classes * 4, targetOffset: start * classes * 4 },
        ],
        finish: async () => ({
          values: await readFloats(device, values, count * layerSize),
          logits: await readFloats(device, logits, count * classes),
        }),
      };
    },
  };
  return (await runJob(model, job, control)).result;
}

/** Where LayerIntegratedGradients' path starts: the layer's values at baseline inputs, or given layer values. */
export type LayerBaselines = { inputs: Float32Array } | { values: Float32Array };

/**
 * Captum's LayerIntegratedGradients: IG along y(b) + α (y(x) − y(b)) at the layer, each point run through the model's
 * part after the layer with the model's input x (the layer's value replaced, as Captum's forward hook does), the sum
 * Σ w_k ∂f/∂y ⊙ (y(x) − y(b)). `delta` is Σ attribution − (f(x) − f(b)) where b are baseline inputs (Captum's
 * convergence delta); with baseline values given at the layer, f(b) is the model run with those values.
 */
export async function layerIntegratedGradients(
  context: MethodContext,
  layer: Layer,
  baselines: LayerBaselines,
  path: { steps: number; rule: IntegrationRule },
): Promise<EngineResult & { delta: Float32Array }> {
  const { model, count } = context;
  const layerSize = sizeOf(layer.shape);
  const atInputs = await layerValues(model, layer, context.inputs, count, context.options);
  const given = 'values' in baselines ? checkedValues(baselines.values, count, layerSize) : undefined;
  const start = given
    ? { ...(await layerValues(model, layer, context.inputs, count, context.options, given)), values: given }
    : await layerValues(model, layer, (baselines as { inputs: Float32Array }).inputs, count, context.options);
  const run = await integrate(
    model,
    {
      inputs: atInputs.values,
      count,
      baselines: { perInput: start.values },
      path: quadrature(path.rule, path.steps),
      samples: 1,
      stdev: new Float32Array(count),
      multiply: 'input-minus-baseline',
      combine: 'mean',
      seed: context.seed,
    },
    {
      ...context.options,
      targets: context.targets,
      score: context.score,
      at: { layer: { ...layer.replaced, inject: true }, modelInputs: context.inputs },
    },
  );
  const startScores = scoresOf(start.logits, context.targets, sizeOf(model.outputShape), context.score);
  const delta = Float32Array.from({ length: count }, (_, i) => {
    let sum = 0;
    for (let e = 0; e < layerSize; e++) sum += run.attribution[i * layerSize + e]!;
    return sum - (context.scores[i]! - startScores[i]!);
  });
  return { ...run, delta };
}

function checkedValues(values: Float32Array, count: number, layerSize: number): Float32Array {
  if (values.length === count * layerSize) return values;
  if (values.length === layerSize) return Float32Array.from({ length: count * layerSize }, (_, i) => values[i % layerSize]!);
  throw new GradlensError('BAD_INPUT', `layer baselines must have ${layerSize} values (one input) or ${count * layerSize}, got ${values.length}`);
}
