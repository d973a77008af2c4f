import { describe, expect, it, vi } from 'vitest';
import { CommandBatch, setDebugDispatch, type Dispatch } from '../../src/gpu/commands.ts';
import { GpuContext } from '../../src/gpu/index.ts';
import { conv2dBackwardInput, conv2dForward, conv2dOutputSize, type Conv2dPath, type Conv2dTiles } from '../../src/kernels/conv2d.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import * as reference from '../reference/conv2d.ts';
import type { ConvShape } from '../reference/conv2d.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { randomTensor } from '../reference/random.ts';

// f32 sums of K ≤ 200 products of values in [-1, 1]: rounding error grows like √K·2⁻²⁴ times the partial sums
// (|·| ≲ 10), about 1e-6; 2e-5 leaves margin for unlucky orderings without hiding an index error (errors of order 0.1).
const F32_SUM = { abs: 2e-5, rel: 1e-5 };

type Case = Partial<ConvShape> & Pick<ConvShape, 'batch' | 'inChannels' | 'height' | 'width' | 'outChannels' | 'kernelHeight' | 'kernelWidth'>;

const shape = (c: Case): ConvShape => ({ strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1, ...c });

// Odd sizes throughout, so no tile divides a dimension; the last cases span several tiles in m, n and k.
const GRID: Record<string, Case> = {
  '3×3 pad 1, batch 1': { batch: 1, inChannels: 3, height: 7, width: 9, outChannels: 5, kernelHeight: 3, kernelWidth: 3, pads: [1, 1, 1, 1] },
  'stride 2, asymmetric pads, batch 3': {
    batch: 3,
    inChannels: 4,
    height: 9,
    width: 11,
    outChannels: 6,
    kernelHeight: 3,
    kernelWidth: 3,
    strides: [2, 2],
    pads: [1, 0, 2, 1],
  },
  'dilation 2': {
    batch: 2,
    inChannels: 5,
    height: 10,
    width: 8,
    outChannels: 7,
    kernelHeight: 3,
    kernelWidth: 3,
    dilations: [2, 2],
    pads: [2, 2, 2, 2],
  },
  'stride 2 with dilation 2 (taps miss odd phases)': {
    batch: 1,
    inChannels: 3,
    height: 11,
    width: 9,
    outChannels: 4,
    kernelHeight: 3,
    kernelWidth: 3,
    strides: [2, 2],
    dilations: [2, 2],
    pads: [1, 2, 0, 1],
  },
  'stride 3 over a 2-wide kernel, mixed strides and dilations': {
    batch: 2,
    inChannels: 2,
    height: 8,
    width: 13,
    outChannels: 3,
    kernelHeight: 2,
    kernelWidth: 4,
    strides: [3, 2],
    dilations: [1, 3],
    pads: [1, 3, 1, 0],
  },
  '2×3 kernel, one-sided pads': { batch: 1, inChannels: 3, height: 6, width: 7, outChannels: 5, kernelHeight: 2, kernelWidth: 3, pads: [0, 2, 1, 0] },
  'groups 2, stride (2, 1)': {
    batch: 3,
    inChannels: 6,
    height: 7,
    width: 5,
    outChannels: 10,
    kernelHeight: 3,
    kernelWidth: 3,
    strides: [2, 1],
    pads: [1, 1, 1, 1],
    group: 2,
  },
  'groups 3 with 4 channels each (vec4 weights)': {
    batch: 2,
    inChannels: 12,
    height: 5,
    width: 7,
    outChannels: 9,
    kernelHeight: 3,
    kernelWidth: 3,
    pads: [1, 1, 1, 1],
    group: 3,
  },
  'depthwise 3×3 stride 2': {
    batch: 2,
    inChannels: 8,
    height: 7,
    width: 9,
    outChannels: 8,
    kernelHeight: 3,
    kernelWidth: 3,
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    group: 8,
  },
  'depthwise, strides (3, 2), dilations (2, 3)': {
    batch: 2,
    inChannels: 2,
    height: 10,
    width: 11,
    outChannels: 2,
    kernelHeight: 3,
    kernelWidth: 3,
    strides: [3, 2],
    dilations: [2, 3],
    pads: [2, 0, 1, 2],
    group: 2,
  },
  'depthwise, multiplier 2, dilation 2': {
    batch: 1,
    inChannels: 3,
    height: 8,
    width: 11,
    outChannels: 6,
    kernelHeight: 3,
    kernelWidth: 5,
    dilations: [2, 2],
    pads: [2, 1, 0, 3],
    group: 3,
  },
  '1×1 kernel (vec4 weights)': { batch: 3, inChannels: 16, height: 5, width: 7, outChannels: 20, kernelHeight: 1, kernelWidth: 1 },
  '1×1 kernel stride 2': { batch: 1, inChannels: 5, height: 9, width: 8, outChannels: 3, kernelHeight: 1, kernelWidth: 1, strides: [2, 2] },
  '7×7 stride 2 pad 3 stem': {
    batch: 1,
    inChannels: 3,
    height: 15,
    width: 13,
    outChannels: 17,
    kernelHeight: 7,
    kernelWidth: 7,
    strides: [2, 2],
    pads: [3, 3, 3, 3],
  },
  'several tiles in m, n and k': {
    batch: 2,
    inChannels: 20,
    height: 13,
    width: 11,
    outChannels: 37,
    kernelHeight: 3,
    kernelWidth: 3,
    pads: [1, 1, 1, 1],
  },
};

