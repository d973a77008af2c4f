import { describe, expect, it } from 'vitest';
import { GpuContext, GpuRuntime, type GradlensError } from '../../src/gpu/index.ts';
import { selfTest } from '../../src/kernels/self-test.ts';
import { testContext } from '../helpers/gpu.ts';

describe('device', () => {
  it('reports the adapter: SwiftShader on a machine without a GPU, software, on Vulkan', async () => {
    const { report } = await testContext();
    expect(report.backend).toBe('vulkan');
    if (process.env.GRADLENS_EXPECT_SOFTWARE !== '0') {
      expect(report.software).toBe(true);
      expect(`${report.architecture} ${report.description}`).toMatch(/swiftshader/i);
    }
  });

  it("requests the adapter's own limits, not the WebGPU defaults", async () => {
    const { adapter, device, report } = await testContext();
    expect(device.limits.maxStorageBufferBindingSize).toBe(adapter.limits.maxStorageBufferBindingSize);
    expect(device.limits.maxBufferSize).toBe(adapter.limits.maxBufferSize);
    expect(device.limits.maxComputeInvocationsPerWorkgroup).toBe(adapter.limits.maxComputeInvocationsPerWorkgroup);
    expect(report.limits.maxStorageBufferBindingSize).toBe(adapter.limits.maxStorageBufferBindingSize);
  });

  it('uses every optional feature the adapter has, and reports them', async () => {
    const { adapter, device, report } = await testContext();
    const offered = ['shader-f16', 'timestamp-query', 'subgroups'].filter((name) => adapter.features.has(name));
    expect(report.features.sort()).toEqual(offered.sort());
    for (const name of offered) expect(device.features.has(name)).toBe(true);
    // shader-f16 is reported on its own: f16 weights are opt-in (AdapterOptions.precision), f32 by default.
    expect(report.shaderF16).toBe(adapter.features.has('shader-f16'));
    expect(report.precision).toBe('f32');
    expect(report.subgroupKernels).toBe(device.features.has('subgroups'));
  });

  it("precision 'f16' on an adapter without shader-f16 is DEVICE_LIMIT, saying what to use instead", async () => {
    const { report } = await testContext();
    if (report.shaderF16) return; // test/attribution/half-precision.test.ts runs f16 where the feature is
    const error = (await GpuContext.open({ precision: 'f16' }).catch((e: GradlensError) => e)) as GradlensError;
    expect(error.code).toBe('DEVICE_LIMIT');
    expect(error.message).toMatch(/precision 'f16' needs the shader-f16 feature.*use precision 'f32'/);
  });

  it('an unknown precision is BAD_PARAMS before any adapter is asked', async () => {
    const error = (await GpuContext.open({ precision: 'f64' as 'f32' }).catch((e: GradlensError) => e)) as GradlensError;
    expect(error.code).toBe('BAD_PARAMS');
    expect(error.message).toMatch(/precision must be 'f32' or 'f16', not "f64"/);
  });

  it('a backend with no adapter gives NO_ADAPTER with what to do', async () => {
    const error = (await GpuContext.open({ backend: 'd3d12' }).catch((e: GradlensError) => e)) as GradlensError;
    expect(error.code).toBe('NO_ADAPTER');
    expect(error.message).toMatch(/d3d12.*GRADLENS_BACKEND/);
  });

  it('after the device is lost, the next call gets a fresh working device', async () => {
    const runtime = new GpuRuntime();
    const first = await runtime.context();
    expect(await runtime.context()).toBe(first);
    first.device.destroy(); // the one way to lose a device on purpose
    await first.device.lost;
    expect(first.isLost).toBe(true);
    const second = await runtime.context();
    expect(second).not.toBe(first);
    expect((await selfTest(second)).ok).toBe(true);
    await runtime.close();
    await expect(runtime.context()).rejects.toMatchObject({ code: 'DEVICE_LOST' });
  });
});

describe('compatibility mode on OpenGL ES (Mesa llvmpipe)', () => {
  it('runs the same kernels within compatibility limits', async () => {
    const context = await GpuContext.open({ backend: 'opengles' });
    try {
      expect(context.report.featureLevel).toBe('compatibility');
      expect((await selfTest(context)).ok).toBe(true);
    } finally {
      context.destroy();
    }
  });
});
