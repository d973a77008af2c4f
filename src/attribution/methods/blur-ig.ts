import { BLUR, blurIg, PATH } from '../families/paths.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'blur-ig',
  summary: 'Blur IG (Xu 2020): integrated gradients along a path of ever less blurred copies of the input',
  run: blurIg,
  options: BLUR,
  capabilities: PATH,
} satisfies MethodDescription;