const isDepthwise = (s: ConvShape) => s.group === s.inChannels && s.group > 1;

interface Options {
  bias?: boolean;
  activation?: 'none' | 'relu';
  tiles?: Conv2dTiles;
  path?: Conv2dPath;
}

function tensors(s: ConvShape) {
  const [outHeight, outWidth] = reference.outputSize(s);
  return {
    x: randomTensor(s.batch * s.inChannels * s.height * s.width, 1),
    w: randomTensor(s.outChannels * (s.inChannels / s.group) * s.kernelHeight * s.kernelWidth, 2),
    bias: randomTensor(s.outChannels, 3),
    gradY: randomTensor(s.batch * s.outChannels * outHeight * outWidth, 4),
    initialGradX: randomTensor(s.batch * s.inChannels * s.height * s.width, 5),
  };
}

async function runForward(s: ConvShape, options: Options = {}): Promise<Float32Array> {
  const context = await testContext();
  const t = tensors(s);
  const [outHeight, outWidth] = reference.outputSize(s);
  const count = s.batch * s.outChannels * outHeight * outWidth;
  const { x, w } = await uploadAll(context, { x: t.x, w: t.w });
  const bias = options.bias ? (await uploadAll(context, { bias: t.bias })).bias : undefined;
  const y = await zeros(context, 'y', count);
  await runDispatches(context, 'conv2d forward', [await conv2dForward(context, { x, w, bias, y }, { ...s, ...options })]);
  const result = await read(context, y, count);
  for (const buffer of [x, w, bias, y]) buffer?.destroy();
  return result;
}

async function runBackward(s: ConvShape, options: Options & { accumulate?: boolean } = {}): Promise<Float32Array> {
  const context = await testContext();
  const t = tensors(s);
  // Starts from nonzero values either way, so an element the kernel never writes shows up when overwriting.
  const buffers = await uploadAll(context, { gradY: t.gradY, w: t.w, gradX: t.initialGradX });
  await runDispatches(context, 'conv2d backward', [await conv2dBackwardInput(context, buffers, { ...s, ...options })]);
  const result = await read(context, buffers.gradX, t.initialGradX.length);
  for (const buffer of Object.values(buffers)) buffer.destroy();
  return result;
}

