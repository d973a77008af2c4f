import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { WORKGROUP_SIZE, wgslEnum } from './wgsl.ts';
import { tileKFor, type GemmActivation } from './gemm.ts';
import { isGallivm, isSwiftShader, loopIterations, nestedIterations, stridedIterations } from '../gpu/limits.ts';
import { bucket } from '../gpu/tune.ts';
import { halfWeights } from './half.ts';

/** ONNX Conv over NCHW: x [batch, inChannels, height, width], w [outChannels, inChannels/group, kernelHeight, kernelWidth]. */
export interface Conv2dDims {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernelHeight: number;
  kernelWidth: number;
  /** [h, w]; default [1, 1]. */
  strides?: readonly [number, number];
  /** [h, w]; default [1, 1]. */
  dilations?: readonly [number, number];
  /** ONNX order [top, left, bottom, right]; default zeros. */
  pads?: readonly [number, number, number, number];
  /** Default 1; group = inChannels is depthwise. */
  group?: number;
  /**
   * Read the weights from their f16 copy (AdapterOptions.precision 'f16', device with `shader-f16`; src/kernels/half.ts),
   * filled before the convolution, through the `+f16` variant, which widens each to f32.
   */
  halfW?: boolean;
}

/** Implicit-GEMM workgroup tile: m output positions × n channels, stepping k along the depth. */
export interface Conv2dTiles {
  m: number;
  n: number;
  k: number;
}

/**
 * `auto`: the autotune cache's choice where one is cached, else the direct kernels for depthwise convolutions and those
 * with few channels and the implicit GEMM otherwise. `block`: 4 channels × 4 positions per invocation (the input
 * gradient's only for stride 1); `direct-s1`: the input gradient's direct kernel for stride 1, 4 positions per
 * invocation. `auto` takes them where it would take `direct` and they apply (directPath). `ubo`, `ubo8`: `block`,
 * `block8` with the weights packed into vec4s first, read from a uniform buffer where they fit 16 KiB (packedFits),
 * else from a storage buffer.
 */
export type Conv2dPath = 'auto' | 'implicit-gemm' | 'direct' | 'block' | 'block8' | 'direct-s1' | 'ubo' | 'ubo8';

export interface Conv2dForwardDims extends Conv2dDims {
  /** Fused epilogue, applied after the bias. */
  activation?: GemmActivation;
  tiles?: Conv2dTiles;
  path?: Conv2dPath;
}

export interface Conv2dBackwardDims extends Conv2dDims {
  /** Add into gradX instead of overwriting it. */
  accumulate?: boolean;
  tiles?: Conv2dTiles;
  path?: Conv2dPath;
}

/**
 * Tiles by the GEMM's column count (channels per group). Measured on SwiftShader (2 shared cores; N=4, 64→64, 28×28,
 * 3×3, pad 1, min of 12 interleaved runs): 64×64×16, 64×32×16 and 32×64×16 all ≈1.6 GFLOP/s forward and backward,
 * within noise; 32×32×32, 128×32×16, 128×16×16, 64×16×32 were 5–30% slower. 64×64 is kept for its reuse on real
 * GPUs. Few columns (an RGB input's gradient, small groups) get narrow, tall tiles instead of idle columns; few rows
 * (deep layers at small spatial sizes: ResNet-18's last stage at 64×64 has 16) get short tiles, since a 64-row tile
 * would compute 48 rows of padding (ResNet-18 at 64×64, batch 4: forward 1.47 → 1.04 s, with backward 3.06 → 2.27 s).
 * The K step is the GEMM's for the same number of multiply-adds (tileKFor: 8 for small convolutions, for compile time).
 */
function defaultTiles(columns: number, rows: number, multiplyAdds: number): Conv2dTiles {
  const pow2 = (v: number, least: number) => 2 ** Math.ceil(Math.log2(Math.max(v, least))); // few pipelines to compile
  const n = Math.min(64, pow2(columns, 4));
  return { m: Math.min(n === 64 ? 64 : 128, pow2(rows, 8)), n, k: tileKFor(multiplyAdds) };
}

