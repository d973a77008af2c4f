import { readdirSync } from 'node:fs';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { describe, expect, it, vi } from 'vitest';
import { allocate, CommandBatch, readback, setDebugDispatch, shaderSources, upload, type GradlensError } from '../../src/gpu/index.ts';
import { fromGpuError } from '../../src/gpu/errors.ts';
import { testContext } from '../helpers/gpu.ts';

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('should have thrown'),
    (error: GradlensError) => error,
  );

describe('kernel registry', () => {
  it('sees every file in shaders/', () => {
    const paths = readdirSync(new URL('../../shaders/', import.meta.url), { recursive: true, encoding: 'utf8' });
    const files = paths.filter((f) => f.endsWith('.wgsl') && !f.startsWith('lib/')).map((f) => f.replace(/^.*\//, '').slice(0, -5));
    expect(Object.keys(shaderSources).sort()).toEqual(files.sort());
  });

  it('compiles every module in shaders/ and builds a pipeline for each of its entry points', async () => {
    const { kernels } = await testContext();
    for (const name of Object.keys(shaderSources)) {
      for (const entry of new WgslReflect(shaderSources[name]!).entry.compute) {
        await expect(kernels.kernel(name, entry.name), `${name}/${entry.name}`).resolves.toBeDefined();
      }
    }
  });

  it('reports a broken module with its name and the line of the error', async () => {
    const { kernels } = await testContext();
    kernels.define('broken_kernel', '@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_thing;\n}\n');
    const error = await rejection(kernels.kernel('broken_kernel', 'main'));
    expect(error.code).toBe('SHADER_COMPILE');
    expect(error.message).toMatch(/broken_kernel/);
    expect(error.message).toMatch(/shaders\/broken_kernel\.wgsl:3:/);
  });

  it('names the kernel when a pipeline is invalid', async () => {
    const { kernels } = await testContext();
    // Compiles as a module, but a workgroup of 4096 invocations exceeds every adapter's limit.
    kernels.define('too_wide', '@compute @workgroup_size(4096)\nfn too_wide_main() {}\n');
    const error = await rejection(kernels.kernel('too_wide', 'too_wide_main'));
    expect(error.code).toBe('PIPELINE_INVALID');
    expect(error.message).toMatch(/too_wide\/too_wide_main/);
  });

  it('refuses unknown modules, entry points and override constants', async () => {
    const { kernels } = await testContext();
    expect((await rejection(kernels.kernel('no_such_module', 'main'))).code).toBe('UNKNOWN_KERNEL');
    expect((await rejection(kernels.kernel('activation', 'no_such_entry'))).message).toMatch(/activation_forward/);
    expect((await rejection(kernels.kernel('activation', 'activation_forward', { NOT_AN_OVERRIDE: 1 }))).code).toBe('BAD_PARAMS');
  });

  it('caches pipelines by module, entry point and override constants', async () => {
    const { kernels } = await testContext();
    const a = await kernels.kernel('activation', 'activation_forward', { OP: 3 });
    expect(await kernels.kernel('activation', 'activation_forward', { OP: 3 })).toBe(a);
    expect(await kernels.kernel('activation', 'activation_forward', { OP: 4 })).not.toBe(a);
  });
});

describe('uniform parameters by member name', () => {
  // The kernel copies each member to the output, so what comes back shows every offset and stride was right.
  const echo = `
struct Params { count: u32, scale: f32, shape: vec4<u32>, origin: vec3<f32>, sign: i32, steps: array<vec4<i32>, 2>, last: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn echo_params() {
  out[0] = f32(params.count); out[1] = params.scale;
  for (var i = 0u; i < 4u; i++) { out[2u + i] = f32(params.shape[i]); }
  for (var i = 0u; i < 3u; i++) { out[6u + i] = params.origin[i]; }
  out[9] = f32(params.sign);
  for (var j = 0u; j < 2u; j++) { for (var i = 0u; i < 4u; i++) { out[10u + 4u * j + i] = f32(params.steps[j][i]); } }
  out[18] = params.last;
}`;
  const values = { count: 7, scale: 0.25, shape: [2, 3, 5, 7], origin: [-1.5, 2.5, 8], sign: -3, steps: [1, -2, 3, -4, 5, -6, 7, -8], last: 42.5 };

  it('writes every member at its reflected offset', async () => {
    const { device, kernels } = await testContext();
    kernels.define('echo', echo);
    const kernel = await kernels.kernel('echo', 'echo_params');
    const [out] = await allocate(device, [{ label: 'echo out', size: 19 * 4 }]);
    await new CommandBatch(device, 'echo').dispatch(kernel.bind(device, { params: values, out: out! }), 1, 0).submit();
    expect([...new Float32Array(await readback(device, out!))]).toEqual([7, 0.25, 2, 3, 5, 7, -1.5, 2.5, 8, -3, 1, -2, 3, -4, 5, -6, 7, -8, 42.5]);
  });

  it('refuses an unknown member, a missing member and a wrong length', async () => {
    const { device, kernels } = await testContext();
    kernels.define('echo', echo);
    const kernel = await kernels.kernel('echo', 'echo_params');
    const [out] = await allocate(device, [{ label: 'echo out', size: 19 * 4 }]);
    expect(() => kernel.bind(device, { params: { ...values, extra: 1 }, out: out! })).toThrow(/no uniform member "extra"/);
    const { last: _, ...missing } = values;
    expect(() => kernel.bind(device, { params: missing, out: out! })).toThrow(/"last" not given/);
    expect(() => kernel.bind(device, { params: { ...values, shape: [1, 2] }, out: out! })).toThrow(/"shape" takes 4/);
    expect(() => kernel.bind(device, { params: { ...values, count: -1 }, out: out! })).toThrow(/out of u32 range/);
    expect(() => kernel.bind(device, { params: values })).toThrow(/binding "out" not given/);
  });
});

describe('errors from the device', () => {
  it('a dispatch that fails validation throws an error naming its kernel', async () => {
    const { device, kernels } = await testContext();
    const kernel = await kernels.kernel('activation', 'activation_forward');
    const x = await upload(device, 'x', new Float32Array(8));
    const y = await upload(device, 'y', new Float32Array(8));
    const batch = new CommandBatch(device, 'relu batch').dispatch(kernel.bind(device, { params: { count: 8, alpha: 0, beta: 0 }, x, y }), 1, 0);
    y.destroy(); // submitting work that uses a destroyed buffer is a validation error
    const error = await rejection(batch.submit());
    expect(error.code).toBe('DISPATCH_INVALID');
    expect(error.message).toMatch(/activation\/activation_forward/);
  });

  it('a buffer larger than the device can bind is refused before allocation, naming the buffer', async () => {
    const { device } = await testContext();
    const size = device.limits.maxStorageBufferBindingSize + 4;
    const error = await rejection(allocate(device, [{ label: 'huge activations', size }]));
    expect(error.code).toBe('BUFFER_TOO_LARGE');
    expect(error.message).toMatch(/huge activations/);
  });

  it('an out-of-memory error scope becomes OUT_OF_MEMORY with advice', () => {
    const OutOfMemory = (globalThis as unknown as { GPUOutOfMemoryError: new (m: string) => GPUError }).GPUOutOfMemoryError;
    const error = fromGpuError(new OutOfMemory('allocation failed'), 'gradients chunk');
    expect(error.code).toBe('OUT_OF_MEMORY');
    expect(error.message).toMatch(/gradients chunk.*smaller batch/);
  });

  it('the debug switch prints each dispatch with its kernel, overrides and workgroups', async () => {
    const { device, kernels } = await testContext();
    const kernel = await kernels.kernel('activation', 'activation_forward', { OP: 3 });
    const x = await upload(device, 'x', new Float32Array(8));
    const y = await upload(device, 'y', new Float32Array(8));
    const lines: unknown[] = [];
    const log = vi.spyOn(console, 'error').mockImplementation((line) => lines.push(line));
    setDebugDispatch(true);
    try {
      await new CommandBatch(device, 'debug').dispatch(kernel.bind(device, { params: { count: 8, alpha: 0, beta: 0 }, x, y }), [2, 1, 1], 0).submit();
    } finally {
      setDebugDispatch(false);
      log.mockRestore();
    }
    expect(lines).toContain('[gradlens] dispatch activation/activation_forward {"OP":3} workgroups 2×1×1');
  });
});
