import { integratedPath, NEURON, NEURON_OPTIONS, neuronMethod, PATH_OPTIONS } from '../families/layers.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'neuron-integrated-gradients',
  summary: 'Neuron integrated gradients: integrated gradients of one neuron of a layer',
  run: neuronMethod(integratedPath(undefined)),
  options: { ...NEURON_OPTIONS, ...PATH_OPTIONS },
  capabilities: { ...NEURON, timesInput: true },
  captum: {
    call: 'NeuronIntegratedGradients(model, layer).attribute(x, neuron, baselines, n_steps=steps, method=rule, attribute_to_neuron_input=attributeToLayerInput)',
  },
} satisfies MethodDescription;
