// The subgroups variants of the row-reducing kernels (shaders/lib/row-reduce-subgroups.wgsl: softmax, layernorm)
// against the float64 references, on an adapter with the `subgroups` feature (SwiftShader: subgroups of 4), over rows
// shorter and longer than a subgroup and than a workgroup and ROW_THREADS from 2 to the whole workgroup; and the same
// cases on SwiftShader with `subgroups: false`, the plain tree. Where the adapter lacks the feature (llvmpipe through
// OpenGL ES) they are skipped: the plain modules are what run there, chosen as the first test checks, and
// test/kernels/softmax.test.ts and layernorm.test.ts test them (run with GRADLENS_BACKEND=opengles).
import { afterAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../../src/gpu/index.ts';
import { layerNormBackward, layerNormForward, type LayerNormDims } from '../../src/kernels/layernorm.ts';
import { softmaxBackward, softmaxForward, type SoftmaxDims, type SoftmaxOp } from '../../src/kernels/softmax.ts';
import { WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';
import { SOFTWARE_ADAPTERS } from '../helpers/adapters.ts';
import { expectAllClose } from '../helpers/close.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { randomTensor } from '../reference/random.ts';
import * as layerNormReference from '../reference/layernorm.ts';
import * as softmaxReference from '../reference/softmax.ts';

const EPS = 2 ** -24;
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Row lengths around a subgroup (4..128 in WebGPU) and a workgroup, odd ones included. */
const LENGTHS = [1, 3, 4, 5, 31, 33, 65, 127, 129, 257, 1000];
/** Invocations per row: every power of two up to the workgroup, and the kernels' own choice (undefined). */
const ROW_THREADS = [undefined, ...Array.from({ length: Math.log2(WORKGROUP_SIZE) }, (_, i) => 2 ** (i + 1))];

/** Each software adapter with the subgroup kernels asked for, and SwiftShader without them: the plain tree. */
const CONFIGS = [
  ...SOFTWARE_ADAPTERS.map((adapter) => ({ name: adapter.name, options: { ...adapter.options, subgroups: true } })),
  { name: `${SOFTWARE_ADAPTERS[0]!.name} without subgroups`, options: { ...SOFTWARE_ADAPTERS[0]!.options, subgroups: false } },
];

// Opened lazily, one per configuration, and closed after the file.
const contexts = new Map<string, Promise<GpuContext>>();
afterAll(async () => {
  for (const opened of contexts.values()) (await opened.catch(() => undefined))?.destroy();
});
function contextFor(name: string): Promise<GpuContext> {
  const config = CONFIGS.find((candidate) => candidate.name === name)!;
  let opened = contexts.get(name);
  if (!opened) contexts.set(name, (opened = GpuContext.open(config.options)));
  return opened;
}

for (const adapter of CONFIGS) {
  const asked = adapter.options.subgroups;
  describe(`row reductions on ${adapter.name}`, () => {
    it(`uses the subgroups variants exactly where the device has the feature${asked ? '' : ' and they are asked for'}`, async () => {
      const context = await contextFor(adapter.name);
      const has = context.device.features.has('subgroups');
      expect(has && !asked).toBe(false);
      expect(context.report.subgroupKernels).toBe(has);
      expect(context.kernels.variant('softmax')).toBe(has ? 'softmax+subgroups' : 'softmax');
      expect(context.kernels.variant('layernorm')).toBe(has ? 'layernorm+subgroups' : 'layernorm');
      expect(context.kernels.variant('seed')).toBe(has ? 'seed+subgroups' : 'seed'); // test/kernels/attribution/seed.test.ts
      expect(context.kernels.variant('gemm')).toBe('gemm'); // no subgroups variant
      if (has) expect(context.report.subgroupSizes?.every((size) => size >= 4 && size <= 128)).toBe(true);
    });

    for (const rowThreads of ROW_THREADS) {
      const threads = rowThreads ?? 'default';
      it(`softmax and log-softmax, forward and backward, rows of ${LENGTHS.join(', ')} with ${threads} invocations per row`, async (test) => {
        const context = await contextFor(adapter.name);
        if (asked && !context.report.subgroupKernels) test.skip(`${adapter.name} has no subgroups feature: the plain kernels run (softmax.test.ts)`);
        for (const axisSize of LENGTHS) {
          for (const op of ['softmax', 'log-softmax'] as SoftmaxOp[]) {
            // 3 rows with inner 1, and a middle axis (inner 2): rows whose elements are strided.
            for (const [outer, inner] of [
              [3, 1],
              [2, 2],
            ] as const) {
              const shape = { outer, axis: axisSize, inner };
              const dims: SoftmaxDims = { outer, axisSize, inner, op, rowThreads };
              const label = `${op} ${outer}×${axisSize}×${inner}, ${threads} per row`;
              const x = randomTensor(outer * axisSize * inner, axisSize + outer, 3);
              const b = await uploadAll(context, { x });
              const y = await zeros(context, 'y', x.length);
              await runDispatches(context, label, [await softmaxForward(context, { x: b.x, y }, dims)]);
              const tolerance = op === 'softmax' ? { abs: 1e-7, rel: 1e-5 } : { abs: 2e-6, rel: 2e-6 };
              expectAllClose(await read(context, y, x.length), softmaxReference.softmaxForward(op, x, shape), tolerance, label);

              const savedY = Float32Array.from(softmaxReference.softmaxForward(op, x, shape));
              const gradY = randomTensor(x.length, axisSize + 7);
              const g = await uploadAll(context, { y: savedY, gradY, gradX: new Float32Array(x.length) });
              await runDispatches(context, `${label} backward`, [await softmaxBackward(context, g, dims)]);
              const expected = softmaxReference.softmaxBackward(op, savedY, gradY, shape);
              expectAllClose(await read(context, g.gradX, x.length), expected, { abs: 2e-6, rel: 1e-5 }, `${label} backward`);
            }
          }
        }
      });

      it(`layernorm, forward and backward, rows of ${LENGTHS.join(', ')} with ${threads} invocations per row`, async (test) => {
        const context = await contextFor(adapter.name);
        if (asked && !context.report.subgroupKernels)
          test.skip(`${adapter.name} has no subgroups feature: the plain kernels run (layernorm.test.ts)`);
        for (const size of LENGTHS) {
          const rows = 3;
          const shape = { rows, size, epsilon: 1e-5 };
          const dims: LayerNormDims = { rows, size, epsilon: 1e-5, rowThreads };
          const label = `layernorm ${rows}×${size}, ${threads} per row`;
          const x = randomTensor(rows * size, size, 2).map((v) => v + 3);
          const scale = randomTensor(size, size + 1).map((v) => 1 + 0.5 * v);
          const bias = randomTensor(size, size + 2);
          const b = await uploadAll(context, { x, scale, bias });
          const out = {
            y: await zeros(context, 'y', x.length),
            mean: await zeros(context, 'mean', rows),
            invStdDev: await zeros(context, 'r', rows),
          };
          await runDispatches(context, label, [await layerNormForward(context, { ...b, ...out }, dims)]);
          const expected = layerNormReference.layerNormForward(x, scale, bias, shape);
          const cond = Math.max(1, maxAbs(x) * maxAbs(expected.invStdDev)) * maxAbs(scale);
          expectAllClose(await read(context, out.y, x.length), expected.y, { abs: 64 * EPS * cond, rel: 0 }, `${label} y`);
          expectAllClose(await read(context, out.mean, rows), expected.mean, { abs: 64 * EPS * maxAbs(x), rel: 0 }, `${label} mean`);
          expectAllClose(await read(context, out.invStdDev, rows), expected.invStdDev, { abs: 0, rel: 64 * EPS }, `${label} 1/σ`);

          const mean = Float32Array.from(expected.mean);
          const invStdDev = Float32Array.from(expected.invStdDev);
          const gradY = randomTensor(x.length, size + 3);
          const g = await uploadAll(context, { x, scale, mean, invStdDev, gradY, gradX: new Float32Array(x.length) });
          await runDispatches(context, `${label} backward`, [await layerNormBackward(context, g, dims)]);
          const expectedDx = layerNormReference.layerNormBackward(x, scale, mean, invStdDev, gradY, shape);
          const condDx = cond * maxAbs(invStdDev);
          expectAllClose(await read(context, g.gradX, x.length), expectedDx, { abs: 64 * EPS * condDx, rel: 0 }, `${label} backward`);
        }
      });
    }
  });
}

// A probe on the library itself: rows of ROW_THREADS lanes, each lane contributing local + 1 to a sum and a scrambled
// value to a maximum, with the subgroup size known in advance (SUBGROUP_SIZE, unrolled loops) and read at run time (0).
const PROBE = `enable subgroups;
override ROW_THREADS: u32 = 1u;
@group(0) @binding(0) var<storage, read_write> sums: array<f32>;
@group(0) @binding(1) var<storage, read_write> maxima: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<f32>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn probe(@builtin(local_invocation_index) local: u32) {
  let sum = row_sum(local, f32(local + 1u));
  let maximum = row_max(local, f32((local * 37u) % 101u));
  // Values with ties (local % 5): the first index of the maximum wins; odd lanes offer nothing (as the seed's lanes
  // past the row's end: the lowest value and no index).
  let odd = local % 2u == 1u;
  let top = row_argmax(local, select(f32(local % 5u), -3.4028234663852886e38, odd), select(local, 0xffffffffu, odd));
  argmax[local] = f32(top.y) + 1000.0 * bitcast<f32>(top.x);
  let again = row_sum(local, sum); // a second call reuses the workgroup memory of the first
  sums[local] = again / f32(ROW_THREADS);
  maxima[local] = maximum;
}
// uses: grid
// uses: row-reduce-subgroups
// uses: row-ops
`;

describe('shaders/lib/row-reduce-subgroups.wgsl', () => {
  it('finds this device fit for the subgroup kernels (src/gpu/subgroups.ts)', async (test) => {
    const context = await contextFor(SOFTWARE_ADAPTERS[0]!.name);
    if (!context.device.features.has('subgroups')) test.skip(`${SOFTWARE_ADAPTERS[0]!.name} has no subgroups feature`);
    expect(context.report.subgroupKernels, context.report.note).toBe(true);
  });

  for (const known of [true, false]) {
    it(`sums and maxima over rows of 2..${WORKGROUP_SIZE} lanes, subgroup size ${known ? 'known in advance' : 'read at run time'}`, async (test) => {
      const context = await contextFor(SOFTWARE_ADAPTERS[0]!.name);
      if (!context.report.subgroupKernels) test.skip(`${SOFTWARE_ADAPTERS[0]!.name} has no usable subgroups`);
      if (known && context.report.subgroupSizes?.[0] !== context.report.subgroupSizes?.[1]) test.skip('the adapter has several subgroup sizes');
      context.kernels.define('row-reduce-probe', PROBE);
      for (let rowThreads = 2; rowThreads <= WORKGROUP_SIZE; rowThreads *= 2) {
        const overrides = { ROW_THREADS: rowThreads, SUBGROUP_SIZE: known ? context.report.subgroupSizes![0] : 0 };
        const kernel = await context.kernels.kernel('row-reduce-probe', 'probe', overrides);
        const b = await uploadAll(context, {
          sums: new Float32Array(WORKGROUP_SIZE),
          maxima: new Float32Array(WORKGROUP_SIZE),
          argmax: new Float32Array(WORKGROUP_SIZE),
        });
        await runDispatches(context, 'probe', [{ bound: kernel.bind(context.device, b), workgroups: [1, 1, 1], iterations: 0 }]);
        const sums = await read(context, b.sums, WORKGROUP_SIZE);
        const maxima = await read(context, b.maxima, WORKGROUP_SIZE);
        const expectedSums = Array.from({ length: WORKGROUP_SIZE }, (_, local) => {
          const first = local - (local % rowThreads);
          return rowThreads * (first + 1) + (rowThreads * (rowThreads - 1)) / 2;
        });
        const expectedMaxima = Array.from({ length: WORKGROUP_SIZE }, (_, local) => {
          const first = local - (local % rowThreads);
          return Math.max(...Array.from({ length: rowThreads }, (_, k) => ((first + k) * 37) % 101));
        });
        expect([...sums], `sums, ${rowThreads} per row`).toEqual(expectedSums);
        expect([...maxima], `maxima, ${rowThreads} per row`).toEqual(expectedMaxima);
        const expectedArgmax = Array.from({ length: WORKGROUP_SIZE }, (_, local) => {
          const first = local - (local % rowThreads);
          const lanes = Array.from({ length: rowThreads / 2 }, (_, k) => first + 2 * k); // the even ones offer an index
          const best = Math.max(...lanes.map((lane) => lane % 5));
          return lanes.find((lane) => lane % 5 === best)! + 1000 * best;
        });
        expect([...(await read(context, b.argmax, WORKGROUP_SIZE))], `argmax, ${rowThreads} per row`).toEqual(expectedArgmax);
      }
    });
  }
});

describe('subgroups option', () => {
  it('is on by default where the feature is, and `false` does not even request the feature', async () => {
    const chosen = await GpuContext.open({ backend: 'vulkan' });
    const off = await GpuContext.open({ backend: 'vulkan', subgroups: false });
    try {
      expect(chosen.report.subgroupKernels).toBe(chosen.device.features.has('subgroups'));
      expect(off.device.features.has('subgroups')).toBe(false);
      expect(off.report.subgroupKernels).toBe(false);
      expect(off.kernels.variant('softmax')).toBe('softmax');
      off.kernels.subgroups = true; // not without the feature
      expect(off.kernels.variant('softmax')).toBe('softmax');
      expect(chosen.report.shaderF16).toBe(chosen.adapter.features.has('shader-f16'));
    } finally {
      chosen.destroy();
      off.destroy();
    }
  });
});
