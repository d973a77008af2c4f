import { afterAll, describe, expect, it } from 'vitest';
import { explain, type ExplainOptions } from '../../src/attribution/explain.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

const models = new Map<Graph, Promise<Model>>();
afterAll(async () => {
  for (const model of models.values()) (await model).destroy();
});

async function run(graph: Graph, inputs: Float32Array, count: number, options: ExplainOptions) {
  if (!models.has(graph))
    models.set(
      graph,
      testContext().then((context) => Model.create(context, graph)),
    );
  return explain(await models.get(graph)!, inputs, count, options);
}

const sum = (values: ArrayLike<number>, from = 0, to = values.length) => {
  let total = 0;
  for (let i = from; i < to; i++) total += values[i]!;
  return total;
};

/** logits = W · flatten(x) + c over an input of any shape: every path integrates the constant gradient W_t. */
function linear(shape: number[], classes: number) {
  const b = new GraphBuilder('linear', 8);
  const x = b.input(shape);
  const graph = b.build(b.gemm(shape.length > 1 ? b.node('Flatten', [x], { axis: 1 }) : x, classes, {}, 'logits'));
  const features = shape.reduce((a, c) => a * c, 1);
  const constants = [...graph.constants.values()];
  const weight = constants.find((c) => c.shape.length === 2)!.data;
  const bias = constants.find((c) => c.shape.length === 1)!.data;
  const row = (t: number) => Array.from(weight.slice(t * features, (t + 1) * features));
  const logit = (t: number, input: ArrayLike<number>) => bias[t]! + row(t).reduce((s, w, e) => s + w * input[e]!, 0);
  return { graph, features, row, logit };
}

/**
 * scipy.ndimage.gaussian_filter with σ on the two trailing axes (the only axis of a 1-D input), mode 'constant' (zeros
 * beyond the edges), truncate 4 (radius ⌊4σ + ½⌋), in float64, written from scipy's definition.
 */
function gaussianFilter(x: ArrayLike<number>, shape: number[], sigma: number): Float64Array {
  const out = Float64Array.from(x);
  const radius = Math.floor(4 * sigma + 0.5);
  if (sigma === 0 || radius === 0) return out;
  const weights = Array.from({ length: 2 * radius + 1 }, (_, t) => Math.exp(-((t - radius) ** 2) / (2 * sigma * sigma)));
  const norm = sum(weights);
  const [height, width] = shape.length === 1 ? [1, shape[0]!] : shape.slice(-2);
  const pass = (source: Float64Array, length: number, stride: number, blocks: number[]) => {
    const result = new Float64Array(source.length);
    for (const start of blocks) {
      for (let i = 0; i < length; i++) {
        let value = 0;
        for (let t = -radius; t <= radius; t++) if (i + t >= 0 && i + t < length) value += weights[t + radius]! * source[start + (i + t) * stride]!;
        result[start + i * stride] = value / norm;
      }
    }
    return result;
  };
  const planes = out.length / (height! * width!);
  const columns: number[] = [];
  const rows: number[] = [];
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < width!; i++) columns.push(p * height! * width! + i);
    for (let i = 0; i < height!; i++) rows.push(p * height! * width! + i * width!);
  }
  const blurred = shape.length === 1 ? out : pass(out, height!, width!, columns);
  return pass(blurred, width!, 1, rows);
}

