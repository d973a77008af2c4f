// Kernel and network benchmarks on whatever adapter Dawn finds: GFLOP/s for GEMM and ResNet-18 convolutions, and
// a full forward + backward of the ResNet-18-shaped model. Usage: node dist/node/bench.js [--out DIR] [--quick|--full]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { allocate } from '../src/gpu/buffers.ts';
import { CommandBatch, type Dispatch } from '../src/gpu/commands.ts';
import { GpuContext } from '../src/gpu/device.ts';
import { conv2dForward, conv2dBackwardInput, conv2dOutputSize, type Conv2dDims } from '../src/kernels/conv2d.ts';
import { gemm } from '../src/kernels/gemm.ts';
import { Model } from '../src/graph/model.ts';
import { resnet18 } from '../src/graph/models.ts';
import { uniform, rng } from '../src/graph/random.ts';

interface Row {
  name: string;
  ms: number;
  gflops?: number;
  note?: string;
}

const { values } = parseArgs({ options: { out: { type: 'string' }, quick: { type: 'boolean', default: false }, full: { type: 'boolean', default: false }, backend: { type: 'string' } } });
const gpu = await GpuContext.open(values.backend ? { backend: values.backend as 'vulkan' } : {});
const software = gpu.report.software;
// Full sizes (batch 32, 224×224) on hardware or with --full; reduced on a software adapter unless asked.
const quick = values.quick || (software && !values.full);
const rows: Row[] = [];

/** Median wall time of one submit of `dispatches`, after a warm-up; every submit waits for the queue to drain. */
async function time(dispatches: Dispatch[], repeats: number): Promise<number> {
  const batch = new CommandBatch(gpu.device, 'bench').add(...dispatches);
  await batch.submit();
  await gpu.device.queue.onSubmittedWorkDone();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    gpu.device.queue.submit([batch.encode()]);
    await gpu.device.queue.onSubmittedWorkDone();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

async function filled(label: string, count: number, seed: number): Promise<GPUBuffer> {
  const [buffer] = await allocate(gpu.device, [{ label, size: count * 4 }]);
  gpu.device.queue.writeBuffer(buffer!, 0, uniform(rng(seed), count, 1) as Float32Array<ArrayBuffer>);
  return buffer!;
}

for (const size of quick ? [256, 512] : [512, 1024, 2048]) {
  const [a, b, c] = await Promise.all([filled('a', size * size, 1), filled('b', size * size, 2), filled('c', size * size, 3)]);
  const ms = await time(await gemm(gpu, { a, b, c }, { m: size, n: size, k: size }), quick ? 3 : 10);
  rows.push({ name: `gemm ${size}×${size}×${size}`, ms, gflops: (2 * size ** 3) / ms / 1e6 });
  [a, b, c].forEach((buffer) => buffer.destroy());
}

// ResNet-18's 3×3 convolutions, one per stage, at the batch the issue names (fewer on a software adapter).
const convBatch = quick ? 4 : 32;
const stages: [number, number][] = [[64, 56], [128, 28], [256, 14], [512, 7]];
for (const [channels, side] of stages) {
  const dims: Conv2dDims = { batch: convBatch, inChannels: channels, height: side, width: side, outChannels: channels, kernelHeight: 3, kernelWidth: 3, pads: [1, 1, 1, 1] };
  const [oh, ow] = conv2dOutputSize(dims);
  const flops = 2 * convBatch * channels * oh * ow * channels * 9;
  const x = await filled('x', convBatch * channels * side * side, 4);
  const w = await filled('w', channels * channels * 9, 5);
  const y = await filled('y', convBatch * channels * oh * ow, 6);
  const forward = await time([await conv2dForward(gpu, { x, w, y }, dims)], quick ? 2 : 5);
  rows.push({ name: `conv 3×3 ${channels}→${channels} ${side}×${side} batch ${convBatch} forward`, ms: forward, gflops: flops / forward / 1e6 });
  const backward = await time([await conv2dBackwardInput(gpu, { gradY: y, w, gradX: x }, dims)], quick ? 2 : 5);
  rows.push({ name: `conv 3×3 ${channels}→${channels} ${side}×${side} batch ${convBatch} backward input`, ms: backward, gflops: flops / backward / 1e6 });
  [x, w, y].forEach((buffer) => buffer.destroy());
}

// Layout probe: a 1×1 convolution is a plain GEMM in NHWC ([N·H·W, Cin]·[Cin, Cout]) but a strided gather in NCHW.
{
  const [n, cin, cout, side] = [convBatch, 64, 256, 28];
  const flops = 2 * n * side * side * cin * cout;
  const x = await filled('x', n * cin * side * side, 8);
  const w = await filled('w', cout * cin, 9);
  const y = await filled('y', n * cout * side * side, 10);
  const dims: Conv2dDims = { batch: n, inChannels: cin, height: side, width: side, outChannels: cout, kernelHeight: 1, kernelWidth: 1 };
  const nchw = await time([await conv2dForward(gpu, { x, w, y }, dims)], quick ? 3 : 10);
  rows.push({ name: `1×1 conv ${cin}→${cout} ${side}×${side} batch ${n}, NCHW (conv kernel)`, ms: nchw, gflops: flops / nchw / 1e6 });
  const nhwc = await time(await gemm(gpu, { a: x, b: w, c: y }, { m: n * side * side, n: cout, k: cin, transB: true }), quick ? 3 : 10);
  rows.push({ name: `1×1 conv ${cin}→${cout} ${side}×${side} batch ${n}, NHWC (as GEMM)`, ms: nhwc, gflops: flops / nhwc / 1e6 });
  [x, w, y].forEach((buffer) => buffer.destroy());
}

// The whole network: forward, seed of the top-1 logit, backward to the input, one readback.
const netBatch = quick ? 4 : 32;
const netSize = quick ? 64 : 224;
const model = await Model.create(gpu, resnet18({ inputSize: netSize, classes: 1000 }));
const plan = await model.plan({ batch: netBatch });
const input = uniform(rng(7), netBatch * 3 * netSize * netSize, 1);
await plan.run({ input });
const runs: number[] = [];
for (let i = 0; i < (quick ? 2 : 5); i++) {
  const start = performance.now();
  await plan.run({ input });
  runs.push(performance.now() - start);
}
const netMs = runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
rows.push({ name: `resnet18 ${netSize}×${netSize} batch ${netBatch} forward+backward`, ms: netMs, note: `${((netBatch * 1000) / netMs).toFixed(1)} images/s, ${(plan.slotBytes / 2 ** 20).toFixed(0)} MiB of activations` });

const adapter = `${gpu.report.description || gpu.report.device} (${gpu.report.vendor}, ${gpu.report.backend}${software ? ', software' : ''})`;
console.log(`gradlens bench on ${adapter}${quick ? ' — reduced sizes' : ''}`);
for (const row of rows) {
  console.log(`${row.name.padEnd(58)} ${row.ms.toFixed(1).padStart(9)} ms${row.gflops ? `  ${row.gflops.toFixed(2).padStart(8)} GFLOP/s` : ''}${row.note ? `  ${row.note}` : ''}`);
}
if (values.out) {
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'bench.json'), JSON.stringify({ adapter: gpu.report, quick, rows }, null, 2));
}
gpu.destroy();
