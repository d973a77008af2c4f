import { readFloats, upload } from '../gpu/buffers.ts';
import { activationBackward, activationForward } from './activation.ts';
import { CommandBatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';

/** Runs a real kernel (ReLU forward and backward) and checks it against plain arithmetic: proves the device computes. */
export async function selfTest(context: GpuContext): Promise<{ ok: boolean; detail: string }> {
  const { device } = context;
  const count = 1000;
  const x = Float32Array.from({ length: count }, (_, i) => (i % 7) - 3 + i / count);
  const gradY = Float32Array.from({ length: count }, (_, i) => (i % 5) - 2);
  const buffers = await Promise.all(
    [x, new Float32Array(count), gradY, new Float32Array(count)].map((data, i) => upload(device, `self-test ${i}`, data)),
  );
  const [bx, by, bgy, bgx] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  await new CommandBatch(device, 'self-test')
    .add(await activationForward(context, { x: bx, y: by }, { count, op: 'relu' }))
    .add(await activationBackward(context, { x: bx, gradY: bgy, gradX: bgx }, { count, op: 'relu' }))
    .submit();
  const [y, gradX] = await Promise.all([readFloats(device, by, count), readFloats(device, bgx, count)]);
  buffers.forEach((buffer) => buffer.destroy());
  const wrong = x.reduce((n, v, i) => n + Number(y[i] !== Math.max(v, 0) || gradX[i] !== (v > 0 ? gradY[i]! : 0)), 0);
  return { ok: wrong === 0, detail: wrong === 0 ? `ReLU forward and backward on ${count} values: exact` : `${wrong} of ${count} values wrong` };
}
