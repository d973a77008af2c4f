import { PATH, splitIg } from '../families/paths.ts';
import { BASELINE, number, steps } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'split-ig',
  summary: 'Split IG (Miglani 2020): integrated gradients over the part of the path before the score saturates',
  run: splitIg,
  options: {
    steps: steps(200, "the authors' notebook"),
    splitRatio: number("the share of f(x) − f(b) after which the path is cut (the authors' split_ratio)", 0.95, { min: 0, max: 1 }),
    baseline: BASELINE,
  },
  capabilities: PATH,
} satisfies MethodDescription;
