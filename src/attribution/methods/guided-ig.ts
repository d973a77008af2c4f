import { GUIDED, guidedIg, PATH } from '../families/paths.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'guided-ig',
  summary: 'Guided IG (Kapishnikov 2021): an adaptive path that moves the features of smallest gradient first',
  run: guidedIg,
  options: GUIDED,
  capabilities: PATH,
} satisfies MethodDescription;