/** [outHeight, outWidth] by ONNX's rule: ⌊(in + pad_begin + pad_end − dilation·(kernel − 1) − 1) / stride⌋ + 1. */
export function conv2dOutputSize(dims: Conv2dDims): [number, number] {
  const { strides: [sh, sw] = [1, 1], dilations: [dh, dw] = [1, 1], pads: [pt, pl, pb, pr] = [0, 0, 0, 0], group = 1 } = dims;
  const outHeight = Math.floor((dims.height + pt + pb - dh * (dims.kernelHeight - 1) - 1) / sh) + 1;
  const outWidth = Math.floor((dims.width + pl + pr - dw * (dims.kernelWidth - 1) - 1) / sw) + 1;
  const positive = [dims.batch, dims.inChannels, dims.outChannels, dims.kernelHeight, dims.kernelWidth, sh, sw, dh, dw, group];
  if (!positive.every((v) => Number.isInteger(v) && v >= 1) || ![pt, pl, pb, pr].every((v) => Number.isInteger(v) && v >= 0)) {
    throw new GradlensError(
      'BAD_PARAMS',
      `conv2d: sizes, strides, dilations and group must be positive integers and pads non-negative (${JSON.stringify(dims)})`,
    );
  }
  if (dims.inChannels % group !== 0 || dims.outChannels % group !== 0) {
    throw new GradlensError('BAD_PARAMS', `conv2d: group ${group} must divide inChannels ${dims.inChannels} and outChannels ${dims.outChannels}`);
  }
  if (outHeight < 1 || outWidth < 1) {
    throw new GradlensError('BAD_PARAMS', `conv2d: output ${outHeight}×${outWidth} is empty; the dilated kernel is larger than the padded input`);
  }
  return [outHeight, outWidth];
}

/**
 * The direct kernels for depthwise convolutions (no reuse for a GEMM tile), for one channel per group in the GEMM's
 * columns (output channels forward, input channels backward: a 4-wide tile would be three quarters padding) and for a
 * depth (Cin/group·KH·KW forward, Cout/group·KH·KW backward) within one K tile. Measured interleaved at batch 64 on
 * the digit CNN's first layer (1→8, 28×28, 3×3): forward 25 → 21 ms on llvmpipe and 168 → 94 ms on SwiftShader, input
 * gradient 106 → 32 and 516 → 272 ms. Wider layers (8→16) were 2–3× slower direct on both, so they keep the GEMM.
 */
function isDirect(dims: Conv2dDims & { tiles?: Conv2dTiles }, channels: number, depth: number, path: Conv2dPath = 'auto'): boolean {
  const group = dims.group ?? 1;
  if (path !== 'auto' || dims.tiles) return path === 'direct'; // tiles are the implicit GEMM's
  return (group === dims.inChannels && group > 1) || channels === 1 || depth <= DIRECT_DEPTH;
}

/**
 * The implicit GEMM's replacement on the CPU adapters for few input channels per group, where a GEMM tile is mostly
 * padding. On Mesa's gallivm (llvmpipe), where the packed kernels do not apply (gallivmPacked): the block kernels, for
 * the forward with ≤ 4 in and ≥ 4 out (an RGB input) and for a stride-1 input gradient with ≤ 8. Measured by `gradlens
 * tune --large` (224×224, 16 and 64 points, load 5–13): 3→8 forward 828 → 531 and 2,538 → 1,640 ms, input gradient
 * 1,687 → 647 and 5,356 → 1,954 ms; the 8→16 input gradient took block in 5 of the 6 classes measured (digit CNN and
 * 224×224, e.g. 43.3 → 33.8 ms; against 1,237 → 1,576 ms at 64 points). On SwiftShader: block8 for the forward with
 * ≤ 8 in and ≥ 8 out, block for a stride-1 input gradient with ≤ 4 in and block8 up to 16 (interleaved minima, load
 * 10; implicit GEMM → chosen): 8→16 at 14×14, 64 points, forward 111 → 86 ms, input gradient 123 → 71 ms; 3→8 at
 * 224×224, 16 points, forward 2,257 → 1,791 ms, input gradient 3,489 → 1,029 ms; 8→16 at 112×112 forward 1,654 →
 * 1,475 ms, input gradient 1,875 → 1,324 ms; 16→32 at 56×56 input gradient 603 → 517 ms (its forward, and 32→32 both
 * ways, within 3 %: the GEMM stays). Real GPUs keep the GEMM, unmeasured.
 */
function cpuPath(context: GpuContext, dims: Conv2dDims, direction: 'forward' | 'backward-input'): Conv2dPath {
  const group = dims.group ?? 1;
  const [inChannels, outChannels] = [dims.inChannels / group, dims.outChannels / group];
  const stride1 = (dims.strides ?? [1, 1]).every((s) => s === 1);
  if (isGallivm(context.report)) {
    if (direction === 'forward') return inChannels <= 4 && outChannels >= 4 ? 'block' : 'implicit-gemm';
    return inChannels <= 8 && stride1 ? 'block' : 'implicit-gemm';
  }
  if (isSwiftShader(context.report)) {
    if (direction === 'forward') return inChannels <= 8 && outChannels >= 8 ? 'block8' : 'implicit-gemm';
    return stride1 && inChannels <= 16 ? (inChannels <= 4 ? 'block' : 'block8') : 'implicit-gemm';
  }
  return 'implicit-gemm';
}

