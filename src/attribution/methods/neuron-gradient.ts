import { NEURON, NEURON_OPTIONS, neuronMethod } from '../families/layers.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'neuron-gradient',
  summary: 'Neuron gradient: the gradient of one neuron of a layer with respect to the input',
  run: neuronMethod(() => ({ spec: {}, used: {} })),
  options: NEURON_OPTIONS,
  capabilities: NEURON,
  captum: { call: 'NeuronGradient(model, layer).attribute(x, neuron, attribute_to_neuron_input=attributeToLayerInput)' },
} satisfies MethodDescription;
