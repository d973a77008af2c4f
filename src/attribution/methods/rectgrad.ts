import type { RectGradRules } from '../../graph/op.ts';
import { engineMethod } from '../families/gradients.ts';
import { boolean, number } from '../options.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/** RectGrad (Kim et al. 2019): the input gradient under the 'rectgrad' backward rule set, times the input by default. */
const rectGrad: Method = engineMethod((c) => {
  const { percentile, timesInput } = c.options as Required<ExplainOptions>;
  const rules: RectGradRules = { name: 'rectgrad', percentile };
  return { rules, multiply: timesInput ? 'input' : 'none', used: { percentile, timesInput } };
});

export default {
  id: 'rectgrad',
  summary: "RectGrad (Kim 2019): a ReLU passes gradient only where a ⊙ g is in its layer's top percentile",
  run: rectGrad,
  options: {
    percentile: number("q: the percentile of a ⊙ g a gradient must pass (Kim et al.'s code)", 98, { min: 0, max: 100 }),
    timesInput: boolean("attribution R⁽⁰⁾ ⊙ x (Kim et al.'s code) or the rectified gradient R⁽⁰⁾", true),
  },
  capabilities: { layer: false, delta: false, timesInput: true, random: false, tunnel: 'engine' },
} satisfies MethodDescription;