/**
 * gallivm's choice: the packed-weight block kernels wherever a group has 4 or more channels to block (3 for an input
 * gradient; not a strided 1×1's), 8 channels per invocation from 8. Measured per dispatch (docs/performance.md): against
 * `block` and the implicit GEMM, 15–30 % faster on the digit CNN's and the 224×224 CNN's convolutions with the weights
 * in a uniform buffer (`ubo` lane); with larger weights read from storage as vec4s, against the implicit GEMM at batch
 * 4 (third session): a ResNet's 3×3 layers 2.2–2.5× (64→64 at 56×56 218 → 94 ms forward, 236 → 94 ms input gradient;
 * 512→512 at 7×7 274 → 111 and 307 → 108 ms), its 7×7 stride-2 stem forward 268 → 115 ms, 3×3 stride 2 110 → 68 ms,
 * 1×1 layers 20–40 % (64→256 at 56×56 110 → 93 ms); strided input gradients (a stride phase a workgroup layer)
 * 1.5–1.7× for 3×3 stride 2 (64→128 at 56×56 141 → 92 ms, 256→512 at 14×14 180 → 107 ms) and 4× for the 7×7 stem
 * (1,045 → 249 ms), but a stride-2 1×1's is slower (27 against 33–45 ms). Not on SwiftShader, which keeps its
 * choices. An input gradient with 1 or 2 input channels keeps its kernel (a block of 4 would be mostly padding).
 */
function gallivmPacked(dims: Conv2dDims, direction: 'forward' | 'backward-input'): Conv2dPath | undefined {
  const group = dims.group ?? 1;
  const blocked = (direction === 'forward' ? dims.outChannels : dims.inChannels) / group;
  if (blocked < (direction === 'forward' ? 4 : 3)) return undefined;
  const strided = (dims.strides ?? [1, 1]).some((s) => s !== 1);
  // A strided 1×1's input gradient is a quarter (at stride 2) of a small GEMM: the implicit GEMM stays ahead there.
  if (direction === 'backward-input' && strided && dims.kernelHeight * dims.kernelWidth === 1) return undefined;
  return blocked >= 8 ? 'ubo8' : 'ubo';
}

/**
 * The loop guard's cost of a loop over channels around the loops over kernel rows and columns (src/gpu/limits.ts),
 * with one more a channel than the guards count: measured on llvmpipe, a 3×3 block kernel stops being right at 18 a
 * channel (3,600 channels right, 3,700 wrong), not 17.
 */
function channelTapIterations(channels: number, kernelHeight: number, kernelWidth: number): number {
  return loopIterations(channels) + channels * (nestedIterations(kernelHeight, kernelWidth) + 1);
}

/**
 * The loops of shaders/conv2d.wgsl's phase_of and of the taps it finds, for the input gradients' loop estimates: the
 * most taps of each kernel dimension that reach one stride phase (kh · dilation ≡ r (mod stride) recurs every stride /
 * gcd), and the iterations of its searches (up to the stride and the kernel size in each dimension).
 */
function phaseLoops(params: ReturnType<typeof baseParams>): { taps: [number, number]; search: number } {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const reaching = (kernel: number, stride: number, dilation: number) => Math.ceil(kernel / (stride / gcd(stride, dilation)));
  return {
    taps: [reaching(params.kernel_height, params.stride_h, params.dilation_h), reaching(params.kernel_width, params.stride_w, params.dilation_w)],
    search: 2 * (params.stride_h + params.stride_w + params.kernel_height + params.kernel_width),
  };
}

/** Vec4s of packed weights (shaders/conv2d.wgsl, conv2d_pack_*) in the 16 KiB uniform array the kernels declare. */
const PACKED_VEC4S = 1024;

function packedCount(dims: Conv2dDims, direction: 'forward' | 'backward-input'): number {
  const group = dims.group ?? 1;
  const taps = dims.kernelHeight * dims.kernelWidth;
  return direction === 'forward'
    ? dims.inChannels * taps * Math.ceil(dims.outChannels / group / 4)
    : dims.outChannels * taps * Math.ceil(dims.inChannels / group / 4);
}

