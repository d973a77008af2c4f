// The peers: the same attribution methods in TensorFlow.js, computed with tf.grad on the same weights, on
// tfjs-backend-webgpu over the same Dawn adapter as gradlens and on tfjs-backend-wasm (CPU). Loaded only when a peer is
// asked for, so gradlens bench runs where TF.js is not installed.
// The current WebGPU types before TF.js brings its older copy (tfjs-core depends on @webgpu/types 0.1.38): whichever loads
// first wins, and the old one lacks features (subgroups) src/gpu/device.ts asks for.
/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { create } from 'webgpu';
import { range } from '../src/attribution/baselines.ts';
import { quadrature } from '../src/attribution/quadrature.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { sizeOf, type Graph } from '../src/graph/ir.ts';
import { inferShapes } from '../src/graph/shapes.ts';
import type { MethodRun } from './attribution.ts';
import { TfjsGraph } from './tfjs-graph.ts';

/** One TF.js backend: `activate` switches TF.js to it (outside the timing); `load` puts a graph's weights on it. */
export interface Peer {
  name: string;
  /** Where it runs, in words (for webgpu: whether it is the adapter gradlens uses). */
  adapter: string;
  activate(): Promise<unknown>;
  load(graph: Graph): Promise<PeerModel>;
}

export interface PeerModel {
  attribute(inputs: Float32Array, count: number, method: MethodRun, plan: PeerPlan): Promise<Float32Array>;
  dispose(): void;
}

/** The asked-for peers that start; each that does not is said in `notes`. */
export async function openPeers(gpu: GpuContext, names: readonly string[], notes: string[]): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (const name of names) {
    try {
      let adapter: string;
      if (name === 'webgpu') {
        adapter = (await registerWebgpu(gpu)) ?? 'no adapter';
        if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
      } else {
        await tf.setBackend('wasm');
        adapter = `CPU, SIMD ${await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')}, threads ${await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')}`;
      }
      const activate = () => tf.setBackend(name);
      peers.push({
        name: `tfjs-${name}`,
        adapter,
        activate,
        async load(graph) {
          await tf.setBackend(name);
          const model = TfjsGraph.create(graph);
          return { attribute: (inputs, count, method, plan) => peerAttribution(model, inputs, count, method, plan), dispose: () => model.dispose() };
        },
      });
    } catch (error) {
      notes.push(`tfjs-${name} unavailable: ${String(error)}`);
    }
  }
  return peers;
}

/** One-hot rows of each point's target: Σ onehot ⊙ logits is the sum of the points' target logits. */
function oneHot(targets: ArrayLike<number>, classes: number): tf.Tensor2D {
  const data = new Float32Array(targets.length * classes);
  for (let p = 0; p < targets.length; p++) data[p * classes + targets[p]!] = 1;
  return tf.tensor2d(data, [targets.length, classes]);
}

/** What gradlens's run chose, so the peer makes the same points in the same chunks. */
export interface PeerPlan {
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

  async function accumulate(
    perInput: number,
    weight: (k: number) => number,
    points: (index: tf.Tensor1D, k: Int32Array) => tf.Tensor,
  ): Promise<tf.Tensor> {
    const total = count * perInput;
    let sum: tf.Tensor = tf.zeros([count, size]);
    for (let start = 0; start < total; start += plan.chunkSize) {
      const n = Math.min(plan.chunkSize, total - start);
      const owner = Int32Array.from({ length: n }, (_, j) => Math.floor((start + j) / perInput));
      const k = Int32Array.from({ length: n }, (_, j) => (start + j) % perInput);
      const mix = new Float32Array(count * n);
      owner.forEach((i, j) => (mix[i * n + j] = weight(k[j]!)));
      const next = tf.tidy(() => {
        const hot = oneHot(
          Array.from(owner, (i) => targets[i]!),
          classes,
        );
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
      const sum = await accumulate(
        1,
        () => 1,
        (index) => tf.gather(x, index),
      );
      result = tf.abs(sum);
      sum.dispose();
      break;
    }
    case 'integrated-gradients': {
      // Zero baseline, the rule gradlens ran (Gauss–Legendre by default, as Captum); the delta needs f(baseline) as gradlens's does.
      const { alphas, weights } = quadrature(method.options.rule ?? 'gausslegendre', method.options.steps!);
      const sum = await accumulate(
        alphas.length,
        (k) => weights[k]!,
        (index, k) => tf.mul(tf.gather(x, index), spread(tf.tensor1d(Array.from(k, (j) => alphas[j]!)))),
      );
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
      result = await accumulate(
        samples,
        () => 1 / samples,
        (index) => tf.add(tf.gather(x, index), tf.mul(tf.randomNormal([index.size, ...shape]), spread(tf.gather(sigma, index)))),
      );
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
        const gradient = tf.grad((a: tf.Tensor) =>
          tf.sum(
            tf.mul(
              model.evaluate(
                new Map([
                  [graph.input, x],
                  [layer, a],
                ]),
                graph.output,
              ),
              hot,
            ),
          ),
        )(activation);
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

/** tfjs-backend-webgpu's own factory (it registers when navigator.gpu exists at import) over Dawn's instance for gradlens's backend. */
function registerWebgpu(gpu: GpuContext): Promise<string | undefined> {
  registering ??= register(gpu);
  return registering;
}

let registering: Promise<string | undefined> | undefined;

async function register(gpu: GpuContext): Promise<string | undefined> {
  const dawn = create([`backend=${gpu.report.backend}`]);
  // TF.js asks for a core adapter; on OpenGL ES there is only a compatibility one, gradlens's own feature level.
  const featureLevel = gpu.report.featureLevel;
  const instance = Object.assign(Object.create(dawn) as GPU, {
    requestAdapter: (options?: GPURequestAdapterOptions) => dawn.requestAdapter({ ...options, featureLevel }),
  });
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: instance }, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  // The adapter TF.js's factory asks for (high-performance); gradlens's was found with the same loader environment.
  const info = (await instance.requestAdapter({ powerPreference: 'high-performance' }))?.info;
  if (!info) return undefined;
  const same = info.vendor === gpu.report.vendor && info.device === gpu.report.device && info.description === gpu.report.description;
  return `${info.description || info.device} (${info.vendor}), ${same ? 'the adapter gradlens uses' : 'NOT the adapter gradlens uses'}`;
}