describe('blur-ig (Xu et al. 2020, as PAIR saliency computes it)', () => {
  const shape = [2, 5, 6];
  const model = linear(shape, 3);
  const x = randomTensor(2 * 60, 81, 1);
  const targets = [0, 2];
  const wOf = (i: number) => model.row(targets[i]!);

  it('on a linear model the sum telescopes to W ⊙ (x − blur(x, σ_max)) when grad_step equals the σ step', async () => {
    const result = await run(model.graph, x, 2, { method: 'blur-ig', target: targets, maxSigma: 3, steps: 6, gradStep: 0.5 });
    const expected = [0, 1].flatMap((i) => {
      const one = x.subarray(i * 60, (i + 1) * 60);
      const blurred = gaussianFilter(one, shape, 3);
      return wOf(i).map((w, e) => w * (one[e]! - blurred[e]!));
    });
    // f32 blurs of values ≤ 1 and six f32 additions: a few ulps of 1.
    expectAllClose(result.attribution, expected, { abs: 2e-6, rel: 1e-5 });
    // f(x) − f(blur(x, σ_max)) = W_t · (x − blur) exactly for a linear model.
    expectAllClose(result.delta!, [0, 0], { abs: 1e-5, rel: 0 }, 'delta');
  });

  it("with PAIR's defaults (max_sigma 50, steps 100, grad_step 0.01) it is PAIR's sum −Σ Δσ · g ⊙ (blur(σ + h) − blur(σ)) / h", async () => {
    const result = await run(model.graph, x, 2, { method: 'blur-ig', target: targets });
    expect(result.options).toMatchObject({ steps: 100, maxSigma: 50, gradStep: 0.01 });
    const expected = [0, 1].flatMap((i) => {
      const one = x.subarray(i * 60, (i + 1) * 60);
      const total = new Float64Array(60);
      for (let k = 0; k < 100; k++) {
        const [sigma, next] = [(k * 50) / 100, ((k + 1) * 50) / 100];
        const [low, high] = [gaussianFilter(one, shape, sigma), gaussianFilter(one, shape, sigma + 0.01)];
        for (let e = 0; e < 60; e++) total[e]! -= ((next - sigma) * (high[e]! - low[e]!)) / 0.01;
      }
      return wOf(i).map((w, e) => w * total[e]!);
    });
    // Each step's difference of two f32 blurs (values ≤ 1) loses ~2^-23 absolute, magnified by Δσ/h = 50 and |W| ≤ 0.32,
    // over 100 steps: 100·50·2^-23·0.32 ≈ 2e-4 in the worst case; the sums themselves are of order 0.1.
    expectAllClose(result.attribution, expected, { abs: 2e-4, rel: 1e-3 });
  });

  it('a 1-D input is blurred along its only axis', async () => {
    const flat = linear([9], 2);
    const v = randomTensor(9, 82, 1);
    const result = await run(flat.graph, v, 1, { method: 'blur-ig', target: 1, maxSigma: 2, steps: 4, gradStep: 0.5 });
    const blurred = gaussianFilter(v, [9], 2);
    expectAllClose(
      result.attribution,
      flat.row(1).map((w, e) => w * (v[e]! - blurred[e]!)),
      { abs: 2e-6, rel: 1e-5 },
    );
  });
});

/** PAIR's guided_ig_impl (saliency/core/guided_ig.py) transcribed: float64 throughout, gradients from `gradient`. */
type Gradient = (x: Float64Array) => Float64Array;

function pairGuidedIg(input: Float64Array, baseline: Float64Array, gradient: Gradient, steps: number, fraction: number, maxDist: number) {
  const n = input.length;
  const x = baseline.slice();
  const l1 = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0);
  const l1Total = l1(input, baseline);
  const attr = new Float64Array(n);
  if (l1Total === 0) return attr;
  const toX = (alpha: number, to: Float64Array, from: Float64Array) => from.map((f, i) => f + (to[i]! - f) * alpha);
  for (let step = 0; step < steps; step++) {
    const gradActual = gradient(x);
    const grad = gradActual.slice();
    const alpha = (step + 1) / steps;
    const [alphaMin, alphaMax] = [Math.max(alpha - maxDist, 0), Math.min(alpha + maxDist, 1)];
    const [xMin, xMax] = [toX(alphaMin, input, baseline), toX(alphaMax, input, baseline)];
    const l1Target = l1Total * (1 - (step + 1) / steps);
    let gamma = Infinity;
    while (gamma > 1) {
      const xOld = x.slice();
      const xAlpha = x.map((v, i) => (input[i]! - baseline[i]! !== 0 ? (v - baseline[i]!) / (input[i]! - baseline[i]!) : alphaMax));
      xAlpha.forEach((a, i) => a < alphaMin && (x[i] = xMin[i]!));
      const l1Current = l1(x, input);
      if (Math.abs(l1Target - l1Current) <= Math.max(1e-9 * Math.max(Math.abs(l1Target), Math.abs(l1Current)), 1e-9)) {
        x.forEach((v, i) => (attr[i]! += (v - xOld[i]!) * gradActual[i]!));
        break;
      }
      x.forEach((v, i) => v === xMax[i] && (grad[i] = Infinity));
      const sorted = grad.map(Math.abs).sort();
      const threshold = sorted[Math.floor((n - 1) * fraction)]!;
      const s = grad.map((g) => Number(Math.abs(g) <= threshold && g !== Infinity));
      const l1S = x.reduce((total, v, i) => total + Math.abs(v - xMax[i]!) * s[i]!, 0);
      gamma = l1S > 0 ? (l1Current - l1Target) / l1S : Infinity;
      const moved = gamma > 1 ? xMax : toX(gamma, xMax, x);
      s.forEach((selected, i) => selected && (x[i] = moved[i]!));
      x.forEach((v, i) => (attr[i]! += (v - xOld[i]!) * gradActual[i]!));
    }
  }
  return attr;
}

