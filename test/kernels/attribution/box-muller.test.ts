import { describe, expect, it } from 'vitest';
import { readFloats, upload } from '../../../src/gpu/buffers.ts';
import { withLibraries } from '../../../src/gpu/shader-sources.ts';
import { testContext } from '../../helpers/gpu.ts';

// shaders/lib/philox.wgsl's normal draw and its ln and cos, one invocation per argument, read back as f32.
const PROBE = `
// uses: philox
@group(0) @binding(0) var<storage, read> words: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x >= arrayLength(&words)) { return; }
  let w = words[id.x];
  out[id.x] = vec4<f32>(box_muller(w.x, w.y), log_unit(unit(w.x)), cos_turns(unit(w.y)), 0.0);
}`;

async function probe(words: Uint32Array): Promise<Float32Array> {
  const { device } = await testContext();
  const pipeline = await device.createComputePipelineAsync({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: withLibraries(PROBE) }), entryPoint: 'probe' },
  });
  const count = words.length / 2;
  const input = await upload(device, 'words', words);
  const out = device.createBuffer({ size: count * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: input } },
      { binding: 1, resource: { buffer: out } },
    ],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(count / 64));
  pass.end();
  device.queue.submit([encoder.finish()]);
  const result = await readFloats(device, out, count * 4);
  input.destroy();
  out.destroy();
  return result;
}

const unit = (word: number) => ((word >>> 8) + 1) / 2 ** 24;
/** A word whose unit() is (k + 1)/2²⁴. */
const wordOf = (k: number) => (k * 256) >>> 0;

describe('box_muller: the normal draw of every random method, to f32 accuracy on any device', () => {
  // The extremes of u₀ (2⁻²⁴, and 1 where ln u = 0 and z = 0), u₀ just below 1 (ln u tiny: WGSL's log may err by
  // 2⁻²¹ absolute there), u₁ at the quarter turns and their midpoints, and a spread of words.
  const special = [0, 1, 2, 1000, 2 ** 23 - 1, 2 ** 23, 2 ** 24 - 3, 2 ** 24 - 2, 2 ** 24 - 1].map(wordOf);
  const quarters = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((j) => [-1, 0, 1].map((d) => wordOf((j * 2 ** 21 - 1 + d) % 2 ** 24)));
  const spread = Array.from({ length: 4000 }, (_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 0);
  const pairs: [number, number][] = [
    ...special.flatMap((a) => quarters.map((b): [number, number] => [a, b])),
    ...spread.map((a, i): [number, number] => [a, spread[(i * 7 + 3) % spread.length]!]),
  ];

  it('ln u within 2 ulps of ln u, cos 2πt within 1.2e-7, z within 4e-7·max(1, |z|), for every pair', async () => {
    const result = await probe(Uint32Array.from(pairs.flat()));
    const worst = { z: 0, log: 0, cos: 0 };
    pairs.forEach(([a, b], i) => {
      const [u0, u1] = [unit(a), unit(b)];
      const log = Math.log(u0);
      const cos = Math.cos(2 * Math.PI * u1);
      const z = Math.sqrt(-2 * log) * cos;
      worst.z = Math.max(worst.z, Math.abs(result[4 * i]! - z) / Math.max(1, Math.abs(z)));
      worst.log = Math.max(worst.log, Math.abs(result[4 * i + 1]! - log) / Math.max(Math.abs(log) * 2 ** -23, 2 ** -149));
      worst.cos = Math.max(worst.cos, Math.abs(result[4 * i + 2]! - cos));
    });
    expect(worst.log, 'ln u, in ulps of ln u').toBeLessThanOrEqual(2);
    expect(worst.cos, 'cos 2πt, absolute').toBeLessThanOrEqual(1.2e-7);
    expect(worst.z, 'z').toBeLessThanOrEqual(4e-7);
  });

  it("gives the CPU's exact values at u₀ = 1 (z = −0, as √(−2·0)) and cos = ±1 at whole and half turns", async () => {
    const result = await probe(Uint32Array.from([wordOf(2 ** 24 - 1), wordOf(2 ** 24 - 1), wordOf(2 ** 23 - 1), wordOf(2 ** 23 - 1)]));
    expect([result[0], result[1], result[2]]).toEqual([Math.sqrt(-2 * Math.log(1)), 0, 1]);
    expect(result[6]).toBe(-1);
  });
});
