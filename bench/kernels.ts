// Kernel roofline: GFLOP/s of GEMM and of ResNet-18's 3×3 convolutions (forward and input gradient), a 1×1 layout
// probe, and GB/s of an elementwise add (memory bandwidth). Each figure is one submit waited on, median of several.
import { allocate, readFloats } from '../src/gpu/buffers.ts';
import { CommandBatch, type Dispatch } from '../src/gpu/commands.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { binaryForward } from '../src/kernels/binary.ts';
import { conv2dBackwardInput, conv2dForward, conv2dOutputSize, type Conv2dDims } from '../src/kernels/conv2d.ts';
import { gemm } from '../src/kernels/gemm.ts';
import { layerNormForward } from '../src/kernels/layernorm.ts';
import { softmaxForward, softmaxRowThreads } from '../src/kernels/softmax.ts';
import { rng, uniform } from '../src/graph/random.ts';
import { median, medianMs, type Scale } from './measure.ts';

export interface KernelRow {
  name: string;
  ms: number;
  /** Arithmetic throughput, for compute-bound kernels. */
  gflops?: number;
  /** Bytes read and written per second, for memory-bound kernels. */
  gbps?: number;
  /**
   * The alternative's median time, measured interleaved with `ms`: the plain tree of a row reduction run with
   * `subgroups`, the f32 weights of a GEMM run with f16 weights (`plainName` says which).
   */
  plainMs?: number;
  /** What `plainMs` timed; 'plain tree' when absent. */
  plainName?: string;
  /** The largest |output − float64 reference| of the kernel timed in `ms` (and of the alternative). */
  maxError?: number;
  plainMaxError?: number;
}

const SIZES = {
  gemm: { tiny: [64], quick: [256, 512], full: [512, 1024, 2048] },
  convBatch: { tiny: 1, quick: 4, full: 32 },
  // ResNet-18's stages: channels and side at 224×224 input; tiny shrinks the channels.
  stages: {
    tiny: [[8, 14]],
    quick: [
      [64, 56],
      [128, 28],
      [256, 14],
      [512, 7],
    ],
    full: [
      [64, 56],
      [128, 28],
      [256, 14],
      [512, 7],
    ],
  } as Record<Scale, [number, number][]>,
  bandwidth: { tiny: 1 << 16, quick: 1 << 22, full: 1 << 24 },
  // Dense layers whose weights f16 halves (AdapterOptions.precision): ViT-B/16's MLP (768 → 3072) for a chunk of 8
  // tokens and for one image's 197; [m, k, n].
  halfGemm: {
    tiny: [[8, 64, 64]],
    quick: [
      [8, 768, 3072],
      [197, 768, 3072],
    ],
    full: [
      [8, 768, 3072],
      [197, 768, 3072],
      [1576, 768, 3072],
    ],
  } as Record<Scale, [number, number, number][]>,
  // ViT-B/16 at 224×224 (197 tokens, 12 heads, width 768): attention softmax rows and layernorm rows, per batch.
  vitBatch: { tiny: 1, quick: 1, full: 8 },
  repeats: { tiny: 1, quick: 3, full: 10 },
};

