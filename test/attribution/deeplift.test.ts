import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain.ts';
import { captumFixture, captumModel, relativeL2 } from '../helpers/captum.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { deepLiftCenter, deepLiftPoolWeights, deepLiftRescale, deepLiftRouted } from '../../src/kernels/attribution/deeplift.ts';
import { expectAllClose } from '../helpers/close.ts';
import { explainGraph } from '../helpers/explain.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll } from '../helpers/run.ts';
import { center, deepLiftReference, poolWeights, rescale, routed } from '../reference/deeplift.ts';
import { referenceForward } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

/** Conv → ReLU → MaxPool (2×2, stride 2) → Conv → ReLU → Gemm: Captum's maxpool rule and ReLU rescale together. */
function cnn(): Graph {
  const b = new GraphBuilder('deeplift-cnn', 7);
  const x = b.input([2, 8, 8]);
  const pooled = b.maxPool(b.relu(b.conv(x, { channels: 4, kernel: 3 })), { kernel: 2, stride: 2 });
  const features = b.node('Flatten', [b.relu(b.conv(pooled, { channels: 3, kernel: 3 }))], { axis: 1 });
  return b.build(b.gemm(features, 5));
}

/** Gemm → Sigmoid → Gemm → Tanh → Gemm → Softmax: every other rule of Captum's DeepLift. */
function mlp(): Graph {
  const b = new GraphBuilder('deeplift-mlp', 11);
  const hidden = b.node('Tanh', [b.gemm(b.node('Sigmoid', [b.gemm(b.input([6]), 10)]), 8)]);
  return b.build(b.node('Softmax', [b.gemm(hidden, 4)], { axis: -1 }));
}

const scores = (graph: Graph, inputs: Float32Array, count: number, targets: readonly number[]) => {
  const out = referenceForward(graph, inputs, count).get(graph.output)!;
  const classes = out.length / count;
  return targets.map((t, i) => out[i * classes + t]!);
};
const sum = (values: ArrayLike<number>, from: number, to: number) => Array.prototype.slice.call(values, from, to).reduce((a, b) => a + b, 0);

// Opened at the top level, so the device outlives every describe block below (testContext destroys it after the file).
const context = await testContext();

