import { BLUR, GUIDED, IDGI_BASES, idgi, PATH } from '../families/paths.ts';
import { BASELINE, choice, steps } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'idgi',
  summary: "IDGI (Yang 2023): each step's Δf shared out by the squared gradient, on the base method's path",
  run: idgi,
  options: {
    base: choice('whose path and gradients the steps take (Yang 2023 apply it to these three)', IDGI_BASES, 'integrated-gradients'),
    steps: steps(undefined, "the base's: 50, 100 or 200"),
    maxSigma: BLUR.maxSigma,
    fraction: GUIDED.fraction,
    maxDist: GUIDED.maxDist,
    baseline: BASELINE,
  },
  capabilities: PATH,
} satisfies MethodDescription;