/** The path's input gradient against the float64 reference, overwriting and accumulating into a nonzero gradient. */
async function expectInputGradient(name: string, s: ConvShape, path: Conv2dPath): Promise<void> {
  const t = tensors(s);
  const expected = reference.conv2dBackwardInput(s, t.gradY, t.w);
  expectAllClose(await runBackward(s, { path }), expected, F32_SUM, name);
  const summed = await runBackward(s, { path, accumulate: true });
  expectAllClose(
    summed,
    expected.map((v, i) => v + t.initialGradX[i]!),
    F32_SUM,
    `${name}, accumulate`,
  );
}

describe('conv2d forward against the float64 reference', () => {
  Object.entries(GRID).forEach(([name, c], i) => {
    const s = shape(c);
    const bias = i % 2 === 0;
    it(`${name}, ${bias ? 'with' : 'without'} bias`, async () => {
      const t = tensors(s);
      expectAllClose(await runForward(s, { bias }), reference.conv2d(s, t.x, t.w, bias ? t.bias : undefined), F32_SUM, name);
    });
  });

  it('relu epilogue is applied after the bias', async () => {
    const s = shape(GRID['groups 2, stride (2, 1)']!);
    const t = tensors(s);
    const y = await runForward(s, { bias: true, activation: 'relu' });
    expectAllClose(y, reference.conv2d(s, t.x, t.w, t.bias, 'relu'), F32_SUM);
    expect(y.filter((v) => v === 0).length).toBeGreaterThan(y.length / 4); // the clamp did act
  });

  it('relu epilogue on the depthwise path', async () => {
    const s = shape(GRID['depthwise 3×3 stride 2']!);
    const t = tensors(s);
    expectAllClose(await runForward(s, { bias: true, activation: 'relu' }), reference.conv2d(s, t.x, t.w, t.bias, 'relu'), F32_SUM);
  });

  for (const path of ['implicit-gemm', 'direct', 'block', 'block8', 'ubo', 'ubo8'] as const) {
    it(`every shape also runs correctly through the ${path} path`, async () => {
      for (const [name, c] of Object.entries(GRID)) {
        const s = shape(c);
        const t = tensors(s);
        expectAllClose(await runForward(s, { bias: true, path }), reference.conv2d(s, t.x, t.w, t.bias), F32_SUM, name);
      }
    });
  }

  for (const tiles of [
    { m: 8, n: 4, k: 4 },
    { m: 32, n: 64, k: 8 },
    { m: 128, n: 16, k: 16 },
    { m: 64, n: 64, k: 16 }, // large convolutions' default (small ones take k 8)
  ]) {
    it(`other tiles ${tiles.m}×${tiles.n}×${tiles.k} cover the tails`, async () => {
      const s = shape(GRID['several tiles in m, n and k']!);
      const t = tensors(s);
      expectAllClose(await runForward(s, { bias: true, tiles }), reference.conv2d(s, t.x, t.w, t.bias), F32_SUM);
    });
  }
});

