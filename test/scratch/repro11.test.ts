import { it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { Model } from '../../src/graph/model.ts';
import { GpuContext } from '../../src/gpu/index.ts';
import { referenceForward } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

function cnn(size: number, stop = 99) {
  const b = new GraphBuilder('issue11', 7);
  let x = b.input([3, size, size]);
  const steps = [
    () => (x = b.conv(x, { channels: 8, kernel: 3 })),
    () => (x = b.relu(x)),
    () => (x = b.maxPool(x, { kernel: 2 })),
    () => (x = b.relu(b.conv(x, { channels: 16, kernel: 3 }))),
    () => (x = b.maxPool(x, { kernel: 2 })),
    () => (x = b.node('Transpose', [x], { perm: [0, 2, 3, 1] })),
    () => (x = b.node('Flatten', [x], { axis: 1 })),
    () => (x = b.relu(b.gemm(x, 64))),
    () => (x = b.gemm(x, 10)),
  ];
  steps.slice(0, stop).forEach((s) => s());
  return b.build(x);
}

it('sweep', async () => {
  const backend = (process.env.GRADLENS_BACKEND ?? 'vulkan') as 'vulkan' | 'opengles';
  const ctx = await GpuContext.open({ backend });
  for (const size of (process.env.SIZES ?? '56,112,168').split(',').map(Number)) {
   for (const stop of (process.env.STOPS ?? '9').split(',').map(Number)) {
    const graph = cnn(size, stop);
    const model = await Model.create(ctx, graph);
    const plan = await model.plan({ batch: 1, seed: 'tensor' });
    const input = randomTensor(3 * size * size, 31, 1);
    const want = referenceForward(graph, input, 1).get(graph.output)!;
    const got = await plan.run({ input, seed: new Float32Array(model.outputShape.reduce((a, b) => a * b, 1)).fill(1) });
    let peak = 0; for (const v of want) peak = Math.max(peak, Math.abs(v));
    let err = 0, where = -1; got.output.forEach((v, i) => { const e = Math.abs(v - want[i]!); if (e > err) { err = e; where = i; } }); let first = got.output.findIndex((v, i) => Math.abs(v - want[i]!) > 1e-4 * peak);
    console.log(backend, size, stop, got.output.length, 'max err / peak', (err / peak).toExponential(2), 'at', where, 'first', first, Array.from(got.output.slice(0, 4), (v) => v.toFixed(4)).join(' '), '|', Array.from(want.slice(0, 4), (v) => v.toFixed(4)).join(' '));
    plan.destroy(); model.destroy(); }
  }
  ctx.destroy();
}, 600_000);
