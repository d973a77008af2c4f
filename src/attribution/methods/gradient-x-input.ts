import { engineMethod, GRADIENT } from '../families/gradients.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'gradient-x-input',
  summary: 'Gradient × input (Shrikumar 2016)',
  run: engineMethod(() => ({ multiply: 'input', used: {} })),
  options: {},
  capabilities: { ...GRADIENT, timesInput: true },
  captum: { call: 'InputXGradient(model).attribute(x, target)' },
} satisfies MethodDescription;