/** Vec4s a packed copy holds: `ubo8` reads one past a block of 4. */
function packedSize(dims: Conv2dDims, direction: 'forward' | 'backward-input'): number {
  return packedCount(dims, direction) + 1;
}

/** Whether a convolution's packed weights fit the kernels' uniform array; else they are read as storage. */
function packedFits(dims: Conv2dDims, direction: 'forward' | 'backward-input'): boolean {
  return packedSize(dims, direction) <= PACKED_VEC4S;
}

/**
 * The packing dispatch and its parameters' buffer: it fills the weights' own packed copy for this direction, a
 * prologue of the convolution (Dispatch.prologue), so it runs once a run, before the first chunk, and again in the
 * next run, after whatever changed the weights in between (NoiseGrad's perturbations).
 */
async function packWeights(
  context: GpuContext,
  module: string,
  direction: 'forward' | 'backward-input',
  dims: Conv2dDims,
  resources: { params: ReturnType<typeof baseParams>; w: GPUBuffer },
): Promise<{
  dispatch: Dispatch;
  bindings: Record<'w_packed' | 'w_packed_storage', GPUBuffer>;
  overrides: { PACKED_STORAGE: number };
  buffers: GPUBuffer[];
}> {
  const entry = direction === 'forward' ? 'conv2d_pack_forward' : 'conv2d_pack_backward_input';
  const kernel = await context.kernels.kernel(module, entry, { DIRECT_WORKGROUP_SIZE: WORKGROUP_SIZE });
  const fits = packedFits(dims, direction);
  const packed = packedWeights(context.device, resources.w, direction, Math.max(PACKED_VEC4S, packedSize(dims, direction)));
  const bound = kernel.bind(context.device, { ...resources, w_packed_out: packed });
  const workgroups = gridFor(packedCount(dims, direction), WORKGROUP_SIZE);
  return {
    dispatch: { bound: { ...bound, uniforms: [] }, workgroups, iterations: 0 },
    // Both bindings are bound (shaders/conv2d.wgsl, PACKED_STORAGE): the uniform one to a stand-in where it is not read.
    bindings: { w_packed: fits ? packed : uniformStandIn(context.device), w_packed_storage: packed },
    overrides: { PACKED_STORAGE: Number(!fits) },
    buffers: bound.uniforms,
  };
}

/** Each weight buffer's packed copies, by direction and size: derived weights, made once and freed with the weights. */
const packedCopies = new WeakMap<GPUBuffer, Map<string, GPUBuffer>>();

/**
 * A weight buffer's packed copy of `vec4s` vec4s: 16 KiB (the uniform binding limit of WebGPU compatibility mode, so
 * no limit is raised) where the packing fits it, else the packing's size, read as storage.
 */
function packedWeights(device: GPUDevice, weights: GPUBuffer, direction: 'forward' | 'backward-input', vec4s: number): GPUBuffer {
  let copies = packedCopies.get(weights);
  if (!copies) packedCopies.set(weights, (copies = new Map()));
  // By size too: one weight buffer may serve convolutions of other shapes (LRP's derived graphs).
  const key = `${direction} ${vec4s}`;
  let buffer = copies.get(key);
  if (!buffer) {
    const label = `${weights.label} packed (${direction})`;
    buffer = device.createBuffer({ label, size: 16 * vec4s, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM });
    copies.set(key, buffer);
  }
  return buffer;
}

/** Frees the packed copies made of a weight buffer (Model.destroy, with the weights). */
export function releasePackedWeights(weights: GPUBuffer): void {
  packedCopies.get(weights)?.forEach((buffer) => buffer.destroy());
  packedCopies.delete(weights);
}

/** A 16 KiB uniform buffer per device for the packed kernels' uniform binding where they read storage instead. */
const standIns = new WeakMap<GPUDevice, GPUBuffer>();

function uniformStandIn(device: GPUDevice): GPUBuffer {
  let buffer = standIns.get(device);
  if (!buffer) {
    buffer = device.createBuffer({ label: 'conv2d packed weights: uniform stand-in', size: 16 * PACKED_VEC4S, usage: GPUBufferUsage.UNIFORM });
    standIns.set(device, buffer);
  }
  return buffer;
}

/**
 * `run` with the weights as given and the conv2d module, or (dims.halfW) with their f16 copy and the +f16 variant, the
 * copy filled once a run before the convolution (and before its packing, which reads it).
 */