/** ∂ logit_t / ∂ input and the logit from the float64 reference interpreter, one input at a time. */
function referenceModel(graph: Graph, classes: number, target: number) {
  const seed = Float64Array.from({ length: classes }, (_, k) => Number(k === target));
  return {
    gradient: (point: ArrayLike<number>) => referenceGradients(graph, referenceForward(graph, point, 1), seed, 1).get(graph.input)!,
    score: (point: ArrayLike<number>) => referenceForward(graph, point, 1).get(graph.output)![target]!,
  };
}

/** A small ReLU network: h = relu(A x + a), logits = B h + c. */
function mlp(features: number, hidden: number, classes: number): Graph {
  const b = new GraphBuilder('mlp', 12);
  return b.build(b.gemm(b.relu(b.gemm(b.input([features]), hidden)), classes));
}

describe('guided-ig (Kapishnikov et al. 2021, as PAIR saliency computes it)', () => {
  it('on a linear model equals (x − b) ⊙ W_t: every path from b to x integrates a constant gradient the same', async () => {
    const model = linear([7], 3);
    const x = randomTensor(14, 91, 2);
    const baseline = randomTensor(7, 92, 1);
    const result = await run(model.graph, x, 2, { method: 'guided-ig', target: [2, 0], baseline, steps: 25 });
    const expected = [0, 1].flatMap((i) => model.row([2, 0][i]!).map((w, e) => w * (x[i * 7 + e]! - baseline[e]!)));
    expectAllClose(result.attribution, expected, { abs: 1e-6, rel: 1e-5 });
  });

  it("follows PAIR's guided_ig_impl step for step on a ReLU network", async () => {
    const graph = mlp(12, 10, 3);
    const x = randomTensor(24, 93, 1);
    const [steps, fraction, maxDist] = [30, 0.25, 0.1];
    const result = await run(graph, x, 2, { method: 'guided-ig', target: [1, 2], steps, fraction, maxDist });
    const expected = [1, 2].flatMap((target, i) => {
      const reference = referenceModel(graph, 3, target);
      const one = Float64Array.from(x.subarray(i * 12, (i + 1) * 12));
      return [...pairGuidedIg(one, new Float64Array(12), reference.gradient, steps, fraction, maxDist)];
    });
    // Same path when f32 and f64 gradients order |g| alike; then only the gradients' f32 rounding differs.
    expectAllClose(result.attribution, expected, { abs: 1e-5, rel: 1e-4 });
  });

  it("follows PAIR's guided_ig_impl on a small CNN at PAIR's defaults (x_steps 200, fraction 0.25, max_dist 0.02)", async () => {
    const graph = smallCnn({ inputSize: 8, seed: 5 });
    const x = randomTensor(2 * 64, 94, 1);
    const result = await run(graph, x, 2, { method: 'guided-ig', target: [3, 7] });
    expect(result.options).toMatchObject({ steps: 200, fraction: 0.25, maxDist: 0.02, baseline: 'zeros' });
    for (const [i, target] of [3, 7].entries()) {
      const reference = referenceModel(graph, 10, target);
      const one = Float64Array.from(x.subarray(i * 64, (i + 1) * 64));
      const expected = pairGuidedIg(one, new Float64Array(64), reference.gradient, 200, 0.25, 0.02);
      // 200 steps of f32 gradients (relative error ~1e-7) against float64 ones, along the same path.
      expectAllClose(result.attribution.subarray(i * 64, (i + 1) * 64), expected, { abs: 1e-6, rel: 1e-5 }, `input ${i}`);
      const change = reference.score(one) - reference.score(new Float64Array(64));
      const total = sum(result.attribution, i * 64, (i + 1) * 64);
      expect(result.delta![i]).toBeCloseTo(total - change, 5);
      // Completeness holds only roughly in PAIR's discretisation, and more steps do not mend it: each step moves the
      // features of smallest |g| in jumps of up to 2·max_dist of their span with the gradient from before the jump,
      // and that choice favours features whose gradient is about to grow. Measured here: gaps of 0.15 and 0.18 (in
      // logits), the same as PAIR's own algorithm above gives; on the straight line (next test) IG's 1%.
      const scale = Math.abs(reference.score(one)) + Math.abs(reference.score(new Float64Array(64)));
      expect(Math.abs(total - change), `input ${i}: Σ ${total} vs ${change}`).toBeLessThan(0.25 * scale);
    }
  });

  it('with max_dist 0 is integrated gradients on the straight line (left Riemann sum), and complete as IG is', async () => {
    const graph = smallCnn({ inputSize: 8, seed: 5 });
    const x = randomTensor(2 * 64, 95, 1);
    const guided = await run(graph, x, 2, { method: 'guided-ig', target: [3, 7], maxDist: 0, steps: 100 });
    const ig = await run(graph, x, 2, { method: 'integrated-gradients', target: [3, 7], rule: 'riemann_left', steps: 100 });
    // Both take g at α_k = k/100 and weight it by (x − b)/100; the points differ by f32 rounding of b + α(x − b).
    expectAllClose(guided.attribution, ig.attribution, { abs: 1e-6, rel: 1e-4 });
    // A left Riemann sum over 100 steps of a piecewise-linear network: a few percent of f(x) − f(b) (measured 0.7 and 2.7%).
    for (let i = 0; i < 2; i++) {
      const total = sum(guided.attribution, i * 64, (i + 1) * 64);
      expect(Math.abs(guided.delta![i]!), `input ${i}`).toBeLessThan(0.05 * Math.abs(total - guided.delta![i]!) + 1e-3);
    }
  });
});

