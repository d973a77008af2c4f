import { absolute, GRADIENT, saliency } from '../families/gradients.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'deconvnet',
  summary: 'Deconvnet (Zeiler 2014): ReLUs pass positive gradients',
  run: saliency('deconvnet'),
  options: { absolute: absolute(false) },
  capabilities: GRADIENT,
  captum: { call: 'Deconvolution(model).attribute(x, target)' },
} satisfies MethodDescription;