async function withWeights<IO extends { w: GPUBuffer }>(
  context: GpuContext,
  io: IO,
  dims: Conv2dDims,
  run: (io: IO, module: string) => Promise<Dispatch>,
): Promise<Dispatch> {
  if (!dims.halfW) return run(io, 'conv2d');
  const half = await halfWeights(context, io.w);
  const dispatch = await run({ ...io, w: half.buffer }, context.kernels.halfVariant('conv2d'));
  return { ...dispatch, prologue: [half.fill, ...(dispatch.prologue ?? [])] };
}

/** The packing runs once a run before the convolution; its parameters are freed with the convolution's. */
function withPacking(dispatch: Dispatch, pack: { dispatch: Dispatch; buffers: GPUBuffer[] }): Dispatch {
  dispatch.bound.uniforms.push(...pack.buffers);
  return { ...dispatch, prologue: [pack.dispatch] };
}

/**
 * The heuristic's path where isDirect takes the direct kernels: the blocked forward when a group has 4 or more output
 * channels, the stride-1 input gradient without phases. Measured by `gradlens tune` on the digit CNN's first layer
 * (1→8, 28×28, batch 64; load average 9): forward direct → block 13.3 → 12.5 ms on llvmpipe, 73 → 27 ms on
 * SwiftShader; input gradient direct → direct-s1 23.1 → 12.7 ms and 116 → 72 ms.
 */
function directPath(dims: Conv2dDims, direction: 'forward' | 'backward-input'): Conv2dPath {
  const group = dims.group ?? 1;
  if (direction === 'forward') return dims.outChannels / group >= 4 ? 'block' : 'direct';
  const [sh, sw] = dims.strides ?? [1, 1];
  return sh === 1 && sw === 1 ? 'direct-s1' : 'direct';
}

/**
 * The path of an `auto` convolution: the autotune cache's for its shape class (src/gpu/tune.ts; measured now when the
 * context autotunes), else isDirect's heuristic (directPath's kernel). The class: direction, channels per group in and out, depthwise or
 * not, kernel, stride, dilation, a power-of-two bucket of the output positions (batch × height × width), f16 weights.
 */
async function tunedPath(
  context: GpuContext,
  direction: 'forward' | 'backward-input',
  dims: Conv2dDims,
  heuristic: boolean,
  output: GPUBuffer,
  build: (path: Conv2dPath, output: GPUBuffer) => Promise<Dispatch>,
): Promise<Conv2dPath> {
  const { strides: [sh, sw] = [1, 1], dilations: [dh, dw] = [1, 1], group = 1 } = dims;
  const [outHeight, outWidth] = conv2dOutputSize(dims);
  const depthwise = group === dims.inChannels && group > 1;
  const key =
    `conv2d-${direction}:${dims.inChannels / group}>${dims.outChannels / group}${depthwise ? ':dw' : ''}:k${dims.kernelHeight}x${dims.kernelWidth}` +
    `:s${sh}x${sw}:d${dh}x${dw}:p${bucket(dims.batch * outHeight * outWidth)}${dims.halfW ? ':f16' : ''}`;
  const stride1 = sh === 1 && sw === 1;
  const names =
    direction === 'forward'
      ? ['direct', 'implicit-gemm', 'block', 'block8', 'ubo', 'ubo8']
      : ['direct', 'implicit-gemm', 'ubo', 'ubo8', ...(stride1 ? ['direct-s1', 'block', 'block8'] : [])];
  const fallback =
    (isGallivm(context.report) && gallivmPacked(dims, direction)) || (heuristic ? directPath(dims, direction) : cpuPath(context, dims, direction));
  const choice = await context.tuning.choose(context.device, key, names, fallback, output, async (path, out) => [
    await build(path as Conv2dPath, out),
  ]);
  return choice as Conv2dPath;
}

/** The implicit GEMM's K tile: a shallower convolution fills less than one. */
const DIRECT_DEPTH = 16;

const ROWS = 8; // rows of the register block per invocation, as in shaders/conv2d.wgsl

/**
 * Loop iterations of one implicit-GEMM invocation over `kTiles` depth tiles (shaders/conv2d.wgsl): the row and depth
 * decoding, per tile the strided A and B stagings (B's vec4 staging unpacks 4 per load), the next tile's decoding and
 * TILE_K multiply-adds, then the ROWS × 4 stores; `extra` covers the backward's phase search.
 */