describe('idgi (Yang et al. 2023)', () => {
  it('on a linear model is W_t² / ‖W_t‖² · (f(end) − f(start)) on every base path', async () => {
    const shape = [1, 4, 5];
    const model = linear(shape, 2);
    const x = randomTensor(20, 101, 1);
    const w = model.row(1);
    const norm = sum(w.map((v) => v * v));
    const f = (input: ArrayLike<number>) => model.logit(1, input);
    const starts = {
      'integrated-gradients': new Float64Array(20),
      'guided-ig': new Float64Array(20),
      'blur-ig': gaussianFilter(x, shape, 3),
    };
    for (const [base, start] of Object.entries(starts)) {
      const result = await run(model.graph, x, 1, { method: 'idgi', base: base as ExplainOptions['base'], target: 1, steps: 10, maxSigma: 3 });
      const change = f(x) - f(start);
      // Δf sums f32 scores of order 1; the fold's f32 ‖g‖² and products add a few ulps.
      expectAllClose(
        result.attribution,
        w.map((v) => ((v * v) / norm) * change),
        { abs: 1e-6, rel: 1e-4 },
        base,
      );
    }
  });

  it("on the integrated-gradients path equals the authors' fold of float64 reference gradients and scores", async () => {
    const graph = smallCnn({ inputSize: 8, seed: 6 });
    const x = randomTensor(64, 102, 1);
    const steps = 12;
    const result = await run(graph, x, 1, { method: 'idgi', target: 4, steps });
    const reference = referenceModel(graph, 10, 4);
    const points = Array.from({ length: steps + 1 }, (_, j) => x.map((v) => (j / steps) * v));
    const scores = points.map(reference.score);
    const expected = new Float64Array(64);
    for (let j = 0; j < steps; j++) {
      const g = reference.gradient(points[j]!);
      const norm = sum(g.map((v) => v * v));
      g.forEach((v, e) => (expected[e]! += (v * v * (scores[j + 1]! - scores[j]!)) / norm));
    }
    // Each Δf is a difference of f32 scores (|f| ≤ ~2, so ~2^-22 absolute), 12 of them; the rest is f32 rounding.
    const peak = Math.max(...expected.map(Math.abs));
    expectAllClose(result.attribution, expected, { abs: 12 * 2 ** -22 + 1e-4 * peak, rel: 1e-3 });
  });

  it('is complete on a small CNN for every base: Σ attribution = f(x_N) − f(x_0) up to f32', async () => {
    const graph = smallCnn({ inputSize: 8, seed: 7 });
    const x = randomTensor(2 * 64, 103, 1);
    const targets = [2, 5];
    for (const base of ['integrated-gradients', 'blur-ig', 'guided-ig'] as const) {
      const result = await run(graph, x, 2, { method: 'idgi', base, target: targets, steps: 16, maxSigma: 4 });
      for (const [i, target] of targets.entries()) {
        const one = x.subarray(i * 64, (i + 1) * 64);
        const reference = referenceModel(graph, 10, target);
        const start = base === 'blur-ig' ? gaussianFilter(one, [1, 8, 8], 4) : new Float64Array(64);
        const change = reference.score(one) - reference.score(start);
        const total = sum(result.attribution, i * 64, (i + 1) * 64);
        // Every step adds exactly its Δf (the g²/‖g‖² weights sum to 1); what is left is f32: the scores (2^-23 of |f|),
        // each step's f32 ‖g‖² over 64 terms against its f32 Σ g²/‖g‖², and the attribution's 16 f32 additions.
        expect(Math.abs(total - change), `${base} input ${i}: Σ ${total} vs ${change}`).toBeLessThan(2e-5 * (1 + Math.abs(change)));
        expect(Math.abs(result.delta![i]!), `${base} delta`).toBeLessThan(2e-5 * (1 + Math.abs(change)));
      }
    }
  });

  it('gives the same map whatever the chunk size: a chunk ending inside a path hands its last point on', async () => {
    const graph = smallCnn({ inputSize: 8, seed: 8 });
    const x = randomTensor(3 * 64, 104, 1);
    for (const base of ['integrated-gradients', 'blur-ig'] as const) {
      const whole = await run(graph, x, 3, { method: 'idgi', base, steps: 6, maxSigma: 3 });
      for (const chunkSize of [2, 5]) {
        const chunked = await run(graph, x, 3, { method: 'idgi', base, steps: 6, maxSigma: 3, chunkSize });
        // The same terms, added to the f32 sums in other groupings.
        expectAllClose(chunked.attribution, whole.attribution, { abs: 1e-6, rel: 1e-5 }, `${base} chunk ${chunkSize}`);
        expect(chunked.timing.chunkSize).toBe(chunkSize);
      }
    }
    await expect(run(graph, x, 3, { method: 'idgi', chunkSize: 1 })).rejects.toThrow(/chunkSize/);
  });
});

