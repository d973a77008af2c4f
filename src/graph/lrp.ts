// Layer-wise relevance propagation as a backward rule set: under LrpRules the backward pass carries relevance R, and
// each op's backward is its relevance rule instead of its vector-Jacobian product (docs/lrp.md says what each computes).
import type { Dispatch } from '../gpu/commands.ts';
import { GradlensError } from '../gpu/errors.ts';
import { lrpAdd, lrpBound, lrpDivide, lrpModify, lrpProduct, type LrpModifier } from '../kernels/attribution/lrp.ts';
import { attribute, sizeOf, type GraphNode, type Shape } from './ir.ts';
import type { LrpLayerRule, LrpRules, OpContext, OpDefinition } from './op.ts';

export interface RelevanceRule {
  /** Bytes of each scratch buffer its backward uses (OpContext.scratch), alive during the node's backward step only. */
  scratch(inputs: readonly Shape[], outputs: readonly Shape[], constant: (index: number) => boolean): Record<string, number>;
  backward(c: OpContext): Promise<Dispatch[]>;
}

/** One tensor of a rule's term: as it is, modified elementwise, left out (a bias), or the box rule's bound. */
type TermTensor = 'same' | LrpModifier | 'zero' | 'low' | 'high';
interface Term {
  input: TermTensor;
  weight: TermTensor;
  bias: TermTensor;
  sign: 1 | -1;
}

/**
 * A layer rule as Zennit's BasicHook terms (zennit/rules.py): z' = Σ sign·f(input; weight, bias), R_in = Σ sign·input ⊙
 * J(weight)ᵀ (R / stab z'). γ is the original rule (Montavon 2019, Captum's GammaRule), for non-negative inputs;
 * α1β0 is Zennit's AlphaBeta(1, 0) = ZPlus, positive contributions with b⁺; z⁺ is the same without bias (DTD's,
 * Montavon 2017); the box rule is Zennit's ZBox, whose biases cancel.
 */
function termsOf(rule: LrpLayerRule, zeroBias: boolean): Term[] {
  const bias = (kept: TermTensor): TermTensor => (zeroBias ? 'zero' : kept);
  const positiveParts = (b: TermTensor): Term[] => [
    { input: 'positive', weight: 'positive', bias: b, sign: 1 },
    { input: 'negative', weight: 'negative', bias: 'zero', sign: 1 },
  ];
  switch (rule) {
    case 'epsilon':
      return [{ input: 'same', weight: 'same', bias: 'same', sign: 1 }];
    case 'gamma':
      return [{ input: 'same', weight: 'gamma', bias: bias('gamma'), sign: 1 }];
    case 'zplus':
      return positiveParts('zero');
    case 'alpha1beta0':
      return positiveParts(bias('positive'));
    case 'flat':
      return [{ input: 'ones', weight: 'ones', bias: 'zero', sign: 1 }];
    case 'box':
      return [
        { input: 'same', weight: 'same', bias: 'zero', sign: 1 },
        { input: 'low', weight: 'positive', bias: 'zero', sign: -1 },
        { input: 'high', weight: 'negative', bias: 'zero', sign: -1 },
      ];
  }
}