function implicitGemmIterations(tiles: Conv2dTiles, kTiles: number, vec4: boolean, extra = 0): number {
  const threads = (tiles.m / ROWS) * (tiles.n / 4);
  const stageB = vec4 ? 6 * stridedIterations((tiles.k * tiles.n) / 4, threads) : stridedIterations(tiles.k * tiles.n, threads);
  const perTile = 1 + stridedIterations(tiles.k * tiles.m, threads) + stageB + stridedIterations(tiles.k, threads) + loopIterations(tiles.k);
  const store = nestedIterations(ROWS, 4);
  return stridedIterations(tiles.m, threads) + stridedIterations(tiles.k, threads) + loopIterations(kTiles) + kTiles * perTile + store + extra;
}

function checkTiles(tiles: Conv2dTiles): void {
  const { m, n, k } = tiles;
  const invocations = (m / ROWS) * (n / 4);
  const workgroupBytes = 4 * (k * m + k * n + 4 * m + 8 * k); // tile_a, tile_b, row_info, k_info
  if (!(m > 0 && n > 0 && k > 0 && m % ROWS === 0 && n % 4 === 0 && k % 4 === 0) || invocations > 256 || workgroupBytes > 16384) {
    throw new GradlensError(
      'BAD_PARAMS',
      `conv2d: tiles ${JSON.stringify(tiles)} need m % ${ROWS}, n % 4, k % 4 == 0, (m/${ROWS})·(n/4) ≤ 256 invocations and ≤ 16 KiB of workgroup memory`,
    );
  }
}

/** Uniform values shared by every entry point; the GEMM tile counts are filled in by the caller. */
function baseParams(dims: Conv2dDims) {
  const [outHeight, outWidth] = conv2dOutputSize(dims);
  const { strides: [sh, sw] = [1, 1], dilations: [dh, dw] = [1, 1], pads: [pt, pl] = [0, 0, 0, 0], group = 1 } = dims;
  return {
    batch: dims.batch,
    in_channels: dims.inChannels,
    height: dims.height,
    width: dims.width,
    out_channels: dims.outChannels,
    out_height: outHeight,
    out_width: outWidth,
    group,
    kernel_height: dims.kernelHeight,
    kernel_width: dims.kernelWidth,
    stride_h: sh,
    stride_w: sw,
    dilation_h: dh,
    dilation_w: dw,
    pad_top: pt,
    pad_left: pl,
    m_tiles: 1,
    n_tiles: 1,
    has_bias: 0,
    activation: 0,
  };
}

/** y = act(conv(x, w) + bias); bias [outChannels] is optional. */
export async function conv2dForward(
  context: GpuContext,
  io: { x: GPUBuffer; w: GPUBuffer; bias?: GPUBuffer; y: GPUBuffer },
  dims: Conv2dForwardDims,
): Promise<Dispatch> {
  return withWeights(context, io, dims, (weighted, module) => forwardWith(context, weighted, dims, module));
}