/**
 * A monotone model that saturates: s = w·x, class 0 = min(s, 1) = 1 − relu(1 − s), class 1 = −min(s, 1). On the path
 * α x from 0 its score rises linearly with gradient ±w until α = 1/s, and is flat after.
 */
function saturating(w: number[]): Graph {
  const b = new GraphBuilder('saturating', 1);
  const x = b.input([w.length]);
  const s = b.node('Gemm', [x, b.constant(Float32Array.from(w), [1, w.length], 'w')], { transB: 1 });
  const affine = (input: string, weight: number[], bias: number[]) =>
    b.node(
      'Gemm',
      [input, b.constant(Float32Array.from(weight), [bias.length, weight.length / bias.length]), b.constant(Float32Array.from(bias), [bias.length])],
      {
        transB: 1,
      },
    );
  const gap = b.relu(affine(s, [-1], [1])); // relu(1 − s)
  return b.build(affine(gap, [-1, 1], [1, -1]));
}

describe('split-ig (Miglani et al. 2020)', () => {
  const w = [0.5, -0.3, 0.8, 0.2];
  const x = Float32Array.of(1, 0.5, 2, 1); // s = w·x = 2.15: saturates at α = 1/2.15 ≈ 0.465
  const s = w.reduce((total, v, e) => total + v * x[e]!, 0);
  const graph = saturating(w);

  /** The authors' split: steps k = 1 … N kept before the first whose score passes f(0) + ratio·(f(x) − f(0)). */
  const keptSteps = (steps: number, ratio: number) => {
    const f = (alpha: number) => Math.min(alpha * s, 1);
    for (let k = 1; k <= steps; k++) if (f(k / steps) > f(0) + ratio * (f(1) - f(0))) return k - 1;
    return steps;
  };

  for (const [target, sign] of [
    [0, 1],
    [1, -1],
  ] as const) {
    it(`integrates only the unsaturated part of the path, for a rising and a falling score (class ${target})`, async () => {
      for (const ratio of [undefined, 0.5]) {
        const kept = keptSteps(200, ratio ?? 0.95);
        const result = await run(graph, x, 1, { method: 'split-ig', target, ...(ratio === undefined ? {} : { splitRatio: ratio }) });
        expect(result.options).toMatchObject({ steps: 200, splitRatio: ratio ?? 0.95, splitAlpha: [kept / 200] });
        // Every kept point lies where the gradient is ±w: the left IG is (kept/N)·(±w) ⊙ x.
        expectAllClose(
          result.attribution,
          w.map((v, e) => (sign * kept * v * x[e]!) / 200),
          { abs: 1e-6, rel: 1e-5 },
          `ratio ${ratio}`,
        );
        expectAllClose(result.delta!, [0], { abs: 1e-5, rel: 0 }, 'delta');
      }
      expect(keptSteps(200, 0.95)).toBe(88);
    });
  }

  it('is integrated gradients (riemann_right) when the score never changes', async () => {
    const flat = linear([4], 2);
    const result = await run(flat.graph, new Float32Array(4), 1, { method: 'split-ig', target: 0, steps: 10 });
    expect(result.options).toMatchObject({ splitAlpha: [1] });
    expect([...result.attribution]).toEqual([0, 0, 0, 0]); // +0, as integrated gradients gives
  });
});