/** Conv, ConvTranspose, Gemm or MatMul with a constant weight: the layer's rule, on its own forward and backward kernels. */
function linearRule(definition: OpDefinition, node: GraphNode, rules: LrpRules): RelevanceRule {
  const rule = rules.layers[node.name] ?? 'epsilon';
  const terms = termsOf(rule, rules.zeroBias);
  // The fused ReLU passes relevance, so each term is the pre-activation.
  const linear: GraphNode = { ...node, attributes: { ...node.attributes, activation: 'none' } };
  const hasBias = node.op !== 'MatMul' && node.inputs[2] !== undefined && node.inputs[2] !== '';
  return {
    scratch: (inputs, [output], constant) => {
      const act = constant(0) ? 1 : 0;
      const bytes = (shape: Shape | undefined) => sizeOf(shape ?? []) * 4;
      const need: Record<string, number> = {};
      terms.forEach((term, k) => {
        if (term.input !== 'same') need[`input ${k}`] = bytes(inputs[act]);
        if (term.weight !== 'same') need[`weight ${k}`] = bytes(inputs[1 - act]);
        if (hasBias && term.bias !== 'same' && term.bias !== 'zero') need[`bias ${k}`] = bytes(inputs[2]);
        need[`z ${k}`] = bytes(output);
        need[`c ${k}`] = bytes(inputs[act]);
      });
      return need;
    },
    backward: async (c) => {
      const act = c.isConstant(0) ? 1 : 0;
      const w = 1 - act;
      if (!c.isConstant(w))
        throw new GradlensError('UNSUPPORTED_OP', `lrp: ${node.op} "${node.name}" multiplies two activations; no LRP rule covers it`);
      const target = c.inputGradient(act);
      if (!target) return [];
      const dispatches: Dispatch[] = [];
      const shape = c.inputShapes[act]!;
      const bounds = rule === 'box' ? boxBounds(c, rules, shape) : undefined;
      const modified = async (k: number, index: number, tensor: TermTensor, label: string): Promise<GPUBuffer> => {
        if (tensor === 'same') return c.input(index);
        const y = c.scratch(`${label} ${k}`);
        const count = sizeOf(c.inputShapes[index]!);
        if (tensor === 'low' || tensor === 'high') {
          const bound = bounds![tensor];
          dispatches.push(await lrpBound(c.gpu, { bound: bound.buffer, y }, { count, inner: sizeOf(shape.slice(2)), channels: bound.channels }));
        } else dispatches.push(await lrpModify(c.gpu, { x: c.input(index), y }, { count, modifier: tensor as LrpModifier, gamma: rules.gamma }));
        return y;
      };
      const quotient = c.scratch('z 0');
      const outputCount = sizeOf(c.outputShapes[0]!);
      const contexts: { context: OpContext; input: GPUBuffer }[] = [];
      for (const [k, term] of terms.entries()) {
        const input = await modified(k, act, term.input, 'input');
        const weight = await modified(k, w, term.weight, 'weight');
        const bias = hasBias && term.bias !== 'zero' ? await modified(k, 2, term.bias, 'bias') : undefined;
        const z = c.scratch(`z ${k}`);
        const context: OpContext = {
          ...c,
          node: { ...linear, inputs: bias ? node.inputs : node.inputs.slice(0, 2) },
          input: (i) => (i === act ? input : i === w ? weight : i === 2 && bias ? bias : c.input(i)),
          // A modified weight is a scratch slot other layers reuse, not the model's constant: no f16 copy is made of it.
          isConstant: (i) => (i === w ? term.weight === 'same' && c.isConstant(i) : c.isConstant(i)),
          output: () => z,
          saved: (label, bytes) => c.saved(`lrp ${k} ${label}`, bytes),
        };
        dispatches.push(...(await definition.forward!(context)));
        if (k > 0) dispatches.push(await lrpAdd(c.gpu, { x: z, y: quotient }, { count: outputCount, sign: term.sign, accumulate: true }));
        contexts.push({ context, input });
      }
      const epsilon = rule === 'epsilon' ? rules.epsilon : rules.stabilizer;
      dispatches.push(await lrpDivide(c.gpu, { relevance: c.outputGradient(0), z: quotient }, { count: outputCount, epsilon }));
      for (const [k, { context, input }] of contexts.entries()) {
        const back = c.scratch(`c ${k}`);
        const inputGradient = (i: number) => (i === act ? { buffer: back, accumulate: false } : undefined);
        dispatches.push(...(await definition.backward!({ ...context, outputGradient: () => quotient, inputGradient, rules: 'standard' })));
        const accumulate = k > 0 || target.accumulate;
        dispatches.push(await lrpProduct(c.gpu, { x: input, c: back, y: target.buffer }, { count: sizeOf(shape), sign: terms[k]!.sign, accumulate }));
      }
      return dispatches;
    },
  };
}

/** The box rule's bounds as buffers, written once at plan time: one value or one per channel of the layer's input. */
function boxBounds(c: OpContext, rules: LrpRules, shape: Shape) {
  const of = (name: 'low' | 'high') => {
    const values = rules[name];
    if (values.length !== 1 && values.length !== shape[1]) {
      throw new GradlensError(
        'BAD_PARAMS',
        `lrp: ${name} has ${values.length} values; the box rule's layer input has ${shape[1]} channels (give 1 or ${shape[1]})`,
      );
    }
    const buffer = c.saved(`lrp ${name}`, values.length * 4);
    c.gpu.device.queue.writeBuffer(buffer, 0, Float32Array.from(values));
    return { buffer, channels: values.length };
  };
  return { low: of('low'), high: of('high') };
}

