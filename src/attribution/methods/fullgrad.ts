import { fullGrad, LAYER } from '../families/cam.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'fullgrad',
  summary: 'FullGrad (Srinivas 2019): input-gradient and bias-gradient terms summed over layers',
  run: fullGrad,
  options: {},
  capabilities: { ...LAYER, layer: false, delta: true, timesInput: true },
} satisfies MethodDescription;