export async function kernelSuite(gpu: GpuContext, scale: Scale): Promise<KernelRow[]> {
  const rows: KernelRow[] = [];
  const repeats = SIZES.repeats[scale];
  const owned: GPUBuffer[] = [];
  const filled = async (count: number, seed: number): Promise<GPUBuffer> => {
    const [buffer] = await allocate(gpu.device, [{ label: 'bench', size: count * 4 }]);
    gpu.device.queue.writeBuffer(buffer!, 0, uniform(rng(seed), count, 1) as Float32Array<ArrayBuffer>);
    owned.push(buffer!);
    return buffer!;
  };
  const time = async (dispatches: Dispatch[]): Promise<number> => {
    const batch = new CommandBatch(gpu.device, 'bench').add(...dispatches);
    return medianMs(async () => {
      gpu.device.queue.submit([batch.encode()]);
      await gpu.device.queue.onSubmittedWorkDone();
    }, repeats);
  };
  const release = () => owned.splice(0).forEach((buffer) => buffer.destroy());
  /** Runs the dispatches once more and measures `output` against the float64 reference. */
  const maxError = async (dispatches: Dispatch[], output: GPUBuffer, expected: Float64Array): Promise<number> => {
    await new CommandBatch(gpu.device, 'bench check').add(...dispatches).submit();
    const actual = await readFloats(gpu.device, output, expected.length);
    return expected.reduce((worst, v, i) => Math.max(worst, Math.abs(actual[i]! - v)), 0);
  };
  /** Median times of two alternatives run alternately (A, B, A, B ...), after one warm-up of each. */
  const interleaved = async (a: Dispatch[], b: Dispatch[]): Promise<[number, number]> => {
    const batches = [a, b].map((dispatches) => new CommandBatch(gpu.device, 'bench').add(...dispatches));
    const once = async (batch: CommandBatch) => {
      const start = performance.now();
      gpu.device.queue.submit([batch.encode()]);
      await gpu.device.queue.onSubmittedWorkDone();
      return performance.now() - start;
    };
    const times: [number[], number[]] = [[], []];
    for (const batch of batches) await once(batch);
    for (let i = 0; i < Math.max(3, repeats * 2); i++) for (const k of [0, 1] as const) times[k].push(await once(batches[k]!));
    return [median(times[0]), median(times[1])];
  };

  for (const size of SIZES.gemm[scale]) {
    const [a, b, c] = await Promise.all([filled(size * size, 1), filled(size * size, 2), filled(size * size, 3)]);
    const ms = await time(await gemm(gpu, { a: a!, b: b!, c: c! }, { m: size, n: size, k: size }));
    rows.push({ name: `gemm ${size}×${size}×${size}`, ms, gflops: (2 * size ** 3) / ms / 1e6 });
    release();
  }

  const batch = SIZES.convBatch[scale];
  for (const [channels, side] of SIZES.stages[scale]) {
    const dims: Conv2dDims = {
      batch,
      inChannels: channels,
      height: side,
      width: side,
      outChannels: channels,
      kernelHeight: 3,
      kernelWidth: 3,
      pads: [1, 1, 1, 1],
    };
    const [oh, ow] = conv2dOutputSize(dims);
    const flops = 2 * batch * channels * oh * ow * channels * 9;
    const x = await filled(batch * channels * side * side, 4);
    const w = await filled(channels * channels * 9, 5);
    const y = await filled(batch * channels * oh * ow, 6);
    const label = `conv 3×3 ${channels}→${channels} ${side}×${side} batch ${batch}`;
    const forward = await time([await conv2dForward(gpu, { x, w, y }, dims)]);
    rows.push({ name: `${label} forward`, ms: forward, gflops: flops / forward / 1e6 });
    const backward = await time([await conv2dBackwardInput(gpu, { gradY: y, w, gradX: x }, dims)]);
    rows.push({ name: `${label} input gradient`, ms: backward, gflops: flops / backward / 1e6 });
    release();
  }

  // Layout probe: a 1×1 convolution is a plain GEMM in NHWC ([N·H·W, Cin]·[Cin, Cout]) but a strided gather in NCHW.
  {
    const [cin, cout, side] = scale === 'tiny' ? [8, 16, 7] : [64, 256, 28];
    const flops = 2 * batch * side * side * cin * cout;
    const x = await filled(batch * cin * side * side, 8);
    const w = await filled(cout * cin, 9);
    const y = await filled(batch * cout * side * side, 10);
    const dims: Conv2dDims = { batch, inChannels: cin, height: side, width: side, outChannels: cout, kernelHeight: 1, kernelWidth: 1 };
    const nchw = await time([await conv2dForward(gpu, { x, w, y }, dims)]);
    rows.push({ name: `1×1 conv ${cin}→${cout} ${side}×${side} batch ${batch}, NCHW (conv kernel)`, ms: nchw, gflops: flops / nchw / 1e6 });
    const nhwc = await time(await gemm(gpu, { a: x, b: w, c: y }, { m: batch * side * side, n: cout, k: cin, transB: true }));
    rows.push({ name: `1×1 conv ${cin}→${cout} ${side}×${side} batch ${batch}, NHWC (as GEMM)`, ms: nhwc, gflops: flops / nhwc / 1e6 });
    release();
  }

  // Memory bandwidth: y = a + b reads 8 and writes 4 bytes per element and does almost no arithmetic.
  {
    const count = SIZES.bandwidth[scale];
    const [a, b, y] = await Promise.all([filled(count, 11), filled(count, 12), filled(count, 13)]);
    const ms = await time([await binaryForward(gpu, { a: a!, b: b!, y: y! }, { op: 'add', aShape: [count], bShape: [count] })]);
    rows.push({ name: `elementwise add ${(count / 2 ** 20).toFixed(count < 2 ** 20 ? 2 : 0)} M floats`, ms, gbps: (12 * count) / ms / 1e6 });
    release();
  }

  // f16 weights, where the device has `shader-f16`: the same product with B (the weights, N×K as a Linear layer keeps
  // them) read from its f16 copy (ms) and as f32 (plainMs), interleaved, each checked against float64.
  if (gpu.device.features.has('shader-f16')) {
    for (const [m, k, n] of SIZES.halfGemm[scale]) {
      const [a, b, c] = await Promise.all([filled(m * k, 19), filled(n * k, 20), filled(m * n, 21)]);
      const dims = { m, n, k, transB: true };
      const [full, half] = [await gemm(gpu, { a, b, c }, dims), await gemm(gpu, { a, b, c }, { ...dims, halfB: true })];
      const [plainMs, ms] = await interleaved(full, half);
      const expected = gemmReference(uniform(rng(19), m * k, 1), uniform(rng(20), n * k, 1), m, k, n);
      const [plainMaxError, halfMaxError] = [await maxError(full, c, expected), await maxError(half, c, expected)];
      const name = `gemm ${m}×${n}×${k}, f16 weights (ViT-B/16 MLP)`;
      rows.push({ name, ms, plainMs, plainName: 'f32 weights', gflops: (2 * m * n * k) / ms / 1e6, maxError: halfMaxError, plainMaxError });
      release();
    }
  }

  // Row reductions of a ViT-B/16 at 224×224: with the `subgroups` feature, the subgroups variant (ms) against the plain
  // tree (plainMs), interleaved on the same buffers; without it, the plain kernels alone.
  {
    const images = SIZES.vitBatch[scale];
    const [tokens, heads, width] = [197, 12, 768];
    const scores = images * heads * tokens;
    const x = await filled(Math.max(scores * tokens, images * tokens * width), 14);
    const y = await filled(Math.max(scores * tokens, images * tokens * width), 15);
    const gamma = await filled(width, 16);
    const stats = await Promise.all([filled(images * tokens, 17), filled(images * tokens, 18)]);
    const count = Math.max(scores * tokens, images * tokens * width);
    const hostX = uniform(rng(14), count, 1);
    const hostGamma = uniform(rng(16), width, 1);
    const cases: [string, number, () => Promise<Dispatch>, () => Float64Array][] = [
      [
        `softmax ${scores}×${tokens} (ViT-B/16 attention, ${softmaxRowThreads(tokens)} per row)`,
        2 * 4 * scores * tokens,
        () => softmaxForward(gpu, { x, y }, { outer: scores, axisSize: tokens, inner: 1, op: 'softmax' }),
        () => softmaxRows(hostX, scores, tokens),
      ],
      [
        `layernorm ${images * tokens}×${width} (ViT-B/16)`,
        2 * 4 * images * tokens * width,
        () =>
          layerNormForward(gpu, { x, scale: gamma, bias: gamma, y, mean: stats[0]!, invStdDev: stats[1]! }, { rows: images * tokens, size: width }),
        () => layerNormRows(hostX, hostGamma, images * tokens, width),
      ],
    ];
    const error = (dispatch: Dispatch, expected: Float64Array) => maxError([dispatch], y, expected);
    const chosen = gpu.kernels.subgroups;
    for (const [name, bytes, build, reference] of cases) {
      const expected = reference();
      if (!gpu.report.subgroupKernels) {
        const dispatch = await build();
        const ms = await time([dispatch]);
        rows.push({ name, ms, gbps: bytes / ms / 1e6, maxError: await error(dispatch, expected) });
        continue;
      }
      gpu.kernels.subgroups = false;
      const plain = await build();
      gpu.kernels.subgroups = true;
      const subgroups = await build();
      gpu.kernels.subgroups = chosen;
      const [plainMs, ms] = await interleaved([plain], [subgroups]);
      const [plainMaxError, maxError] = [await error(plain, expected), await error(subgroups, expected)];
      rows.push({ name: `${name}, subgroups`, ms, plainMs, gbps: bytes / ms / 1e6, maxError, plainMaxError });
    }
    release();
  }
  return rows;
}

