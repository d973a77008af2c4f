import { describe, expect, it } from 'vitest';
import { explain, type ExplainOptions } from '../../src/attribution/explain.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import { rectGradBackward } from '../../src/kernels/attribution/rectgrad.ts';
import { weightNoise } from '../../src/kernels/attribution/weight-noise.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { REFERENCE_OPS, referenceForward } from '../reference/graph.ts';
import { philox4x32 } from '../reference/philox.ts';
import { randomTensor } from '../reference/random.ts';
import { explainGraph, tinyRelu } from '../helpers/explain.ts';

/** The q-th percentile as numpy's default ('linear') defines it: s[h] interpolated, h = (n − 1)·q/100 over sorted s. */
function percentile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  const h = ((sorted.length - 1) * q) / 100;
  const low = Math.floor(h);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (h - low) * (sorted[high]! - sorted[low]!);
}

/** Which entries clear their sample's τ, the q-th percentile of the sample's importances. */
function kept(importance: ArrayLike<number>, batch: number, q: number): boolean[] {
  const n = importance.length / batch;
  const values = Array.from(importance);
  const tau = Array.from({ length: batch }, (_, b) => percentile(values.slice(b * n, (b + 1) * n), q));
  return values.map((value, i) => value > tau[Math.floor(i / n)]!);
}

/** Kim et al. 2019 at one ReLU: R_i = 1[a_i·g_i > τ]·g_i, τ the q-th percentile of a ⊙ g in the sample. */
function rectifiedRelu(a: ArrayLike<number>, g: ArrayLike<number>, batch: number, q: number): Float64Array {
  const mask = kept(
    Array.from(a, (v, i) => v * g[i]!),
    batch,
    q,
  );
  return Float64Array.from(mask, (keep, i) => (keep ? g[i]! : 0));
}

/** Reverse mode in float64 over the unfused graph, each Relu under RectGrad's rule, every other op as usual. */
function rectGradReference(graph: Graph, input: Float32Array, seed: ArrayLike<number>, batch: number, q: number): Float64Array {
  const values = referenceForward(graph, input, batch);
  const shapes = inferShapes(graph, batch);
  const gradients = new Map<string, Float64Array>([[graph.output, Float64Array.from(seed)]]);
  for (const node of [...graph.nodes].reverse()) {
    const output = node.outputs[0]!;
    const dy = gradients.get(output);
    if (!dy) continue;
    const inputs = node.inputs.map((name) => values.get(name)!);
    const parts =
      node.op === 'Relu'
        ? [rectifiedRelu(values.get(output)!, dy, batch, q)]
        : REFERENCE_OPS[node.op]!.backward(
            inputs,
            values.get(output)!,
            dy,
            node.inputs.map((n) => shapes.get(n)!),
            node,
            'standard',
            shapes.get(output)!,
          );
    node.inputs.forEach((name, i) => {
      const part = parts[i];
      if (!part || graph.constants.has(name)) return;
      const sum = gradients.get(name);
      gradients.set(name, sum ? sum.map((v, j) => v + part[j]!) : part);
    });
  }
  return gradients.get(graph.input)!;
}

async function runRectGrad(x: Float32Array, gradY: Float32Array, batch: number, q: number, initial?: Float32Array, accumulate = false) {
  const context = await testContext();
  const io = await uploadAll(context, { x, gradY, gradX: initial ?? new Float32Array(x.length) });
  const threshold = await zeros(context, 'threshold', batch);
  await runDispatches(
    context,
    'rectgrad',
    await rectGradBackward(context, { ...io, threshold }, { count: x.length, batch, percentile: q, accumulate }),
  );
  const result = { gradX: await read(context, io.gradX, x.length), threshold: await read(context, threshold, batch) };
  [...Object.values(io), threshold].forEach((buffer) => buffer.destroy());
  return result;
}

/** Importances as the GPU forms them: max(x, 0)·g rounded once to f32 (the f64 product of two f32 values is exact). */
const importances = (x: Float32Array, g: Float32Array) => Array.from(x, (v, i) => Math.fround(Math.max(v, 0) * g[i]!));

