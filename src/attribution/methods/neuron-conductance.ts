import { baselinesOf, engineAt, NEURON, NEURON_OPTIONS, neuronOf, PATH_OPTIONS, layerOf, used } from '../families/layers.ts';
import { quadrature } from '../quadrature.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/**
 * Conductance through one neuron (Dhamdhere 2018, as Captum's NeuronConductance): Σ_k w_k ∂f/∂y_j(x_k) ∂y_j/∂x(x_k)
 * ⊙ (x − b), the backward of f passing the layer through neuron j alone (src/graph/plan.ts), on the input path.
 */
const neuronConductance: Method = async (context) => {
  const layer = layerOf(context);
  const neuron = neuronOf(context, layer.shape);
  const { steps: n, rule } = context.options as Required<ExplainOptions>;
  const path = { baselines: { perInput: baselinesOf(context) }, path: quadrature(rule, n), multiply: 'input-minus-baseline' as const };
  const run = await engineAt(context, { layer: { tensor: layer.site.tensor, neuron } }, path);
  return { ...run, used: used(layer, { neuron: [...context.options.neuron!], steps: n, rule }) };
};

export default {
  id: 'neuron-conductance',
  summary: "Neuron conductance (Dhamdhere 2018): the input path's IG of the target through one neuron of a layer",
  run: neuronConductance,
  // Captum's NeuronConductance defaults to riemann_trapezoid, unlike its other path methods.
  options: {
    ...NEURON_OPTIONS,
    ...PATH_OPTIONS,
    rule: { ...PATH_OPTIONS.rule, default: 'riemann_trapezoid', doc: "quadrature along the path (Captum NeuronConductance's `method`)" },
  },
  capabilities: { ...NEURON, timesInput: true },
  captum: {
    call: 'NeuronConductance(model, layer).attribute(x, neuron, baselines, target, n_steps=steps, method=rule, attribute_to_neuron_input=attributeToLayerInput)',
  },
} satisfies MethodDescription;