describe('every path method', () => {
  const graph = smallCnn({ inputSize: 8, seed: 9 });
  const x = randomTensor(2 * 64, 111, 1);
  const cases: ExplainOptions[] = [
    { method: 'blur-ig', steps: 5, maxSigma: 4 },
    { method: 'guided-ig', steps: 5 },
    { method: 'idgi', steps: 5 },
    { method: 'idgi', base: 'blur-ig', steps: 5, maxSigma: 4 },
    { method: 'idgi', base: 'guided-ig', steps: 5 },
    { method: 'split-ig', steps: 10 },
  ];

  it('reproduces its map exactly: no randomness and no atomics', async () => {
    for (const options of cases) {
      const [a, b] = [await run(graph, x, 2, options), await run(graph, x, 2, options)];
      expect([...a.attribution], JSON.stringify(options)).toEqual([...b.attribution]);
      expect(a.attribution.some((v) => v !== 0)).toBe(true);
    }
  });

  it('reports progress up to its total and stops when aborted', async () => {
    for (const options of cases) {
      const seen: [number, number][] = [];
      await run(graph, x, 2, { ...options, chunkSize: 4, onProgress: ({ done, total }) => seen.push([done, total]) });
      const label = JSON.stringify(options);
      expect(seen.length, label).toBeGreaterThan(1);
      expect(seen.at(-1)![0], label).toBe(seen.at(-1)![1]);
      seen.slice(1).forEach(([done, total], k) => expect(done / total, label).toBeGreaterThanOrEqual(seen[k]![0] / seen[k]![1]));
      const controller = new AbortController();
      const aborted = run(graph, x, 2, { ...options, chunkSize: 4, signal: controller.signal, onProgress: () => controller.abort() });
      await expect(aborted, label).rejects.toThrow(/abort/i);
    }
  });
});