describe('RectGrad: the percentile mask at one ReLU', () => {
  it('keeps exactly the entries ranked above h = (n − 1)·q/100 in each sample, and τ is the interpolated percentile', async () => {
    const [batch, n] = [3, 1000]; // n > the 256 invocations that share a sample
    const x = Float32Array.from(randomTensor(batch * n, 11), (v) => 0.1 + Math.abs(v)); // all active: distinct importances
    const g = randomTensor(batch * n, 12, 2);
    const imp = importances(x, g);
    for (const q of [0, 12.5, 50, 90, 98, 100]) {
      const { gradX, threshold } = await runRectGrad(x, g, batch, q);
      for (let b = 0; b < batch; b++) {
        const own = imp.slice(b * n, (b + 1) * n);
        const tau = percentile(own, q);
        // τ is s[⌊h⌋] + f·(s[⌊h⌋+1] − s[⌊h⌋]) in f32: a few ulps of the importances' scale.
        expect(Math.abs(threshold[b]! - tau), `q ${q} sample ${b}: τ ${threshold[b]} vs ${tau}`).toBeLessThanOrEqual(
          1e-6 * Math.max(...own.map(Math.abs)),
        );
        const passed = own.filter((_, j) => gradX[b * n + j] !== 0).length;
        expect(passed, `q ${q} sample ${b}`).toBe(n - 1 - Math.floor(((n - 1) * q) / 100));
        own.forEach((value, j) => expect(gradX[b * n + j], `q ${q} sample ${b} entry ${j}`).toBe(value > tau ? g[b * n + j] : 0));
      }
    }
  });

  it('handles ties, dead units (a = 0, importance 0) and tiny layers, and accumulates', async () => {
    for (const n of [1, 2, 7, 300]) {
      const batch = 2;
      // Negative x: dead units; values on a coarse grid: many equal importances.
      const x = Float32Array.from(randomTensor(batch * n, 20 + n, 2), (v) => Math.round(v * 2) / 2);
      const g = Float32Array.from(randomTensor(batch * n, 30 + n, 2), (v) => Math.round(v * 2) / 2);
      const imp = importances(x, g);
      for (const q of [0, 25, 50, 75, 98]) {
        const initial = randomTensor(batch * n, 40);
        const { gradX } = await runRectGrad(x, g, batch, q, initial, true);
        const expected = kept(imp, batch, q).map((keep, i) => Math.fround(initial[i]! + (keep ? g[i]! : 0))); // one f32 addition
        expect([...gradX], `n ${n} q ${q}`).toEqual(expected);
      }
    }
  });
});

const run = explainGraph;

describe('RectGrad by hand on a two-unit ReLU layer', () => {
  it('passes only the units whose a·g clears τ; the attribution is R⁽⁰⁾ ⊙ x unless timesInput is false', async () => {
    // x = (2, 1): a = (1, 5), g = c = (3, −2), a ⊙ g = (3, −10). q = 0: τ = −10; q = 50: τ = −10 + ½·13 = −3.5.
    // Either way only unit 1 passes: R⁽⁰⁾ = Aᵀ(3, 0) = (3, −3), and R⁽⁰⁾ ⊙ x = (6, −3). q = 100: τ = 3, nothing passes.
    const x = Float32Array.of(2, 1);
    for (const percentile of [0, 50]) {
      expect([...(await run(tinyRelu(), x, 1, { method: 'rectgrad', target: 0, percentile })).attribution]).toEqual([6, -3]);
      expect([...(await run(tinyRelu(), x, 1, { method: 'rectgrad', target: 0, percentile, timesInput: false })).attribution]).toEqual([3, -3]);
    }
    expect([...(await run(tinyRelu(), x, 1, { method: 'rectgrad', target: 0, percentile: 100 })).attribution]).toEqual([0, 0]);
  });

  it('lets a dead unit through when τ < 0, as the rule has no forward mask of its own', async () => {
    // x = (1, 2): a = (0, 4), a ⊙ g = (0, −8); q = 0 gives τ = −8, so the dead unit 1 (importance 0) passes 3:
    // R⁽⁰⁾ = (3, −3), where the plain gradient is (−4, −2).
    expect([
      ...(await run(tinyRelu(), Float32Array.of(1, 2), 1, { method: 'rectgrad', target: 0, percentile: 0, timesInput: false })).attribution,
    ]).toEqual([3, -3]);
  });
});

