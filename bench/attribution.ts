// Attributions per second, gradlens against TensorFlow.js computing the same method with tf.grad on the same weights:
// tfjs-backend-webgpu on the same Dawn adapter, tfjs-backend-wasm on the CPU. Each figure is a steady-state median
// after a warm-up call; equal work: the same batch, steps, samples and points per chunk.
// Usage: node dist/node/attribution.js [--out DIR] [--full] [--repeats N] [--peers webgpu,wasm] [--backend vulkan]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { create } from 'webgpu';
import { range } from '../src/attribution/baselines.ts';
import { explain, type ExplainOptions } from '../src/attribution/explain.ts';
import { METHODS, type MethodId } from '../src/attribution/registry.ts';
import { quadrature } from '../src/attribution/quadrature.ts';
import { GpuContext } from '../src/gpu/device.ts';
import { sizeOf, type Graph } from '../src/graph/ir.ts';
import { Model } from '../src/graph/model.ts';
import { resnet18, smallCnn } from '../src/graph/models.ts';
import { rng, uniform } from '../src/graph/random.ts';
import { inferShapes } from '../src/graph/shapes.ts';
import { loadOnnx } from '../src/onnx/load.ts';
import { TfjsGraph } from './tfjs-graph.ts';

interface Case {
  model: string;
  graph: Graph;
  batch: number;
}

interface MethodRun {
  id: MethodId;
  options: Partial<ExplainOptions>;
}

interface Row {
  model: string;
  method: string;
  batch: number;
  points: number;
  chunkSize: number;
  /** Attributions per second, by engine. */
  perSecond: Record<string, number>;
  /** Median ms per call (one call explains the whole batch), by engine. */
  ms: Record<string, number>;
  /** Timed calls the median is of, by engine (after one warm-up call). */
  calls: Record<string, number>;
  /** max |TF.js − gradlens| / max |gradlens|, by peer, for the methods without noise. */
  difference: Record<string, number>;
}

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    full: { type: 'boolean', default: false },
    repeats: { type: 'string', default: '3' },
    peers: { type: 'string', default: 'webgpu,wasm' },
    backend: { type: 'string' },
  },
});
const repeats = Math.max(1, Number(values.repeats));
const peers = values.peers!.split(',').filter(Boolean);
const unknownPeer = peers.find((peer) => peer !== 'webgpu' && peer !== 'wasm');
if (unknownPeer) throw new Error(`--peers: "${unknownPeer}" is not webgpu or wasm`);
const notes: string[] = [];

const gpu = await GpuContext.open(values.backend ? { backend: values.backend as 'vulkan' } : {});
const adapter = `${gpu.report.description || gpu.report.device} (${gpu.report.vendor}, ${gpu.report.backend}${gpu.report.software ? ', software' : ''})`;
// Full sizes on hardware or with --full; on a software adapter the ResNet and the batches shrink to keep the run short.
const reduced = gpu.report.software && !values.full;

function digitsGraph(): { model: string; graph: Graph } {
  try {
    return { model: 'digits.onnx', graph: loadOnnx(new Uint8Array(readFileSync('models/digits.onnx'))) };
  } catch (error) {
    notes.push(`models/digits.onnx not loaded (${String(error)}); smallCnn({ inputSize: 28 }) instead`);
    return { model: 'smallCnn 28×28', graph: smallCnn({ inputSize: 28 }) };
  }
}

const resnetSize = reduced ? { width: 8, inputSize: 32, classes: 100 } : { width: 64, inputSize: 224, classes: 1000 };
const cases: Case[] = [
  { ...digitsGraph(), batch: reduced ? 2 : 32 },
  { model: `resnet18 w${resnetSize.width} ${resnetSize.inputSize}×${resnetSize.inputSize}`, graph: resnet18(resnetSize), batch: reduced ? 1 : 4 },
];
if (reduced) {
  notes.push(
    `software adapter, reduced sizes: ResNet-18 at width ${resnetSize.width}, ${resnetSize.inputSize}×${resnetSize.inputSize}, ${resnetSize.classes} classes; ` +
      `batch ${cases.map((c) => `${c.batch} (${c.model})`).join(', ')}; --full for width 64, 224×224, batches 32 and 4`,
  );
}

const methods: MethodRun[] = [
  { id: 'saliency', options: {} },
  { id: 'integrated-gradients', options: { steps: 64 } },
  { id: 'smoothgrad', options: { samples: 32 } },
];
if ('grad-cam' in METHODS) methods.push({ id: 'grad-cam' as MethodId, options: {} });
else notes.push('grad-cam is not in METHODS: skipped');

