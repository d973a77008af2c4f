import { readFloats, upload } from './buffers.ts';
import { CommandBatch, gridFor } from './commands.ts';
import type { GpuContext } from './device.ts';

/** Runs a real kernel (ReLU forward and backward) and checks it against plain arithmetic: proves the device computes. */
export async function selfTest(context: GpuContext): Promise<{ ok: boolean; detail: string }> {
  const { device, kernels } = context;
  const count = 1000;
  const x = Float32Array.from({ length: count }, (_, i) => (i % 7) - 3 + i / count);
  const gradY = Float32Array.from({ length: count }, (_, i) => (i % 5) - 2);
  const [forward, backward] = await Promise.all([
    kernels.kernel('activation', 'activation_forward'),
    kernels.kernel('activation', 'activation_backward'),
  ]);
  const buffers = await Promise.all([x, new Float32Array(count), gradY, new Float32Array(count)].map((data, i) => upload(device, `self-test ${i}`, data)));
  const [bx, by, bgy, bgx] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const params = { count, alpha: 0, beta: 0 };
  await new CommandBatch(device, 'self-test')
    .dispatch(forward.bind(device, { params, x: bx, y: by }), gridFor(count, 256))
    .dispatch(backward.bind(device, { params, x: bx, grad_y: bgy, grad_x: bgx }), gridFor(count, 256))
    .submit();
  const [y, gradX] = await Promise.all([readFloats(device, by, count), readFloats(device, bgx, count)]);
  buffers.forEach((buffer) => buffer.destroy());
  const wrong = x.reduce((n, v, i) => n + Number(y[i] !== Math.max(v, 0) || gradX[i] !== (v > 0 ? gradY[i]! : 0)), 0);
  return { ok: wrong === 0, detail: wrong === 0 ? `ReLU forward and backward on ${count} values: exact` : `${wrong} of ${count} values wrong` };
}
