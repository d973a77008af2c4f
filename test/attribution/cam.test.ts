import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, type ExplainOptions } from '../../src/attribution/explain.ts';
import { isGradlensError } from '../../src/gpu/errors.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { readNpy, toFloat32 } from '../../src/io/npy.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose, type Tolerance } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomTensor } from '../reference/random.ts';

/**
 * A net whose last feature map (6×6) does not divide the input (11×11), so bilinear half_pixel, PyTorch's nearest
 * (⌊o·in/out⌋) and ONNX's rounding all pick different pixels: conv 3×3/2 → ReLU → conv 3×3 → ReLU → max pool → dense.
 */
function oddCnn(): Graph {
  const b = new GraphBuilder('odd-cnn', 12);
  let x = b.input([3, 11, 11]);
  x = b.relu(b.conv(x, { channels: 8, kernel: 3, stride: 2, pad: 1 }, 'conv1'), 'relu1');
  x = b.relu(b.conv(x, { channels: 6, kernel: 3 }, 'conv2'), 'relu2');
  x = b.maxPool(x, { kernel: 2 }, 'pool');
  return b.build(b.gemm(b.node('Flatten', [x], { axis: 1 }), 5, {}, 'fc'));
}

/** One axis of a resize: the taps (index, weight) output o reads, by PyTorch's formulas. */
type Axis = (o: number, inSize: number, outSize: number) => [number, number][];
const bilinear: Axis = (o, inSize, outSize) => {
  const source = Math.max(0, ((o + 0.5) * inSize) / outSize - 0.5); // align_corners=False
  const i = Math.min(Math.floor(source), inSize - 1);
  const lambda = source - i;
  return [
    [i, 1 - lambda],
    [Math.min(i + 1, inSize - 1), lambda],
  ];
};
const bilinearAlignCorners: Axis = (o, inSize, outSize) => {
  const source = outSize === 1 ? 0 : (o * (inSize - 1)) / (outSize - 1);
  const i = Math.min(Math.floor(source), inSize - 1);
  return [
    [i, 1 - (source - i)],
    [Math.min(i + 1, inSize - 1), source - i],
  ];
};
const nearest: Axis = (o, inSize, outSize) => [[Math.min(Math.floor((o * inSize) / outSize), inSize - 1), 1]]; // F.interpolate 'nearest'

/** maps [n][h·w] resized to [n][H·W]. */
function resize(maps: number[][], [h, w]: [number, number], [H, W]: [number, number], axis: Axis): number[][] {
  return maps.map((plane) =>
    Array.from({ length: H * W }, (_, o) => {
      let v = 0;
      for (const [r, wr] of axis(Math.floor(o / W), h, H)) for (const [c, wc] of axis(o % W, w, W)) v += wr * wc * plane[r * w + c]!;
      return v;
    }),
  );
}

