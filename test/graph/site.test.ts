import { describe, expect, it } from 'vitest';
import { isGradlensError } from '../../src/gpu/errors.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { siteGraph } from '../../src/graph/site.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

// f32 kernels against the float64 interpreter through a few convolutions of order-1 values.
const TOLERANCE = { abs: 3e-5, rel: 2e-4 };

/**
 * A residual block, so that a layer's input has two readers: conv1 → relu1 → conv2, Add(conv2, relu1) → relu2 → dense.
 * Captum's attribute_to_layer_input on conv2 replaces relu1 for conv2 only; the Add keeps relu1's own value.
 */
function residualNet(): Graph {
  const b = new GraphBuilder('residual', 7);
  const x = b.input([2, 5, 5]);
  const r1 = b.relu(b.conv(x, { channels: 3, kernel: 3 }, 'conv1'), 'relu1');
  const sum = b.node('Add', [b.conv(r1, { channels: 3, kernel: 3 }, 'conv2'), r1], {}, 'add');
  const r2 = b.relu(sum, 'relu2');
  return b.build(b.gemm(b.node('Flatten', [r2], { axis: 1 }, 'flat'), 4, {}, 'fc'));
}

const batch = 2;
const graph = residualNet();
const input = randomTensor(batch * 50, 3, 1);
const LAYER = 75; // relu1 per sample: 3 × 5 × 5
const target = [1, 3];
const seedOf = (targets: readonly number[], classes: number) =>
  Float64Array.from({ length: batch * classes }, (_, i) => Number(i % classes === targets[Math.floor(i / classes)]));

describe('plan: a layer site, its gradient and injected values', () => {
  it('gives the gradient of the objective at the layer, the backward stopping there', async () => {
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, objective: 'logit', layer: { tensor: 'relu1' } });
    const result = await plan.run({ input, target });
    const values = referenceForward(graph, input, batch);
    const expected = referenceGradients(graph, values, seedOf(target, 4), batch).get('relu1')!;
    expectAllClose(result.layer!.value, values.get('relu1')!, TOLERANCE, 'layer value');
    expectAllClose(result.layer!.gradient!, expected, TOLERANCE, 'layer gradient');
    expect(result.inputGradient).toBeUndefined();
  });

  it('runs the part after an injected layer on the given values, with the gradient there', async () => {
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, objective: 'logit', layer: { tensor: 'relu1', inject: true } });
    const layer = randomTensor(batch * LAYER, 5, 1.5);
    const result = await plan.run({ input, target, layer });
    const values = referenceForward(graph, input, batch, new Map([['relu1', layer]]));
    expectAllClose(result.output, values.get('fc')!, TOLERANCE, 'output');
    // ∂f/∂(the injected values), by central differences of the reference with relu1 replaced.
    const f = (at: Float64Array) => referenceForward(graph, input, batch, new Map([['relu1', at]])).get('fc')!;
    const numeric = numericGradient(f, layer, seedOf(target, 4));
    expectAllClose(result.layer!.gradient!, numeric, { abs: 1e-4, rel: 1e-3 }, 'layer gradient vs finite differences');
  });

  it("replaces only one reader's input (attribute_to_layer_input): the residual branch keeps its own value", async () => {
    const model = await Model.create(await testContext(), graph);
    const site = { tensor: 'relu1', reader: 'conv2' };
    const layer = randomTensor(batch * LAYER, 9, 1);
    const injected = await (await model.plan({ batch, objective: 'logit', layer: { ...site, inject: true } })).run({ input, target, layer });
    const gradientOnly = await (await model.plan({ batch, objective: 'logit', layer: site })).run({ input, target });
    const rewritten = siteGraph(graph, site, undefined);
    const copy = rewritten.site!;
    const values = referenceForward(rewritten.graph, input, batch, new Map([[copy, layer]]));
    expectAllClose(injected.output, values.get('fc')!, TOLERANCE, 'output with conv2 reading the given values');
    const f = (at: Float64Array) => referenceForward(rewritten.graph, input, batch, new Map([[copy, at]])).get('fc')!;
    expectAllClose(injected.layer!.gradient!, numericGradient(f, layer, seedOf(target, 4)), { abs: 1e-4, rel: 1e-3 }, 'gradient via conv2');
    const plain = referenceForward(rewritten.graph, input, batch);
    const throughConv2 = referenceGradients(rewritten.graph, plain, seedOf(target, 4), batch).get(copy)!;
    const throughBoth = referenceGradients(graph, referenceForward(graph, input, batch), seedOf(target, 4), batch).get('relu1')!;
    expectAllClose(gradientOnly.layer!.gradient!, throughConv2, TOLERANCE, 'gradient through conv2 alone');
    expect(Math.max(...throughConv2.map((v, i) => Math.abs(v - throughBoth[i]!)))).toBeGreaterThan(1e-2); // the two differ
  });

  it('takes an inner tensor as the output: the gradient of one neuron', async () => {
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, objective: 'logit', output: 'conv2' });
    const neuron = [17, 40];
    const result = await plan.run({ input, target: neuron });
    const f = (at: Float64Array) => referenceForward(graph, at, batch).get('conv2')!;
    expectAllClose(result.inputGradient!, numericGradient(f, input, seedOf(neuron, LAYER)), { abs: 1e-4, rel: 1e-3 }, 'neuron gradient');
    expect(result.output.length).toBe(batch * LAYER);
  });

  it('refuses a layer that is not a computed tensor, or a reader that does not read it', async () => {
    const model = await Model.create(await testContext(), graph);
    for (const layer of [{ tensor: 'nothing' }, { tensor: 'relu1', reader: 'fc' }, { tensor: 'input', inject: true }]) {
      const error = await model.plan({ batch, layer }).catch((e: unknown) => e);
      expect(isGradlensError(error) && error.code, JSON.stringify(layer)).toBe('BAD_PARAMS');
    }
  });
});
