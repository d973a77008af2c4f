import { absolute, GRADIENT, saliency } from '../families/gradients.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'saliency',
  summary: 'Saliency: the gradient of the target (Simonyan 2014)',
  run: saliency('standard'),
  options: { absolute: absolute(true) },
  capabilities: GRADIENT,
  captum: { call: 'Saliency(model).attribute(x, target, abs=absolute)' },
} satisfies MethodDescription;