/** Per sample, the [K][h·w] planes of a captured NCHW tensor. */
function planes(data: Float32Array, count: number, channels: number): number[][][] {
  const spatial = data.length / count / channels;
  return Array.from({ length: count }, (_, n) =>
    Array.from({ length: channels }, (_, k) => Array.from(data.subarray((n * channels + k) * spatial, (n * channels + k + 1) * spatial))),
  );
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Grad-CAM (Selvaraju 2017): α_k = mean_ij g^k_ij; map = Σ_k α_k A^k. Grad-CAM++: w_k = Σ_ij g²/(2g² + Σ_ab A^k_ab g³) relu(g). */
function camReference(A: number[][][], G: number[][][], weighting: 'grad-cam' | 'grad-cam-plus-plus', relu: boolean): number[][] {
  return A.map((channels, n) => {
    const weights = channels.map((a, k) => {
      const g = G[n]![k]!;
      if (weighting === 'grad-cam') return sum(g) / g.length;
      const total = sum(a);
      return sum(g.map((v) => (v === 0 ? 0 : ((v * v) / (2 * v * v + total * v ** 3)) * Math.max(v, 0))));
    });
    return channels[0]!.map((_, p) => {
      const v = sum(channels.map((a, k) => weights[k]! * a[p]!));
      return relu ? Math.max(v, 0) : v;
    });
  });
}

/** [n][H·W] broadcast over `channels`, flattened to count × [C, H, W]. */
const broadcast = (maps: number[][], channels: number) => maps.flatMap((plane) => Array.from({ length: channels }, () => plane).flat());

/** The reference is f64 arithmetic on the GPU's own f32 captures; the GPU sums tens of f32 terms: ~1e-6 of the peak. */
function closeToPeak(expected: ArrayLike<number>, fraction = 1e-5): Tolerance {
  return { abs: fraction * Math.max(...Array.from(expected, Math.abs)), rel: 1e-5 };
}

async function withModel<T>(graph: Graph, use: (model: Model) => Promise<T>): Promise<T> {
  const model = await Model.create(await testContext(), graph);
  try {
    return await use(model);
  } finally {
    model.destroy();
  }
}

async function captured(
  model: Model,
  x: Float32Array,
  count: number,
  targets: number[],
  layers: string[],
  rules: 'standard' | 'guided-backprop' = 'standard',
) {
  const plan = await model.plan({ batch: count, capture: layers, rules });
  try {
    return await plan.run({ input: x, target: targets });
  } finally {
    plan.destroy();
  }
}

describe('Grad-CAM and Grad-CAM++ against their formulas on captured activations and gradients', () => {
  const graph = oddCnn();
  const x = randomTensor(3 * 3 * 121, 31, 1);
  const targets = [1, 3, 0];

  it('grad-cam defaults to the ReLU after the last Conv, ReLUs the map, upsamples bilinearly and broadcasts over channels', async () => {
    await withModel(graph, async (model) => {
      // chunkSize 2 over 3 inputs: the second chunk is partial.
      const result = await explain(model, x, 3, { method: 'grad-cam', target: targets, chunkSize: 2 });
      expect(result.options).toMatchObject({ layer: 'relu2', layerShape: [6, 6, 6], relu: true, upsample: 'bilinear' });
      expect(result.timing.chunks).toBe(2);
      const run = await captured(model, x, 3, targets, ['relu2']);
      const map = camReference(planes(run.activations.relu2!, 3, 6), planes(run.gradients.relu2!, 3, 6), 'grad-cam', true);
      const expected = broadcast(resize(map, [6, 6], [11, 11], bilinear), 3);
      expectAllClose(result.attribution, expected, closeToPeak(expected));
      expect(result.attribution.some((v) => v > 0)).toBe(true);
    });
  });

  it('grad-cam at a named layer, without the ReLU, with nearest upsampling', async () => {
    await withModel(graph, async (model) => {
      const options: ExplainOptions = { method: 'grad-cam', target: targets, layer: 'relu1', relu: false, upsample: 'nearest' };
      const result = await explain(model, x, 3, options);
      const run = await captured(model, x, 3, targets, ['relu1']);
      const map = camReference(planes(run.activations.relu1!, 3, 8), planes(run.gradients.relu1!, 3, 8), 'grad-cam', false);
      expect(map.flat().some((v) => v < 0)).toBe(true); // so the missing ReLU is visible
      const expected = broadcast(resize(map, [6, 6], [11, 11], nearest), 3);
      expectAllClose(result.attribution, expected, closeToPeak(expected));
    });
  });

  it('grad-cam-plus-plus weights channels by Σ_ij α_ij relu(g_ij), α = g²/(2g² + Σ A·g³)', async () => {
    await withModel(graph, async (model) => {
      const result = await explain(model, x, 3, { method: 'grad-cam-plus-plus', target: targets });
      const run = await captured(model, x, 3, targets, ['relu2']);
      const map = camReference(planes(run.activations.relu2!, 3, 6), planes(run.gradients.relu2!, 3, 6), 'grad-cam-plus-plus', true);
      const expected = broadcast(resize(map, [6, 6], [11, 11], bilinear), 3);
      expectAllClose(result.attribution, expected, closeToPeak(expected));
      expect(result.attribution.some((v) => v > 0)).toBe(true);
    });
  });

  it('guided-grad-cam is guided backprop ⊙ the Grad-CAM map upsampled by nearest (Captum GuidedGradCam)', async () => {
    await withModel(graph, async (model) => {
      const result = await explain(model, x, 3, { method: 'guided-grad-cam', target: targets });
      expect(result.options).toMatchObject({ upsample: 'nearest', relu: true });
      const run = await captured(model, x, 3, targets, ['relu2']);
      const guided = (await captured(model, x, 3, targets, [], 'guided-backprop')).inputGradient!;
      const map = camReference(planes(run.activations.relu2!, 3, 6), planes(run.gradients.relu2!, 3, 6), 'grad-cam', true);
      const expected = broadcast(resize(map, [6, 6], [11, 11], nearest), 3).map((v, i) => v * guided[i]!);
      expectAllClose(result.attribution, expected, closeToPeak(expected));
      expect(result.attribution.some((v) => v !== 0)).toBe(true);
    });
  });

  it('an unknown layer is BAD_PARAMS naming the candidate layers', async () => {
    await withModel(graph, async (model) => {
      const error = await explain(model, x, 3, { method: 'grad-cam', layer: 'conv9' }).catch((e: unknown) => e);
      expect(isGradlensError(error, 'BAD_PARAMS')).toBe(true);
      expect((error as Error).message).toMatch(/"conv9"/);
      expect((error as Error).message).toMatch(/"relu1" \[8×6×6\].*"relu2" \[6×6×6\]/);
    });
  });

  it('a layer that is not a feature map is BAD_PARAMS', async () => {
    await withModel(graph, async (model) => {
      const error = await explain(model, x, 3, { method: 'grad-cam', layer: 'fc' }).catch((e: unknown) => e);
      expect(isGradlensError(error, 'BAD_PARAMS')).toBe(true);
      expect((error as Error).message).toMatch(/not a feature map/);
    });
  });
});

describe('FullGrad', () => {
  const graph = smallCnn({ inputChannels: 2, inputSize: 16, seed: 21 });
  const x = randomTensor(2 * 2 * 256, 41, 1);
  const targets = [2, 7];
  // The layers with a bias, and the bias: read off the graph here, not from the code under test.
  const layers = graph.nodes
    .filter((node) => node.inputs[2])
    .map((node) => ({ tensor: node.outputs[0]!, bias: graph.constants.get(node.inputs[2]!)!.data }));

  /** ψ of the reference implementation (idiap/fullgrad-saliency _postProcess): abs, then min-max over the sample's term. */
  const psi = (term: number[]) => {
    const magnitudes = term.map(Math.abs);
    const low = Math.min(...magnitudes);
    const high = Math.max(...magnitudes);
    return magnitudes.map((v) => (v - low) / (high - low + 1e-6));
  };
  const channelSum = (values: number[], channels: number) => {
    const spatial = values.length / channels;
    return Array.from({ length: spatial }, (_, p) => sum(Array.from({ length: channels }, (_, c) => values[c * spatial + p]!)));
  };

  it('the raw terms ∇x f · x + Σ ∂f/∂z · b sum to the logit on a ReLU/max-pool net with biases (completeness)', async () => {
    await withModel(graph, async (model) => {
      const run = await captured(
        model,
        x,
        2,
        targets,
        layers.map((l) => l.tensor),
      );
      const result = await explain(model, x, 2, { method: 'fullgrad', target: targets });
      expect(result.options).toMatchObject({ biasLayers: ['conv1', 'conv2', 'fc1', 'fc2'] });
      for (let n = 0; n < 2; n++) {
        const inputTerms = Array.from({ length: 512 }, (_, e) => run.inputGradient![n * 512 + e]! * x[n * 512 + e]!);
        const biasTerms = layers.flatMap(({ tensor, bias }) => {
          const g = run.gradients[tensor]!;
          const perSample = g.length / 2;
          const spatial = perSample / bias.length;
          return Array.from({ length: perSample }, (_, e) => g[n * perSample + e]! * bias[Math.floor(e / spatial)]!);
        });
        const terms = [...inputTerms, ...biasTerms];
        const logit = run.output[n * 10 + targets[n]!]!;
        // f32 sums of ~3000 terms of either sign: error a few ulps of Σ|term|.
        const tolerance = 1e-5 * sum(terms.map(Math.abs));
        expect(Math.abs(sum(terms) - logit), 'the decomposition itself').toBeLessThan(tolerance);
        expect(Math.abs(result.delta![n]!), "the method's completeness residual").toBeLessThan(tolerance);
        expect(result.score[n]).toBeCloseTo(logit, 5);
      }
    });
  });

  it('the map is ψ(∇x f ⊙ x) + Σ_conv layers upsample(ψ(∂f/∂z ⊙ b)), summed over channels, broadcast over input channels', async () => {
    await withModel(graph, async (model) => {
      const run = await captured(
        model,
        x,
        2,
        targets,
        layers.map((l) => l.tensor),
      );
      const result = await explain(model, x, 2, { method: 'fullgrad', target: targets, chunkSize: 1 });
      const maps = [0, 1].map((n) => {
        const inputTerm = Array.from({ length: 512 }, (_, e) => run.inputGradient![n * 512 + e]! * x[n * 512 + e]!);
        let map = channelSum(psi(inputTerm), 2);
        for (const { tensor, bias } of layers.slice(0, 2)) {
          const g = run.gradients[tensor]!;
          const perSample = g.length / 2;
          const spatial = perSample / bias.length;
          const side = Math.sqrt(spatial);
          const term = Array.from({ length: perSample }, (_, e) => g[n * perSample + e]! * bias[Math.floor(e / spatial)]!);
          const [up] = resize([channelSum(psi(term), bias.length)], [side, side], [16, 16], bilinearAlignCorners);
          map = map.map((v, p) => v + up![p]!);
        }
        return map;
      });
      const expected = broadcast(maps, 2);
      expectAllClose(result.attribution, expected, closeToPeak(expected));
    });
  });
});

const root = new URL('../../fixtures/pytorch/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', root), 'utf8')) as {
  models: Record<
    string,
    {
      onnx: Record<string, string>;
      input: string;
      logits: string;
      targets: number[];
      attributions: { gradCamLayer: { tensor: string }; files: Record<string, string> };
    }
  >;
};
const float32 = (path: string) => toFloat32(readNpy(new Uint8Array(readFileSync(new URL(path, root)))));