/** conv2dForward with the kernels of `module` (conv2d, or its +f16 variant reading `io.w` as f16). */
async function forwardWith(
  context: GpuContext,
  io: { x: GPUBuffer; w: GPUBuffer; bias?: GPUBuffer; y: GPUBuffer },
  dims: Conv2dForwardDims,
  module: string,
): Promise<Dispatch> {
  const activation = wgslEnum('conv2d', 'ACTIVATION', dims.activation ?? 'none');
  const params = { ...baseParams(dims), has_bias: io.bias ? 1 : 0, activation };
  // Without a bias the binding still needs a buffer; the kernel never reads it then.
  const resources = { params, x: io.x, bias: io.bias ?? io.w, y: io.y };
  const depth = (params.in_channels / params.group) * params.kernel_height * params.kernel_width;
  if ((dims.path ?? 'auto') === 'auto' && !dims.tiles) {
    const heuristic = isDirect(dims, params.out_channels / params.group, depth);
    const path = await tunedPath(context, 'forward', dims, heuristic, io.y, (p, y) =>
      forwardWith(context, { ...io, y }, { ...dims, path: p }, module),
    );
    return forwardWith(context, io, { ...dims, path }, module);
  }
  if (dims.path === 'block' || dims.path === 'block8' || dims.path === 'ubo' || dims.path === 'ubo8') {
    const channels = dims.path === 'block8' || dims.path === 'ubo8' ? 8 : 4;
    const packed = dims.path === 'ubo' || dims.path === 'ubo8';
    const pack = packed ? await packWeights(context, module, 'forward', dims, { params, w: io.w }) : undefined;
    const slide = params.stride_w === 1 && params.dilation_w === 1;
    const overrides = { DIRECT_WORKGROUP_SIZE: WORKGROUP_SIZE, BLOCK_CHANNELS: channels, ...(pack && { SLIDE: Number(slide), ...pack.overrides }) };
    const kernel = await context.kernels.kernel(module, packed ? 'conv2d_ubo_forward' : 'conv2d_block_forward', overrides);
    const blocks = Math.ceil(params.out_channels / params.group / channels) * params.group;
    const count = params.batch * blocks * params.out_height * Math.ceil(params.out_width / 4);
    const iterations =
      channelTapIterations(params.in_channels / params.group, params.kernel_height, params.kernel_width) + nestedIterations(channels, 4);
    if (!pack) return { bound: kernel.bind(context.device, { ...resources, w: io.w }), workgroups: gridFor(count, WORKGROUP_SIZE), iterations };
    const bound = kernel.bind(context.device, { ...resources, ...pack.bindings });
    return withPacking({ bound, workgroups: gridFor(count, WORKGROUP_SIZE), iterations }, pack);
  }
  if (isDirect(dims, params.out_channels / params.group, depth, dims.path)) {
    const kernel = await context.kernels.kernel(module, 'conv2d_direct_forward', { DIRECT_WORKGROUP_SIZE: WORKGROUP_SIZE });
    const count = params.batch * params.out_channels * params.out_height * Math.ceil(params.out_width / 4); // 4 outputs per invocation
    const iterations = channelTapIterations(params.in_channels / params.group, params.kernel_height, params.kernel_width) + loopIterations(4);
    return { bound: kernel.bind(context.device, { ...resources, w: io.w }), workgroups: gridFor(count, WORKGROUP_SIZE), iterations };
  }
  const rows = params.batch * params.out_height * params.out_width;
  const tiles = dims.tiles ?? defaultTiles(params.out_channels / params.group, rows, rows * params.out_channels * depth);
  checkTiles(tiles);
  params.m_tiles = Math.ceil((params.batch * params.out_height * params.out_width) / tiles.m);
  params.n_tiles = Math.ceil(params.out_channels / params.group / tiles.n);
  // Weight rows start on 16-byte boundaries when K = (Cin/group)·KH·KW is a multiple of 4.
  const vec4 = depth % 4 === 0;
  const overrides = { TILE_M: tiles.m, TILE_N: tiles.n, TILE_K: tiles.k };
  const kernel = await context.kernels.kernel(module, vec4 ? 'conv2d_forward_vec4' : 'conv2d_forward', overrides);
  const bound = kernel.bind(context.device, { ...resources, ...(vec4 ? { w_vec4: io.w } : { w: io.w }) });
  const kTiles = Math.ceil(depth / tiles.k);
  return { bound, workgroups: gridFor(params.m_tiles * params.n_tiles * params.group, 1), iterations: implicitGemmIterations(tiles, kTiles, vec4) };
}

/**
 * gradX (=|+=) the input gradient of the convolution for upstream gradient gradY [batch, outChannels, outHeight,
 * outWidth]: the transposed convolution, as a gather. A fused activation's gradient is not part of it.
 */
export async function conv2dBackwardInput(
  context: GpuContext,
  io: { gradY: GPUBuffer; w: GPUBuffer; gradX: GPUBuffer },
  dims: Conv2dBackwardDims,
): Promise<Dispatch> {
  return withWeights(context, io, dims, (weighted, module) => backwardInputWith(context, weighted, dims, module));
}