/** One-hot rows of each point's target: Σ onehot ⊙ logits is the sum of the points' target logits. */
function oneHot(targets: ArrayLike<number>, classes: number): tf.Tensor2D {
  const data = new Float32Array(targets.length * classes);
  for (let p = 0; p < targets.length; p++) data[p * classes + targets[p]!] = 1;
  return tf.tensor2d(data, [targets.length, classes]);
}

/** What gradlens's run chose, so the peer makes the same points in the same chunks. */
interface PeerPlan {
  chunkSize: number;
  layer?: string;
  relu?: boolean;
}

/**
 * The same method in TF.js: top-1 targets from a forward pass, then Σ_p c_ip ∇f(point_p) per input over the
 * points, chunk by chunk (the weighting a matrix product, so chunks may straddle inputs as gradlens's do).
 */
async function peerAttribution(model: TfjsGraph, inputs: Float32Array, count: number, method: MethodRun, plan: PeerPlan): Promise<Float32Array> {
  const { graph } = model;
  const shape = graph.inputShape;
  const size = sizeOf(shape);
  const classes = sizeOf(inferShapes(graph, 1).get(graph.output)!.slice(1));
  const x = tf.tensor(inputs, [count, ...shape]);
  const top = tf.tidy(() => tf.argMax(model.forward(x), 1));
  const targets = await top.data();
  top.dispose();
  const score = (z: tf.Tensor, hot: tf.Tensor) => tf.sum(tf.mul(model.forward(z), hot));
  const spread = (t: tf.Tensor) => tf.reshape(t, [t.size, ...shape.map(() => 1)]);

  async function accumulate(perInput: number, weight: (k: number) => number, points: (index: tf.Tensor1D, k: Int32Array) => tf.Tensor): Promise<tf.Tensor> {
    const total = count * perInput;
    let sum: tf.Tensor = tf.zeros([count, size]);
    for (let start = 0; start < total; start += plan.chunkSize) {
      const n = Math.min(plan.chunkSize, total - start);
      const owner = Int32Array.from({ length: n }, (_, j) => Math.floor((start + j) / perInput));
      const k = Int32Array.from({ length: n }, (_, j) => (start + j) % perInput);
      const mix = new Float32Array(count * n);
      owner.forEach((i, j) => (mix[i * n + j] = weight(k[j]!)));
      const next = tf.tidy(() => {
        const hot = oneHot(Array.from(owner, (i) => targets[i]!), classes);
        const gradient = tf.grad((z: tf.Tensor) => score(z, hot))(points(tf.tensor1d(owner, 'int32'), k));
        return tf.add(sum, tf.matMul(tf.tensor2d(mix, [count, n]), tf.reshape(gradient, [n, size])));
      });
      sum.dispose();
      sum = next;
    }
    return sum;
  }

  let result: tf.Tensor;
  switch (method.id) {
    case 'saliency': {
      const sum = await accumulate(1, () => 1, (index) => tf.gather(x, index));
      result = tf.abs(sum);
      sum.dispose();
      break;
    }
    case 'integrated-gradients': {
      // Zero baseline, Gauss–Legendre nodes (gradlens's defaults, Captum's); the delta needs f(baseline) as gradlens's does.
      const { alphas, weights } = quadrature('gausslegendre', method.options.steps!);
      const sum = await accumulate(alphas.length, (k) => weights[k]!, (index, k) => tf.mul(tf.gather(x, index), spread(tf.tensor1d(Array.from(k, (j) => alphas[j]!)))));
      result = tf.tidy(() => tf.mul(sum, tf.reshape(x, [count, size])));
      const delta = tf.tidy(() => {
        const hot = oneHot(targets, classes);
        const gap = tf.sub(tf.sum(tf.mul(model.forward(x), hot), 1), tf.sum(tf.mul(model.forward(tf.zerosLike(x)), hot), 1));
        return tf.sub(tf.sum(result, 1), gap);
      });
      await delta.data();
      tf.dispose([sum, delta]);
      break;
    }
    case 'smoothgrad': {
      // σ = 0.15 (max − min) per input, as PAIR's SmoothGrad and gradlens's default; signed mean of the gradients.
      const samples = method.options.samples!;
      const stdev = Float32Array.from({ length: count }, (_, i) => {
        const [low, high] = range(inputs.subarray(i * size, (i + 1) * size));
        return 0.15 * (high - low);
      });
      const sigma = tf.tensor1d(stdev);
      result = await accumulate(samples, () => 1 / samples, (index) => tf.add(tf.gather(x, index), tf.mul(tf.randomNormal([index.size, ...shape]), spread(tf.gather(sigma, index)))));
      sigma.dispose();
      break;
    }
    case 'grad-cam': {
      // α_k = mean ∂f/∂A^k, map = ReLU(Σ α_k A^k), bilinear (half-pixel) to the input, over its channels (Selvaraju 2017).
      const layer = plan.layer!;
      const [channels, height, width] = shape as [number, number, number];
      result = tf.tidy(() => {
        const activation = model.evaluate(new Map([[graph.input, x]]), layer);
        const hot = oneHot(targets, classes);
        const gradient = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(model.evaluate(new Map([[graph.input, x], [layer, a]]), graph.output), hot)))(activation);
        const weighted = tf.sum(tf.mul(tf.mean(gradient, [2, 3], true), activation), 1, true);
        const map = plan.relu === false ? weighted : tf.relu(weighted);
        const up = tf.image.resizeBilinear(tf.transpose(map, [0, 2, 3, 1]) as tf.Tensor4D, [height, width], false, true);
        return tf.reshape(tf.tile(tf.transpose(up, [0, 3, 1, 2]), [1, channels, 1, 1]), [count, size]);
      });
      break;
    }
    default:
      throw new Error(`no TF.js counterpart for ${method.id}`);
  }
  const attribution = (await result.data()) as Float32Array;
  tf.dispose([result, x]);
  return attribution;
}