// f32 GPU chains through four layers against float64: 1e-4 of the largest entry covers the rounding; a wrong mask at
// any unit moves entries by a sizeable part of it.
function scaled(expected: ArrayLike<number>) {
  return { abs: 1e-4 * Math.max(...Array.from(expected, Math.abs)), rel: 1e-4 };
}

describe('RectGrad on a small CNN (three ReLU layers: conv, conv and dense)', () => {
  const graph = smallCnn({ inputSize: 8, seed: 3 });
  const batch = 2;
  const x = randomTensor(batch * 64, 71, 1);

  it('the plan under the rectgrad rules equals the float64 reference of the rule, fused or not, per sample', async () => {
    const model = await Model.create(await testContext(), graph);
    const seed = randomTensor(batch * 10, 72);
    try {
      for (const percentile of [0, 50, 98]) {
        const expected = rectGradReference(graph, x, seed, batch, percentile);
        expect(expected.some((v) => v !== 0)).toBe(true);
        for (const fuse of [true, false]) {
          const plan = await model.plan({ batch, objective: 'given', fuse, rules: { name: 'rectgrad', percentile } });
          const { inputGradient } = await plan.run({ input: x, outputGradient: seed });
          expectAllClose(inputGradient!, expected, scaled(expected), `q ${percentile}, fuse ${fuse}`);
          plan.destroy();
        }
      }
    } finally {
      model.destroy();
    }
  });

  it("explain's rectgrad is x ⊙ R⁽⁰⁾ for the targets' logits, with q = 98 by default", async () => {
    const targets = [1, 4];
    const seed = Float32Array.from({ length: batch * 10 }, (_, i) => Number(i % 10 === targets[Math.floor(i / 10)]));
    const gradient = rectGradReference(graph, x, seed, batch, 98);
    const expected = Array.from(gradient, (v, i) => v * x[i]!);
    const result = await run(graph, x, batch, { method: 'rectgrad', target: targets });
    expect(result.options).toMatchObject({ percentile: 98, timesInput: true });
    expectAllClose(result.attribution, expected, scaled(expected));
  });
});

/** The multiplicative noise of weight t in model m, regenerated: η = 1 + σ·z, z by Box–Muller on Philox stream 2. */
function eta(seed: number, element: number, tensor: number, model: number, stdev: number): number {
  const [a, b] = philox4x32([element, tensor, model, 2], [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0]);
  const unit = (bits: number) => (Math.floor(bits / 256) + 1) / 16777216;
  return 1 + stdev * Math.sqrt(-2 * Math.log(unit(a!))) * Math.cos(2 * Math.PI * unit(b!));
}

/** box_muller's z is within 4e-7·max(1, |z|) ≤ 2.4e-6 of the float64 draw (test/kernels/attribution/box-muller.test.ts). */
const Z_SLACK = 2.4e-6;

/** Model m of NoiseGrad, built on the CPU: every weight (all are Conv/Gemm parameters here) times its η. */
function perturbedGraph(model: Model, seed: number, m: number, stdev: number): Graph {
  const constants = new Map(model.graph.constants);
  [...model.weights.keys()].forEach((name, t) => {
    const { shape, data } = constants.get(name)!;
    constants.set(name, { shape, data: Float32Array.from(data, (w, e) => w * eta(seed, e, t, m, stdev)) });
  });
  return { ...model.graph, constants };
}