/** conv2dBackwardInput with the kernels of `module` (as forwardWith). */
async function backwardInputWith(
  context: GpuContext,
  io: { gradY: GPUBuffer; w: GPUBuffer; gradX: GPUBuffer },
  dims: Conv2dBackwardDims,
  module: string,
): Promise<Dispatch> {
  const params = baseParams(dims);
  const ACCUMULATE = Number(dims.accumulate ?? false); // an override constant (shaders/conv2d.wgsl says why)
  const resources = { params, grad_y: io.gradY, w: io.w, grad_x: io.gradX };
  const depth = (params.out_channels / params.group) * params.kernel_height * params.kernel_width;
  if ((dims.path ?? 'auto') === 'auto' && !dims.tiles) {
    const heuristic = isDirect(dims, params.in_channels / params.group, depth);
    const path = await tunedPath(context, 'backward-input', dims, heuristic, io.gradX, (p, gradX) =>
      backwardInputWith(context, { ...io, gradX }, { ...dims, path: p }, module),
    );
    return backwardInputWith(context, io, { ...dims, path }, module);
  }
  if (dims.path === 'block' || dims.path === 'block8' || dims.path === 'direct-s1' || dims.path === 'ubo' || dims.path === 'ubo8') {
    const packed = dims.path === 'ubo' || dims.path === 'ubo8';
    const strided = params.stride_h !== 1 || params.stride_w !== 1;
    if (strided && !packed) throw new GradlensError('BAD_PARAMS', `conv2d: the ${dims.path} input gradient is for stride 1`);
    const block = dims.path === 'direct-s1' ? 1 : dims.path === 'block8' || dims.path === 'ubo8' ? 8 : 4;
    const pack = packed ? await packWeights(context, module, 'backward-input', dims, { params, w: io.w }) : undefined;
    const entry =
      block === 1
        ? 'conv2d_direct_backward_input_s1'
        : !packed
          ? 'conv2d_block_backward_input_s1'
          : strided
            ? 'conv2d_ubo_backward_input'
            : 'conv2d_ubo_backward_input_s1';
    const kernel = await context.kernels.kernel(module, entry, {
      DIRECT_WORKGROUP_SIZE: WORKGROUP_SIZE,
      ACCUMULATE,
      ...(block > 1 && { BLOCK_CHANNELS: block }),
      ...(pack && { ...(!strided && { SLIDE: Number(params.dilation_w === 1) }), ...pack.overrides }),
    });
    const channels = block === 1 ? params.in_channels : Math.ceil(params.in_channels / params.group / block) * params.group;
    // Strided: one layer of workgroups per stride phase (z), each sized for the largest phase.
    const [rows, columns] = [Math.ceil(params.height / params.stride_h), Math.ceil(params.width / params.stride_w)];
    const count = params.batch * channels * rows * Math.ceil(columns / 4);
    const [x, y] = gridFor(count, WORKGROUP_SIZE);
    const workgroups: [number, number, number] = [x, y, params.stride_h * params.stride_w];
    const phase = phaseLoops(params); // the stride-1 kernels search no phase
    const iterations =
      channelTapIterations(params.out_channels / params.group, ...phase.taps) +
      nestedIterations(Math.max(block, 4), 4) +
      (strided ? phase.search : 0);
    if (!pack) return { bound: kernel.bind(context.device, resources), workgroups, iterations };
    const bound = kernel.bind(context.device, { params, grad_y: io.gradY, grad_x: io.gradX, ...pack.bindings });
    return withPacking({ bound, workgroups, iterations }, pack);
  }
  if (isDirect(dims, params.in_channels / params.group, depth, dims.path)) {
    const kernel = await context.kernels.kernel(module, 'conv2d_direct_backward_input', { DIRECT_WORKGROUP_SIZE: WORKGROUP_SIZE, ACCUMULATE });
    const count = params.batch * params.in_channels * params.height * params.width;
    const taps = nestedIterations(params.kernel_height, params.kernel_width);
    const iterations = loopIterations(params.out_channels / params.group) * (taps + 1);
    return { bound: kernel.bind(context.device, resources), workgroups: gridFor(count, WORKGROUP_SIZE), iterations };
  }
  // One GEMM per stride phase (ih + pad_top ≡ ph mod stride_h, same along w); rows sized for the largest phase.
  const phases = params.stride_h * params.stride_w;
  const rows = params.batch * Math.ceil(params.height / params.stride_h) * Math.ceil(params.width / params.stride_w);
  const multiplyAdds = params.batch * params.out_height * params.out_width * params.in_channels * depth; // the forward's
  const tiles = dims.tiles ?? defaultTiles(params.in_channels / params.group, rows, multiplyAdds);
  checkTiles(tiles);
  params.m_tiles = Math.ceil(rows / tiles.m);
  params.n_tiles = Math.ceil(params.in_channels / params.group / tiles.n);
  const kernel = await context.kernels.kernel(module, 'conv2d_backward_input', { TILE_M: tiles.m, TILE_N: tiles.n, TILE_K: tiles.k, ACCUMULATE });
  // Each workgroup sums over the taps reaching its phase (kernel_h·kernel_w at stride 1, one per phase for a patchify
  // layer).
  const phase = phaseLoops(params);
  const kTiles = Math.ceil(((params.out_channels / params.group) * phase.taps[0] * phase.taps[1]) / tiles.k);
  const iterations = implicitGemmIterations(tiles, kTiles, false, phase.search);
  return {
    bound: kernel.bind(context.device, resources),
    workgroups: gridFor(params.m_tiles * params.n_tiles * params.group * phases, 1),
    iterations,
  };
}
