import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { Model } from '../../src/graph/model.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';
import { seedGradient } from '../reference/seed.ts';

// f32 kernels vs float64 reference through a few ops of order-1 values: a few hundred ulps at most.
const TOLERANCE = { abs: 2e-5, rel: 1e-4 };

/** Per-sample [4, 6] → LayerNorm → GELU → Flatten → LogSoftmax: every op here has a kernel, a reference and a gradient. */
function smallGraph(): Graph {
  const b = new GraphBuilder('small', 3);
  let x = b.input([4, 6]);
  x = b.layerNorm(x, 'norm');
  x = b.node('Gelu', [x], {}, 'gelu');
  x = b.node('Flatten', [x], { axis: 1 }, 'flat');
  return b.build(b.node('Softmax', [x], { axis: -1 }, 'probs'));
}

describe('plan: forward, seed and reverse mode on the GPU against the float64 interpreter', () => {
  const batch = 3;
  const graph = smallGraph();
  const input = randomTensor(batch * 24, 11, 2);
  const reference = referenceForward(graph, input, batch);

  for (const score of ['logit', 'probability', 'log-probability'] as const) {
    it(`gradient of the ${score} of per-sample targets`, async () => {
      const model = await Model.create(await testContext(), graph);
      const plan = await model.plan({ batch, objective: score, capture: ['gelu'] });
      const targets = [5, 'top1', 23] as const;
      const result = await plan.run({ input, target: targets });
      const numericTargets = targets.map((t) => (t === 'top1' ? -1 : t));
      const seed = seedGradient(score, reference.get('probs')!, numericTargets, 24);
      const gradients = referenceGradients(graph, reference, seed.gradient, batch);
      expectAllClose(result.output, reference.get('probs')!, TOLERANCE, 'output');
      expect([...result.target!]).toEqual(seed.resolved);
      expectAllClose(result.score!, seed.scores, TOLERANCE, 'score');
      expectAllClose(result.inputGradient!, gradients.get('input')!, TOLERANCE, 'input gradient');
      expectAllClose(result.activations.gelu!, reference.get('gelu')!, TOLERANCE, 'captured activation');
      expectAllClose(result.gradients.gelu!, gradients.get('gelu')!, TOLERANCE, 'captured gradient');
      plan.destroy();
      model.destroy();
    });
  }

  it('gradient of a given seed tensor, run twice on the same plan with different inputs', async () => {
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, objective: 'given' });
    for (const trial of [1, 2]) {
      const x = randomTensor(batch * 24, 100 + trial, 2);
      const seed = randomTensor(batch * 24, 200 + trial);
      const values = referenceForward(graph, x, batch);
      const result = await plan.run({ input: x, outputGradient: seed });
      expectAllClose(result.inputGradient!, referenceGradients(graph, values, seed, batch).get('input')!, TOLERANCE, `trial ${trial}`);
    }
    model.destroy();
  });

  it('a forward-only plan returns the output and no gradient', async () => {
    const model = await Model.create(await testContext(), graph);
    const result = await (await model.plan({ batch, objective: 'none' })).run({ input });
    expectAllClose(result.output, reference.get('probs')!, TOLERANCE, 'output');
    expect(result.inputGradient).toBeUndefined();
  });

  it('refuses a wrong input size, NaN, a bad target and an unknown capture, each with its code', async () => {
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch });
    await expect(plan.run({ input: new Float32Array(5) })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const nan = input.slice();
    nan[7] = Number.NaN;
    await expect(plan.run({ input: nan })).rejects.toMatchObject({ code: 'NAN_INPUT' });
    await expect(plan.run({ input, target: 24 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(model.plan({ batch, capture: ['nope'] })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
    // The plan still works after refusing bad input.
    expectAllClose((await plan.run({ input })).output, reference.get('probs')!, TOLERANCE, 'output after errors');
  });
});