/**
 * Add, average pooling, BatchNorm, ReduceMean/ReduceSum: relevance shared out in proportion to each input's
 * contribution, R_in = x ⊙ Jᵀ(R / stab y) with the op's own backward for J (Zennit's Norm rule; Captum's ε rule there).
 */
function proportionalRule(definition: OpDefinition, rules: LrpRules): RelevanceRule {
  return {
    scratch: (inputs, [output]) => ({
      quotient: sizeOf(output!) * 4,
      ...Object.fromEntries(inputs.map((shape, i) => [`c ${i}`, sizeOf(shape) * 4])),
    }),
    backward: async (c) => {
      const count = sizeOf(c.outputShapes[0]!);
      const quotient = c.scratch('quotient');
      const targets = c.node.inputs.map((_, i) => c.inputGradient(i));
      if (targets.every((t) => !t)) return [];
      const dispatches = [
        await lrpAdd(c.gpu, { x: c.output(0), y: quotient }, { count }),
        await lrpDivide(c.gpu, { relevance: c.outputGradient(0), z: quotient }, { count, epsilon: rules.stabilizer }),
      ];
      const inputGradient = (i: number) => (targets[i] ? { buffer: c.scratch(`c ${i}`), accumulate: false } : undefined);
      dispatches.push(...(await definition.backward!({ ...c, outputGradient: () => quotient, inputGradient, rules: 'standard' })));
      for (const [i, target] of targets.entries()) {
        if (!target) continue;
        const io = { x: c.input(i), c: c.scratch(`c ${i}`), y: target.buffer };
        dispatches.push(await lrpProduct(c.gpu, io, { count: sizeOf(c.inputShapes[i]!), accumulate: target.accumulate }));
      }
      return dispatches;
    },
  };
}

/** Activations: relevance passes unchanged (Zennit's Pass rule; Captum's rule for ReLU and Tanh). */
const passRule: RelevanceRule = {
  scratch: () => ({}),
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    return [await lrpAdd(c.gpu, { x: c.outputGradient(0), y: target.buffer }, { count: sizeOf(c.outputShapes[0]!), accumulate: target.accumulate })];
  },
};

/** The op's own backward: it moves or selects values, so it moves relevance (MaxPool and ReduceMax: winner takes all). */
const routeRule = (definition: OpDefinition): RelevanceRule => ({ scratch: () => ({}), backward: (c) => definition.backward!(c) });

const LINEAR = ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'];
const PROPORTIONAL = ['Add', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'ReduceMean', 'ReduceSum'];
const PASS = ['Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh', 'Gelu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Elu', 'Selu', 'Mish'];
const ROUTE = ['MaxPool', 'ReduceMax', 'Transpose', 'Concat', 'Slice', 'Split', 'Pad'];

/** The relevance rule of a node under LrpRules; UNSUPPORTED_OP for an op no LRP rule covers (Softmax, LayerNorm, Mul, …). */
export function relevanceRule(node: GraphNode, definition: OpDefinition, rules: LrpRules): RelevanceRule {
  if (LINEAR.includes(node.op)) return linearRule(definition, node, rules);
  if (PROPORTIONAL.includes(node.op)) return proportionalRule(definition, rules);
  if (PASS.includes(node.op)) return passRule;
  // Edge and reflect padding copy values, so their gradient would add the copies' relevance up: not a move.
  const copies = node.op === 'Pad' && attribute<string>(node, 'mode', 'constant') !== 'constant';
  if (ROUTE.includes(node.op) && !copies) return routeRule(definition);
  throw new GradlensError(
    'UNSUPPORTED_OP',
    `lrp has no relevance rule for ${node.op} "${node.name}": it covers ${LINEAR.join(', ')} (by rule), activations (passed), ` +
      `${PROPORTIONAL.join(', ')} (proportional), ${ROUTE.join(', ')} (moved; Pad with zeros only) and views`,
  );
}
