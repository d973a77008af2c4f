import { absolute, GRADIENT, saliency } from '../families/gradients.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'guided-backprop',
  summary: 'Guided backpropagation (Springenberg 2015): ReLUs pass positive gradients of positive inputs',
  run: saliency('guided-backprop'),
  options: { absolute: absolute(false) },
  capabilities: GRADIENT,
  captum: { call: 'GuidedBackprop(model).attribute(x, target)' },
} satisfies MethodDescription;