describe('conv2d input gradient against the float64 reference', () => {
  for (const [name, c] of Object.entries(GRID)) {
    it(name, async () => {
      const s = shape(c);
      const t = tensors(s);
      expectAllClose(await runBackward(s), reference.conv2dBackwardInput(s, t.gradY, t.w), F32_SUM, name);
    });
  }

  for (const path of ['implicit-gemm', 'direct'] as const) {
    it(`every shape also runs correctly through the ${path} path`, async () => {
      for (const [name, c] of Object.entries(GRID)) {
        const s = shape(c);
        const t = tensors(s);
        expectAllClose(await runBackward(s, { path }), reference.conv2dBackwardInput(s, t.gradY, t.w), F32_SUM, name);
      }
    });
  }

  // The autotune candidates for stride 1 (any dilation, groups, pads): every stride-1 shape of the grid.
  for (const path of ['direct-s1', 'block', 'block8', 'ubo', 'ubo8'] as const) {
    it(`every stride-1 shape also runs correctly through the ${path} path, and accumulates`, async () => {
      const depthwise: Case = {
        batch: 2,
        inChannels: 6,
        height: 7,
        width: 10,
        outChannels: 6,
        kernelHeight: 3,
        kernelWidth: 3,
        group: 6,
        pads: [1, 1, 1, 1],
      };
      const stride1 = [...Object.entries(GRID), ['depthwise stride 1', depthwise] as const].filter(([, c]) => shape(c).strides.every((v) => v === 1));
      expect(stride1.length).toBeGreaterThan(3);
      for (const [name, c] of stride1) await expectInputGradient(name, shape(c), path);
    });
  }

  // The packed kernels also take strided input gradients (a stride phase per layer of workgroups); a patchify layer
  // (kernel = stride, as ViT's) and a stride larger than the kernel (phases no tap reaches) besides the grid's.
  for (const path of ['ubo', 'ubo8'] as const) {
    it(`every shape at any stride runs correctly through the ${path} input gradient, and accumulates`, async () => {
      const patchify: Case = { batch: 2, inChannels: 3, height: 12, width: 13, outChannels: 9, kernelHeight: 4, kernelWidth: 4, strides: [4, 4] };
      const sparse: Case = {
        batch: 1,
        inChannels: 4,
        height: 9,
        width: 11,
        outChannels: 8,
        kernelHeight: 2,
        kernelWidth: 2,
        strides: [3, 3],
        pads: [1, 0, 0, 1],
      };
      const shapes = [...Object.entries(GRID), ['patchify', patchify] as const, ['stride 3 over a 2×2 kernel', sparse] as const];
      for (const [name, c] of shapes) await expectInputGradient(name, shape(c), path);
    });
  }

  it('other tiles cover the tails', async () => {
    const s = shape({ ...GRID['several tiles in m, n and k']!, strides: [2, 3], pads: [1, 0, 1, 2] });
    const t = tensors(s);
    for (const tiles of [
      { m: 8, n: 4, k: 4 },
      { m: 64, n: 64, k: 16 }, // large convolutions' default
    ]) {
      expectAllClose(await runBackward(s, { tiles }), reference.conv2dBackwardInput(s, t.gradY, t.w), F32_SUM, JSON.stringify(tiles));
    }
  });

  for (const name of ['stride 2, asymmetric pads, batch 3', 'depthwise 3×3 stride 2']) {
    it(`accumulate adds into the existing gradient (${isDepthwise(shape(GRID[name]!)) ? 'direct' : 'implicit GEMM'})`, async () => {
      const s = shape(GRID[name]!);
      const initial = tensors(s).initialGradX;
      const alone = await runBackward(s);
      const summed = await runBackward(s, { accumulate: true });
      expect([...summed]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
    });
  }
});

describe('conv2d packed-weight kernels (ubo, ubo8)', () => {
  // The grid's largest shape packs 1,800 (forward) and 1,665 (input gradient) vec4s, past the 1,024 of 16 KiB.
  const names = async (path: 'ubo' | 'ubo8', s: ConvShape) => {
    const context = await testContext();
    const t = tensors(s);
    const buffers = await uploadAll(context, { x: t.x, w: t.w, y: t.gradY, gradY: t.gradY, gradX: t.x });
    const forward = await conv2dForward(context, buffers, { ...s, path });
    const backward = await conv2dBackwardInput(context, buffers, { ...s, path });
    for (const buffer of [...Object.values(buffers), ...forward.bound.uniforms, ...backward.bound.uniforms]) buffer.destroy();
    const name = (step: Dispatch) => `${step.bound.kernel.name}${step.bound.kernel.overrides.PACKED_STORAGE ? ' (storage)' : ''}`;
    return [forward, backward].map((d) => [...(d.prologue ?? []), d].map(name).join(' '));
  };

  it('pack the weights in a prologue, read from the uniform buffer where they fit 16 KiB and from storage where not', async () => {
    for (const path of ['ubo', 'ubo8'] as const) {
      expect(await names(path, shape(GRID['3×3 pad 1, batch 1']!))).toEqual([
        'conv2d/conv2d_pack_forward conv2d/conv2d_ubo_forward',
        'conv2d/conv2d_pack_backward_input conv2d/conv2d_ubo_backward_input_s1',
      ]);
      expect(await names(path, shape(GRID['several tiles in m, n and k']!))).toEqual([
        'conv2d/conv2d_pack_forward conv2d/conv2d_ubo_forward (storage)',
        'conv2d/conv2d_pack_backward_input conv2d/conv2d_ubo_backward_input_s1 (storage)',
      ]);
    }
  });

  it('read the weights as they are when run, not as they were when bound', async () => {
    const context = await testContext();
    const s = shape(GRID['groups 3 with 4 channels each (vec4 weights)']!);
    const t = tensors(s);
    const { x, w, gradY, gradX } = await uploadAll(context, { x: t.x, w: t.w, gradY: t.gradY, gradX: t.initialGradX });
    const y = await zeros(context, 'y', t.gradY.length);
    const forward = await conv2dForward(context, { x, w, y }, { ...s, path: 'ubo' });
    const backward = await conv2dBackwardInput(context, { gradY, w, gradX }, { ...s, path: 'ubo' });
    const doubled = t.w.map((v) => 2 * v);
    context.device.queue.writeBuffer(w, 0, new Float32Array(doubled));
    await runDispatches(context, 'packed conv2d', [forward, backward]);
    expectAllClose(await read(context, y, t.gradY.length), reference.conv2d(s, t.x, doubled), F32_SUM);
    expectAllClose(await read(context, gradX, t.x.length), reference.conv2dBackwardInput(s, t.gradY, doubled), F32_SUM);
    for (const buffer of [x, w, gradY, gradX, y, ...forward.bound.uniforms, ...backward.bound.uniforms]) buffer.destroy();
  });
});

describe('conv2d packed weights in a run of several chunks', () => {
  it('a batch records the packing once, before the first convolution; a repeated chunk records none', async () => {
    const context = await testContext();
    const s = shape(GRID['3×3 pad 1, batch 1']!);
    const t = tensors(s);
    const { x, w } = await uploadAll(context, { x: t.x, w: t.w });
    const y = await zeros(context, 'y', t.gradY.length);
    const forward = await conv2dForward(context, { x, w, y }, { ...s, path: 'ubo' });
    const lines: string[] = [];
    const log = vi.spyOn(console, 'error').mockImplementation((line: string) => lines.push(line));
    setDebugDispatch(true);
    try {
      new CommandBatch(context.device, 'first chunk').add(forward, forward).encode();
      new CommandBatch(context.device, 'later chunk').repeat(forward).encode();
    } finally {
      setDebugDispatch(false);
      log.mockRestore();
    }
    const kernels = lines.map((line) => /dispatch (\S+)/.exec(line)?.[1]);
    expect(kernels).toEqual(['conv2d/conv2d_pack_forward', 'conv2d/conv2d_ubo_forward', 'conv2d/conv2d_ubo_forward', 'conv2d/conv2d_ubo_forward']);
    // The packed copy is the weights' own: the later chunk reads what the first one packed.
    await runDispatches(context, 'first', [forward]);
    context.device.queue.writeBuffer(y, 0, new Float32Array(t.gradY.length));
    const repeated = new CommandBatch(context.device, 'later').repeat(forward);
    await repeated.submit();
    expectAllClose(await read(context, y, t.gradY.length), reference.conv2d(s, t.x, t.w), F32_SUM);
    for (const buffer of [x, w, y, ...forward.bound.uniforms]) buffer.destroy();
  });
});

describe('conv2d on a grid of more than 65535 workgroups', () => {
  // 1×1 tiles of 8 rows: 66 613 workgroups, so the kernels must read the 2-D grid.
  const s = shape({ batch: 1, inChannels: 1, height: 730, width: 730, outChannels: 1, kernelHeight: 1, kernelWidth: 1 });
  const tiles = { m: 8, n: 4, k: 4 };

  it('forward', async () => {
    const t = tensors(s);
    expectAllClose(await runForward(s, { bias: true, tiles }), reference.conv2d(s, t.x, t.w, t.bias), F32_SUM);
  });

  it('input gradient', async () => {
    const t = tensors(s);
    expectAllClose(await runBackward(s, { tiles }), reference.conv2dBackwardInput(s, t.gradY, t.w), F32_SUM);
  });
});

describe('conv2d reference input gradient against central finite differences', () => {
  // Small shapes: each finite difference runs the whole reference forward twice.
  const small: Record<string, Case> = {
    'stride 2, dilation 2, asymmetric pads': {
      batch: 2,
      inChannels: 2,
      height: 6,
      width: 5,
      outChannels: 3,
      kernelHeight: 3,
      kernelWidth: 2,
      strides: [2, 2],
      dilations: [2, 1],
      pads: [1, 0, 2, 1],
    },
    'groups 2, stride (1, 3)': {
      batch: 1,
      inChannels: 4,
      height: 5,
      width: 7,
      outChannels: 2,
      kernelHeight: 2,
      kernelWidth: 3,
      strides: [1, 3],
      pads: [0, 1, 1, 1],
      group: 2,
    },
    'depthwise, multiplier 2': {
      batch: 1,
      inChannels: 2,
      height: 5,
      width: 5,
      outChannels: 4,
      kernelHeight: 3,
      kernelWidth: 3,
      strides: [2, 1],
      pads: [1, 1, 1, 1],
      group: 2,
    },
  };
  for (const [name, c] of Object.entries(small)) {
    it(name, () => {
      const s = shape(c);
      const t = tensors(s);
      const numeric = numericGradient((x) => reference.conv2d(s, x, t.w, t.bias), t.x, t.gradY);
      // Linear in x, so central differences are exact up to float64 rounding ~1e-16·|y|/h.
      expectAllClose(reference.conv2dBackwardInput(s, t.gradY, t.w), numeric, { abs: 1e-8, rel: 1e-8 }, name);
    });
  }
});

describe('conv-transpose reference input gradient against central finite differences', () => {
  const s: reference.ConvTransposeShape = {
    batch: 2,
    inChannels: 4,
    height: 3,
    width: 4,
    outPerGroup: 3,
    kernelHeight: 3,
    kernelWidth: 2,
    strides: [2, 3],
    dilations: [1, 2],
    pads: [1, 0, 0, 1],
    group: 2,
    outHeight: 6,
    outWidth: 12,
  };
  it('groups 2, strides (2, 3), dilation, pads, output padding', () => {
    const x = randomTensor(2 * 4 * 3 * 4, 90);
    const w = randomTensor(4 * 3 * 3 * 2, 91);
    const gradY = randomTensor(2 * 6 * 6 * 12, 92);
    const numeric = numericGradient((z) => reference.convTranspose2d(s, z, w), x, gradY);
    // Linear in x, so central differences are exact up to float64 rounding ~1e-16·|y|/h.
    expectAllClose(reference.convTranspose2dBackwardInput(s, gradY, w), numeric, { abs: 1e-8, rel: 1e-8 }, 'conv transpose');
  });
});

describe('conv2d output size', () => {
  it('follows the ONNX rule over the grid', () => {
    for (const c of Object.values(GRID)) expect(conv2dOutputSize(shape(c))).toEqual(reference.outputSize(shape(c)));
  });

  it('refuses an empty output and a group that does not divide the channels', () => {
    const s = shape(GRID['3×3 pad 1, batch 1']!);
    expect(() => conv2dOutputSize({ ...s, pads: [0, 0, 0, 0], kernelHeight: 9 })).toThrow(/empty/);
    expect(() => conv2dOutputSize({ ...s, group: 2 })).toThrow(/group/);
  });
});

describe("llvmpipe's default kernels", () => {
  // The choice follows per-dispatch measurements (src/kernels/conv2d.ts, gallivmPacked): the packed-weight kernels
  // wherever there are channels to block (weights from storage where they pass 16 KiB), at any stride.
  it('take the packed kernels for 3×3 and 1×1 layers, from storage for large weights, and for strided input gradients', async () => {
    const context = await GpuContext.open({ backend: 'opengles', tuneCache: false });
    try {
      const kernelOf = async (s: ConvShape) => {
        const t = tensors(s);
        const buffers = await uploadAll(context, { x: t.x, w: t.w, y: t.gradY, gradY: t.gradY, gradX: t.x });
        const dispatches = [await conv2dForward(context, buffers, s), await conv2dBackwardInput(context, buffers, s)];
        const names = dispatches.map((d) => {
          const { BLOCK_CHANNELS, PACKED_STORAGE } = d.bound.kernel.overrides;
          return `${d.bound.kernel.name}${BLOCK_CHANNELS ? ` ${BLOCK_CHANNELS}` : ''}${PACKED_STORAGE ? ' storage' : ''}`;
        });
        for (const buffer of [...Object.values(buffers), ...dispatches.flatMap((d) => d.bound.uniforms)]) buffer.destroy();
        return names;
      };
      const wide: Case = { batch: 1, inChannels: 16, height: 9, width: 9, outChannels: 16, kernelHeight: 3, kernelWidth: 3, pads: [1, 1, 1, 1] };
      expect(await kernelOf(shape(wide))).toEqual(['conv2d/conv2d_ubo_forward 8', 'conv2d/conv2d_ubo_backward_input_s1 8']);
      const pointwise: Case = { ...wide, inChannels: 64, outChannels: 64, kernelHeight: 1, kernelWidth: 1, pads: [0, 0, 0, 0] };
      expect(await kernelOf(shape(pointwise))).toEqual(['conv2d/conv2d_ubo_forward 8 storage', 'conv2d/conv2d_ubo_backward_input_s1 8 storage']);
      const [, strided] = await kernelOf(shape({ ...wide, strides: [2, 2] }));
      expect(strided).toBe('conv2d/conv2d_ubo_backward_input 8');
    } finally {
      context.destroy();
    }
  });

  // The strided input gradients' loop estimates count the taps that reach one stride phase, not the whole kernel: a
  // ViT-B/16 patchify layer (one tap a phase) was refused over gallivm's loop budget, counting 16·16 taps for each of 768
  // channels. Both kernels that take it: the implicit GEMM and the default, the packed kernel.
  it("run a patchify layer's input gradient (ViT-B/16: 16×16, stride 16, 768 channels) within the loop budget, right", async () => {
    const context = await GpuContext.open({ backend: 'opengles', tuneCache: false });
    try {
      const s = shape({ batch: 1, inChannels: 3, height: 32, width: 32, outChannels: 768, kernelHeight: 16, kernelWidth: 16, strides: [16, 16] });
      const t = tensors(s);
      const expected = reference.conv2dBackwardInput(s, t.gradY, t.w);
      for (const [path, name] of [
        ['implicit-gemm', 'conv2d/conv2d_backward_input'],
        ['auto', 'conv2d/conv2d_ubo_backward_input'],
      ] as const) {
        const io = await uploadAll(context, { gradY: t.gradY, w: t.w, gradX: new Float32Array(t.x.length) });
        const dispatch = await conv2dBackwardInput(context, io, { ...s, path });
        expect(dispatch.bound.kernel.name).toBe(name);
        await runDispatches(context, 'patchify input gradient', [dispatch]);
        expectAllClose(await read(context, io.gradX, t.x.length), expected, F32_SUM, path);
        for (const buffer of [...Object.values(io), ...dispatch.bound.uniforms]) buffer.destroy();
      }
    } finally {
      context.destroy();
    }
  });
});