describe('NoiseGrad and FusionGrad', () => {
  const graph = smallCnn({ inputSize: 8, seed: 5 });
  const count = 2;
  const x = randomTensor(count * 64, 81, 1);
  const target = [2, 7];

  it('the weight kernel writes w ⊙ η from the seeded Philox stream into the copy and leaves the weights alone', async () => {
    const context = await testContext();
    const weights = randomTensor(1031, 82);
    const io = await uploadAll(context, { weights, perturbed: new Float32Array(1031) });
    const [seed, stdev] = [2 ** 33 + 5, 0.3]; // a seed above 2³² exercises the key's high word
    await runDispatches(context, 'weight noise', [await weightNoise(context, io, { count: 1031, tensor: 3, sample: 2, seed, stdev })]);
    const expected = Array.from(weights, (w, e) => w * eta(seed, e, 3, 2, stdev));
    expectAllClose(await read(context, io.perturbed, 1031), expected, { abs: stdev * Z_SLACK, rel: 1e-5 });
    expect([...(await read(context, io.weights, 1031))]).toEqual([...weights]);
    Object.values(io).forEach((buffer) => buffer.destroy());
  });

  it('with weightStdev 0, NoiseGrad is its base method exactly', async () => {
    for (const base of ['saliency', 'gradient-x-input'] as const) {
      const plain = await run(graph, x, count, { method: base, target, absolute: false });
      const averaged = await run(graph, x, count, { method: 'noisegrad', baseMethod: base, target, weightStdev: 0, weightSamples: 3, seed: 1 });
      expect([...averaged.attribution], base).toEqual([...plain.attribution]);
    }
  });

  it('is the mean of the base explanation over the perturbed models, rebuilt here from the same noise', async () => {
    const [seed, stdev, samples] = [123, 0.3, 3];
    const model = await Model.create(await testContext(), graph);
    try {
      const result = await explain(model, x, count, { method: 'noisegrad', target, weightSamples: samples, weightStdev: stdev, seed });
      expect(result.options).toMatchObject({ baseMethod: 'saliency', weightSamples: samples, weightStdev: stdev });
      const mean = new Float64Array(count * 64);
      for (let m = 0; m < samples; m++) {
        const { attribution } = await run(perturbedGraph(model, seed, m, stdev), x, count, { method: 'saliency', absolute: false, target });
        attribution.forEach((v, i) => (mean[i] = mean[i]! + v / samples));
      }
      // Only η's f32 rounding differs between the sides (≤ σ·Z_SLACK of each weight, over four layers).
      expectAllClose(result.attribution, mean, { abs: 1e-5 * Math.max(...mean.map(Math.abs)), rel: 1e-5 });
      const after = await explain(model, x, count, { method: 'saliency', target });
      const fresh = await run(graph, x, count, { method: 'saliency', target });
      expect([...after.attribution], 'the model keeps its own weights').toEqual([...fresh.attribution]);
    } finally {
      model.destroy();
    }
  });

  it('FusionGrad without input noise is NoiseGrad; with it, the mean of SmoothGrad over the perturbed models', async () => {
    const [seed, stdev, weightSamples] = [7, 0.25, 2];
    const common = { target, seed, weightSamples, weightStdev: stdev };
    const noisegrad = await run(graph, x, count, { method: 'noisegrad', ...common });
    const silent = await run(graph, x, count, { method: 'fusiongrad', ...common, samples: 2, stdev: 0 });
    // Two equal f32 gradients summed and halved: exact.
    expect([...silent.attribution]).toEqual([...noisegrad.attribution]);

    const fusion = await run(graph, x, count, { method: 'fusiongrad', ...common, samples: 3, stdev: 0.2 });
    const model = await Model.create(await testContext(), graph);
    const mean = new Float64Array(count * 64);
    for (let m = 0; m < weightSamples; m++) {
      // Model m's SmoothGrad runs with seed + m·2³².
      const options: ExplainOptions = { method: 'smoothgrad', target, samples: 3, stdev: 0.2, seed: seed + m * 2 ** 32 };
      const { attribution } = await run(perturbedGraph(model, seed, m, stdev), x, count, options);
      attribution.forEach((v, i) => (mean[i] = mean[i]! + v / weightSamples));
    }
    model.destroy();
    expectAllClose(fusion.attribution, mean, { abs: 4e-3 * Math.max(...mean.map(Math.abs)), rel: 4e-3 });
  });

  it('the same seed reproduces the map, another changes it', async () => {
    const options: ExplainOptions = { method: 'noisegrad', target, weightSamples: 2, seed: 11 };
    const a = await run(graph, x, count, options);
    const b = await run(graph, x, count, options);
    const c = await run(graph, x, count, { ...options, seed: 12 });
    expect([...a.attribution]).toEqual([...b.attribution]);
    expect([...a.attribution]).not.toEqual([...c.attribution]);
  });

  it('rejects a base that is itself NoiseGrad or FusionGrad, and bad sample counts', async () => {
    await expect(run(graph, x, count, { method: 'noisegrad', baseMethod: 'fusiongrad' })).rejects.toThrow(/baseMethod/);
    await expect(run(graph, x, count, { method: 'noisegrad', weightSamples: 0 })).rejects.toThrow(/weightSamples/);
    await expect(run(graph, x, count, { method: 'rectgrad', percentile: 101 })).rejects.toThrow(/percentile/);
  });
});