/** The fixture's model at opset 17, or undefined where the loader does not take it yet (cnn's Pad). */
function tryLoad(name: string): Graph | undefined {
  try {
    return loadOnnx(new Uint8Array(readFileSync(new URL(manifest.models[name]!.onnx['17']!, root))), { name });
  } catch (error) {
    if (isGradlensError(error, 'UNSUPPORTED_OP') && /Pad/.test(error.message)) return undefined;
    throw error;
  }
}

for (const name of ['resnet', 'cnn']) {
  const graph = tryLoad(name);
  describe.skipIf(!graph)(`${name} exported by PyTorch: Grad-CAM against Captum's LayerGradCam formula in float64`, () => {
    const fixture = manifest.models[name]!;
    const input = float32(fixture.input);
    let model: Model;
    beforeAll(async () => {
      model = await Model.create(await testContext(), graph!);
    });
    afterAll(() => model?.destroy());

    it('the default layer is the last conv block output, and the upsampled map matches gradcam_upsampled on every channel', async () => {
      const result = await explain(model, input, 3, { method: 'grad-cam', target: fixture.targets });
      expect(result.options.layer).toBe(fixture.attributions.gradCamLayer.tensor);
      const reference = Array.from(float32(fixture.attributions.files.gradcam_upsampled!));
      const channels = graph!.inputShape[0]!;
      const spatial = reference.length / 3;
      const expected = broadcast(
        [0, 1, 2].map((n) => reference.slice(n * spatial, (n + 1) * spatial)),
        channels,
      );
      // The fixture's recommended check (1e-5 of the peak; see fixtures/README.md).
      expectAllClose(result.attribution, expected, { abs: 1e-5 * Math.max(...expected), rel: 0 });
    });

    it("FullGrad's raw terms sum to PyTorch's logits (BatchNorm folded into the convs' biases)", async () => {
      const logits = float32(fixture.logits);
      const result = await explain(model, input, 3, { method: 'fullgrad', target: fixture.targets });
      fixture.targets.forEach((t, n) => {
        const logit = logits[n * 10 + t]!;
        // Measured ~2e-8 on SwiftShader: f32 sums of a few thousand terms whose magnitudes sum to O(10).
        expect(Math.abs(result.delta![n]! + result.score[n]! - logit)).toBeLessThan(1e-5);
      });
    });
  });
}