/** a (m×k) times bᵀ (b n×k), in float64. */
function gemmReference(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let kk = 0; kk < k; kk++) sum += a[i * k + kk]! * b[j * k + kk]!;
      c[i * n + j] = sum;
    }
  return c;
}

/** Softmax of each of `rows` rows of `length`, in float64. */
function softmaxRows(x: Float32Array, rows: number, length: number): Float64Array {
  const y = new Float64Array(rows * length);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < length; k++) max = Math.max(max, x[r * length + k]!);
    let sum = 0;
    for (let k = 0; k < length; k++) sum += Math.exp(x[r * length + k]! - max);
    for (let k = 0; k < length; k++) y[r * length + k] = Math.exp(x[r * length + k]! - max) / sum;
  }
  return y;
}

/** LayerNorm of each row with γ = β = `gamma` and ε = 1e-5, in float64. */
function layerNormRows(x: Float32Array, gamma: Float32Array, rows: number, size: number): Float64Array {
  const y = new Float64Array(rows * size);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let k = 0; k < size; k++) mean += x[r * size + k]!;
    mean /= size;
    let variance = 0;
    for (let k = 0; k < size; k++) variance += (x[r * size + k]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / size + 1e-5);
    for (let k = 0; k < size; k++) y[r * size + k] = (x[r * size + k]! - mean) * inv * gamma[k]! + gamma[k]!;
  }
  return y;
}