describe('DeepLift kernels against their float64 references', () => {
  // Rows of odd length; every third element of a pair equal in both rows, so Δin = 0 takes the fallback.
  const batch = 4;
  const row = 37;
  const x = randomTensor(batch * row, 81, 2).map((v, i) => (Math.floor(i / row) % 2 === 1 && i % 3 === 0 ? 0 : v));
  for (let i = 0; i < x.length; i += 3) if (Math.floor(i / row) % 2 === 1) x[i] = x[i - row]!;
  const y = x.map(Math.tanh);
  const gradY = randomTensor(x.length, 82);
  const fallback = randomTensor(x.length, 83);
  const initial = randomTensor(x.length, 84);
  const dims = { count: x.length, batch };
  const TOLERANCE = { abs: 1e-5, rel: 1e-5 }; // one f32 division or subtraction

  async function run(
    make: (io: Record<string, GPUBuffer>) => Promise<import('../../src/gpu/index.ts').Dispatch>,
    out: string,
    io: Record<string, ArrayLike<number>>,
  ) {
    const buffers = await uploadAll(context, io);
    await runDispatches(context, 'deeplift kernel', [await make(buffers)]);
    return read(context, buffers[out]!, x.length);
  }

  it('rescale: g·Δy/Δx, the fallback where Δx = 0, and the accumulate flag', async () => {
    const expected = rescale(x, y, gradY, fallback, row);
    expect(expected.filter((v, i) => v === fallback[i]).length).toBeGreaterThan(10);
    for (const accumulate of [false, true]) {
      const got = await run(
        (b) => deepLiftRescale(context, { x: b.x!, y: b.y!, gradY: b.gradY!, fallback: b.fallback!, gradX: b.gradX! }, { ...dims, accumulate }),
        'gradX',
        {
          x,
          y,
          gradY,
          fallback,
          gradX: initial,
        },
      );
      expectAllClose(got, accumulate ? expected.map((v, i) => v + initial[i]!) : expected, TOLERANCE, `accumulate ${accumulate}`);
    }
  });

  it('pool weights split Δy at the cross maximum; routed sums both rows over Δx', async () => {
    const weights = await run((b) => deepLiftPoolWeights(context, { y: b.y!, gradY: b.gradY!, weighted: b.weighted! }, dims), 'weighted', {
      y,
      gradY,
      weighted: initial,
    });
    expectAllClose(weights, poolWeights(y, gradY, row), TOLERANCE);
    const got = await run(
      (b) => deepLiftRouted(context, { x: b.x!, routed: b.routed!, fallback: b.fallback!, gradX: b.gradX! }, { ...dims, accumulate: true }),
      'gradX',
      {
        x,
        routed: gradY,
        fallback,
        gradX: initial,
      },
    );
    expectAllClose(
      got,
      routed(x, gradY, fallback, row).map((v, i) => v + initial[i]!),
      TOLERANCE,
    );
  });

  it('center subtracts the mean over each pair', async () => {
    const sums = Float32Array.from({ length: batch / 2 }, (_, p) => sum(gradY, p * 2 * row, (p + 1) * 2 * row));
    const got = await run((b) => deepLiftCenter(context, { rescaled: b.rescaled!, sums: b.sums!, gradX: b.gradX! }, dims), 'gradX', {
      rescaled: gradY,
      sums,
      gradX: initial,
    });
    expectAllClose(got, center(gradY, row), TOLERANCE);
  });

  it('refuses a batch that is not made of pairs', async () => {
    const { v } = await uploadAll(context, { v: x });
    const io = { x: v, y: v, gradY: v, fallback: v, gradX: v };
    await expect(deepLiftRescale(context, io, { count: 3 * row, batch: 3 })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
  });
});

describe("DeepLift on whole networks, against the float64 reference of Captum's rules", () => {
  // f32 forward and backward through a few layers against float64: the multipliers' quotients Δy/Δx lose a few ulps more.
  const TOLERANCE = { abs: 2e-5, rel: 2e-4 };

  for (const [name, graph, size, complete] of [
    ['CNN with ReLU and MaxPool', cnn(), 128, true],
    ['MLP with Sigmoid, Tanh and Softmax', mlp(), 6, false],
  ] as const) {
    it(`${name}: the map and its completeness, zero and tensor baselines, chunk sizes 2 and all`, async () => {
      const count = 3;
      const inputs = randomTensor(count * size, 90, 1.5);
      const targets = [1, 3, 0];
      for (const baseline of [undefined, randomTensor(count * size, 91, 0.5)]) {
        const base = baseline ?? new Float32Array(count * size);
        const expected = deepLiftReference(graph, inputs, base, targets);
        for (const chunkSize of [2, undefined]) {
          const result = await explainGraph(graph, inputs, count, {
            method: 'deeplift',
            target: targets,
            chunkSize,
            ...(baseline ? { baseline } : {}),
          });
          expectAllClose(result.attribution, expected, TOLERANCE, `${baseline ? 'tensor' : 'zeros'} baseline, chunk ${chunkSize ?? 'all'}`);
          // delta = Σ attribution − (f(x) − f(x₀)): zero up to float32 on ReLU nets (the rescale rule telescopes), not
          // through Captum's softmax rule (its mean subtraction leaves −mean(m)·ΣΔin), so it is checked against the reference's.
          const gaps = scores(graph, inputs, count, targets).map(
            (f, i) => f - scores(graph, base.slice(i * size, (i + 1) * size), 1, [targets[i]!])[0]!,
          );
          const residuals = gaps.map((gap, i) => sum(expected, i * size, (i + 1) * size) - gap);
          if (complete) residuals.forEach((residual) => expect(Math.abs(residual)).toBeLessThan(1e-9));
          expectAllClose(result.delta!, residuals, { abs: 1e-4 * Math.max(1, ...gaps.map(Math.abs)), rel: 0 }, 'delta');
        }
      }
    });
  }
});

describe('DeepLift properties', () => {
  it('on a linear network with a zero baseline it is gradient × input', async () => {
    const b = new GraphBuilder('linear', 5);
    const graph = b.build(b.gemm(b.gemm(b.input([7]), 5), 3));
    const inputs = randomTensor(14, 92, 2);
    const deepLift = await explainGraph(graph, inputs, 2, { method: 'deeplift', target: 2 });
    const gradientTimesInput = await explainGraph(graph, inputs, 2, { method: 'gradient-x-input', target: 2 });
    expectAllClose(deepLift.attribution, gradientTimesInput.attribution, { abs: 1e-6, rel: 1e-5 });
  });

  it('is exactly complete on ReLU networks, whatever the baseline (the rescale rule telescopes)', async () => {
    const graph = cnn();
    const inputs = randomTensor(4 * 128, 93, 2);
    const baselines = randomTensor(4 * 128, 94, 2);
    const result = await explainGraph(graph, inputs, 4, { method: 'deeplift', target: [0, 1, 2, 4], baseline: baselines });
    const gaps = [0, 1, 2, 4].map(
      (t, i) => scores(graph, inputs.slice(i * 128, (i + 1) * 128), 1, [t])[0]! - scores(graph, baselines.slice(i * 128, (i + 1) * 128), 1, [t])[0]!,
    );
    gaps.forEach((gap, i) => expect(Math.abs(result.delta![i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(gap))));
  });

  it('gives a feature the network ignores, and a feature equal to its baseline, exactly zero', async () => {
    const b = new GraphBuilder('dead', 6);
    const x = b.input([4]);
    // Feature 3 has zero weight into every hidden unit.
    const w = b.constant(Float32Array.of(1, -2, 0.5, 0, -1, 1, 2, 0, 0.5, 0.5, -1, 0), [3, 4], 'w');
    const hidden = b.relu(b.node('Gemm', [x, w], { transB: 1 }));
    const graph = b.build(b.gemm(hidden, 2));
    const inputs = Float32Array.of(1, 2, -1, 5, 0.5, -1, 3, 2);
    const baseline = Float32Array.of(0, 0, 0, 0, 0.5, 0, 0, 0);
    const result = await explainGraph(graph, inputs, 2, { method: 'deeplift', target: 1, baseline });
    expect([result.attribution[3], result.attribution[7], result.attribution[4]]).toEqual([0, 0, 0]);
    expect(result.attribution.filter((v) => v !== 0).length).toBeGreaterThan(3);
  });
});

// The fixture's CNN keeps a module between its first ReLU and MaxPool when Captum runs it (the ONNX file has none):
// Captum ≥ 0.6 drops the MaxPool's multiplier from a ReLU that feeds it directly (issue #1104; make_deeplift.py).
describe("DeepLift agrees with Captum 0.8's own DeepLift (test/captum/make_deeplift.py)", () => {
  const fixture = captumFixture();

  it("where Captum 0.8's hooks collide (ReLU straight into MaxPool) its delta is not zero; gradlens stays complete", () => {
    const adjacent = fixture.models.cnn.cases['deeplift-tensor-adjacent']!;
    expect(Math.max(...adjacent.delta!.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(Math.max(...fixture.models.cnn.cases['deeplift-tensor']!.delta!.map(Math.abs))).toBeLessThan(1e-12);
  });

  for (const name of ['cnn', 'mlp'] as const) {
    const spec = fixture.models[name]!;
    for (const baseline of ['zeros', 'tensor'] as const) {
      it(`${name}, ${baseline} baseline: attribution within 1e-4 relative L2, and Captum's delta`, async () => {
        const model = await captumModel(context, name);
        try {
          const captum = spec.cases[`deeplift-${baseline}`]!;
          const inputs = Float32Array.from(spec.inputs);
          const result = await explain(model, inputs, spec.targets.length, {
            method: 'deeplift',
            target: spec.targets,
            ...(baseline === 'tensor' ? { baseline: Float32Array.from(captum.baselines) } : {}),
          });
          expect(relativeL2(result.attribution, captum.attribution)).toBeLessThan(Math.max(1e-4, 3 * captum.f32_vs_f64));
          expectAllClose(result.delta!, captum.delta!, { abs: 1e-4, rel: 1e-3 }, 'delta');
        } finally {
          model.destroy();
        }
      });
    }
  }
});