function relativeDifference(peer: Float32Array, reference: Float32Array): number {
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    difference = Math.max(difference, Math.abs(peer[i]! - reference[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  return difference / (scale || 1);
}

/** tfjs-backend-webgpu's own factory (it registers when navigator.gpu exists at import) over Dawn's instance for gradlens's backend. */
async function registerWebgpu(): Promise<string | undefined> {
  const instance = create([`backend=${gpu.report.backend}`]);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: instance }, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  // The adapter TF.js's factory asks for (high-performance); gradlens's was found with the same loader environment.
  const info = (await instance.requestAdapter({ powerPreference: 'high-performance' }))?.info;
  if (!info) return undefined;
  const same = info.vendor === gpu.report.vendor && info.device === gpu.report.device && info.description === gpu.report.description;
  return `${info.description || info.device} (${info.vendor}), ${same ? 'the adapter gradlens uses' : 'NOT the adapter gradlens uses'}`;
}

/** A line per figure as it is measured: a slow adapter shows it is moving. */
function progress(model: string, engine: string, method: string, ms: number, calls: number): void {
  console.log(`· ${model}, ${engine}, ${method}: ${ms.toFixed(0)} ms per call (median of ${calls})`);
}

const rows: Row[] = [];
const peerAdapter: Record<string, string> = {};
if (peers.includes('webgpu')) {
  try {
    peerAdapter.webgpu = (await registerWebgpu()) ?? 'none';
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
  } catch (error) {
    notes.push(`tfjs-backend-webgpu unavailable on Dawn: ${String(error)}`);
    peers.splice(peers.indexOf('webgpu'), 1);
  }
}
if (peers.includes('wasm')) {
  await tf.setBackend('wasm');
  peerAdapter.wasm = `CPU, SIMD ${await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')}, threads ${await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')}`;
}

/** A timed call of one engine; `prepare` (switching TF.js's backend) stays outside the timing. */
interface Engine {
  name: string;
  prepare?: () => Promise<unknown>;
  run: () => Promise<Float32Array>;
}

/**
 * Warm-up calls, then rounds in which every engine runs once in turn, so a machine whose load changes (shared cores)
 * weighs on all engines alike. An engine whose calls would overrun its share of the budget takes part in fewer rounds
 * (at least one); the others still get `repeats`.
 */
async function measureTogether(engines: Engine[], budgetMs: number): Promise<{ ms: Map<string, number>; calls: Map<string, number>; outputs: Map<string, Float32Array> }> {
  const outputs = new Map<string, Float32Array>();
  const rounds = new Map<string, number>();
  for (const engine of engines) {
    await engine.prepare?.();
    const start = performance.now();
    outputs.set(engine.name, await engine.run());
    const warmUp = performance.now() - start;
    rounds.set(engine.name, Math.max(1, Math.min(repeats, Math.floor(budgetMs / engines.length / warmUp))));
  }
  const times = new Map<string, number[]>(engines.map((engine) => [engine.name, []]));
  for (let round = 0; round < repeats; round++) {
    for (const engine of engines.filter((e) => round < rounds.get(e.name)!)) {
      await engine.prepare?.();
      const start = performance.now();
      outputs.set(engine.name, await engine.run());
      times.get(engine.name)!.push(performance.now() - start);
    }
  }
  const ms = new Map([...times].map(([name, list]) => [name, list.sort((a, b) => a - b)[Math.floor((list.length - 1) / 2)]!]));
  return { ms, calls: rounds, outputs };
}

const METHOD_BUDGET_MS = reduced ? 30_000 : 120_000;

for (const { model: name, graph, batch } of cases) {
  const inputs = uniform(rng(11), batch * sizeOf(graph.inputShape), 1).map((v) => 0.5 + 0.5 * v);
  const model = await Model.create(gpu, graph);
  const peerModels = new Map<string, TfjsGraph>();
  for (const peer of peers) {
    await tf.setBackend(peer);
    peerModels.set(peer, TfjsGraph.create(graph));
  }
  for (const method of methods) {
    const options = { method: method.id, seed: 5, ...method.options } as ExplainOptions;
    // gradlens's first call compiles its kernels and plans; its choices (chunk size, layer) set the peers' plan.
    let last = await explain(model, inputs, batch, options);
    const used = last.options as { layer?: string; relu?: boolean };
    const plan: PeerPlan = { chunkSize: last.timing.chunkSize, ...(used.layer ? { layer: used.layer } : {}), ...(used.relu !== undefined ? { relu: used.relu } : {}) };
    const engines: Engine[] = [
      { name: 'gradlens', run: async () => (last = await explain(model, inputs, batch, options)).attribution },
      ...peers.map((peer) => ({ name: `tfjs-${peer}`, prepare: () => tf.setBackend(peer), run: () => peerAttribution(peerModels.get(peer)!, inputs, batch, method, plan) })),
    ];
    const { ms, calls, outputs } = await measureTogether(engines, METHOD_BUDGET_MS);
    const row: Row = { model: name, method: method.id, batch, points: last.timing.points, chunkSize: plan.chunkSize, perSecond: {}, ms: {}, calls: {}, difference: {} };
    for (const [engine, time] of ms) {
      row.ms[engine] = time;
      row.calls[engine] = calls.get(engine)!;
      row.perSecond[engine] = (1000 * batch) / time;
      progress(name, engine, method.id, time, row.calls[engine]!);
      if (engine !== 'gradlens' && method.id !== 'smoothgrad') row.difference[engine] = relativeDifference(outputs.get(engine)!, outputs.get('gradlens')!);
    }
    rows.push(row);
  }
  model.destroy();
  for (const peerModel of peerModels.values()) peerModel.dispose();
}

if (rows.some((row) => (row.difference['tfjs-wasm'] ?? 0) > 1e-3)) {
  notes.push(
    'tfjs-wasm differs by > 1e-3 in some rows. A cause seen in tfjs-backend-wasm 4.22: its MaxPoolGrad sends the gradient of a window whose maximum is ≤ 0 to the wrong element or nowhere, so all-zero windows after a ReLU lose their share of ∂f/∂A',
  );
}
const engines = ['gradlens', ...peers.map((peer) => `tfjs-${peer}`)];
console.log(`gradlens attribution bench on ${adapter}${reduced ? ' (reduced sizes)' : ''}`);
for (const peer of peers) console.log(`  tfjs-${peer}: ${peerAdapter[peer]}`);
for (const note of notes) console.log(`  note: ${note}`);
const header = ['model', 'method', 'batch', 'points', ...engines.map((e) => `${e} /s`), ...peers.map((p) => `gradlens / tfjs-${p}`)];
console.log(header.join(' | '));
for (const row of rows) {
  const ratios = peers.map((peer) => `${(row.perSecond.gradlens! / row.perSecond[`tfjs-${peer}`]!).toFixed(2)}×`);
  const cells = [row.model, row.method, String(row.batch), String(row.points), ...engines.map((e) => row.perSecond[e]!.toPrecision(3)), ...ratios];
  const differences = Object.entries(row.difference).map(([peer, d]) => `${peer} differs by ${d.toExponential(1)}`);
  console.log(`${cells.join(' | ')}${differences.length ? `   (${differences.join(', ')})` : ''}`);
}
if (values.out) {
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'attribution.json'), JSON.stringify({ adapter: gpu.report, peers: peerAdapter, reduced, repeats, notes, rows }, null, 2));
}
gpu.destroy();
