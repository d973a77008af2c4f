import { GradlensError } from '../../gpu/errors.ts';
import type { Graph } from '../../graph/ir.ts';
import type { LrpLayerRule, LrpRules } from '../../graph/op.ts';
import { engineMethod } from '../families/gradients.ts';
import { boolean, choice, number } from '../options.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

type LayerKind = 'conv' | 'dense';
const KIND: Readonly<Record<string, LayerKind>> = { Conv: 'conv', ConvTranspose: 'conv', Gemm: 'dense', MatMul: 'dense' };

/** A rule per layer kind, and for the first layer of the kinds `first` names (Zennit's SpecialFirstLayerMapComposite). */
interface Composite {
  conv: LrpLayerRule;
  dense: LrpLayerRule;
  first?: { kinds: readonly LayerKind[]; rule: LrpLayerRule };
}

/**
 * Zennit's composites (zennit/composites.py): EpsilonPlusFlat, EpsilonGammaBox, EpsilonPlus, whose ZPlus is α1β0
 * here (positive contributions with b⁺); then one rule on every layer. 'lrp-0' is the ε rule with ε = 0.
 */
const COMPOSITES: Readonly<Record<string, Composite>> = {
  'epsilon-plus-flat': { conv: 'alpha1beta0', dense: 'epsilon', first: { kinds: ['conv', 'dense'], rule: 'flat' } },
  'epsilon-gamma-box': { conv: 'gamma', dense: 'epsilon', first: { kinds: ['conv'], rule: 'box' } },
  'epsilon-plus': { conv: 'alpha1beta0', dense: 'epsilon' },
  'lrp-0': { conv: 'epsilon', dense: 'epsilon' },
  ...Object.fromEntries((['epsilon', 'gamma', 'zplus', 'alpha1beta0'] as const).map((rule) => [rule, { conv: rule, dense: rule }])),
};

/** Each linear layer's rule by node name; the first is the first in node order (Zennit: the first module matched). */
function layerRules(graph: Graph, composite: Composite): Record<string, LrpLayerRule> {
  const layers: Record<string, LrpLayerRule> = {};
  let first = composite.first;
  for (const node of graph.nodes) {
    const kind = KIND[node.op];
    if (!kind || node.inputs.slice(0, 2).every((name) => !graph.constants.has(name))) continue; // two activations: no rule
    if (first?.kinds.includes(kind)) {
      layers[node.name] = first.rule;
      first = undefined;
    } else layers[node.name] = composite[kind];
  }
  return layers;
}

/**
 * Layer-wise relevance propagation (Bach et al. 2015): the relevance of the target's logit, f(x) at the output as
 * Captum seeds it, carried back under the 'lrp' rule set; the runner seeds 1, so the map is scaled by f(x) here.
 * delta is f(x) − Σ R, what the biases and the stabilisers absorbed (Captum's convergence delta, its sign).
 */
const lrp: Method = async (context) => {
  const { composite, epsilon, gamma, low, high, zeroBias } = context.options as Required<ExplainOptions>;
  if (context.score !== 'logit') {
    throw new GradlensError('BAD_PARAMS', `lrp propagates the target's logit; score "${context.score}" has no relevance rule (use score: 'logit')`);
  }
  if (!(low < high)) throw new GradlensError('BAD_PARAMS', `lrp: the box rule needs low < high, got low ${low}, high ${high}`);
  const layers = layerRules(context.model.graph, COMPOSITES[composite]!);
  const rules: LrpRules = {
    name: 'lrp',
    layers,
    epsilon: composite === 'lrp-0' ? 0 : epsilon,
    gamma,
    stabilizer: 1e-9, // Captum's PropagationRule.STABILITY_FACTOR, for every rule but ε (Zennit's is 1e-6)
    zeroBias,
    low: [low],
    high: [high],
  };
  const run = engineMethod(() => ({ rules, used: { composite, epsilon: rules.epsilon, gamma, low, high, zeroBias, layers } }));
  const result = await run(context);
  const { size, count, scores } = context;
  const attribution = result.attribution.map((r, i) => r * scores[Math.floor(i / size)]!);
  const delta = Float32Array.from({ length: count }, (_, n) => {
    let sum = 0;
    for (let e = 0; e < size; e++) sum += attribution[n * size + e]!;
    return scores[n]! - sum;
  });
  return { ...result, attribution, delta };
};

export default {
  id: 'lrp',
  summary: 'Layer-wise relevance propagation (Bach 2015): the target logit shared out layer by layer by per-layer rules',
  run: lrp,
  options: {
    composite: choice("rules by layer type (Zennit's composites) or one rule everywhere", Object.keys(COMPOSITES), 'epsilon-plus-flat'),
    epsilon: number("ε of the ε rule (Zennit's Epsilon; Captum's EpsilonRule takes 1e-9)", 1e-6, { min: 0 }),
    gamma: number("γ of the γ rule (Zennit's and Captum's GammaRule)", 0.25, { min: 0 }),
    low: number("the box rule's lowest input value (Zennit's ZBox; 0 for raw images)", 0),
    high: number("the box rule's highest input value (Zennit's ZBox; 1 for raw images)", 1),
    zeroBias: boolean("leave biases out of the γ and α1β0 rules (Captum's set_bias_to_zero)", false),
  },
  // × input: most rules' R_in = a ⊙ c; no noise tunnel, as f(x) scales each map.
  capabilities: { layer: false, delta: true, timesInput: true, random: false, tunnel: 'none' },
  captum: {
    call: 'LRP(model).attribute(x, target)',
    differs: 'ε 1e-6 (Zennit) where EpsilonRule takes 1e-9; composites and the box rule have no Captum counterpart',
  },
} satisfies MethodDescription;
