import { it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { Model } from '../../src/graph/model.ts';
import { GpuContext } from '../../src/gpu/index.ts';
import { referenceForward } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

it('gemm sweep', async () => {
  const backend = (process.env.GRADLENS_BACKEND ?? 'vulkan') as 'vulkan' | 'opengles';
  const ctx = await GpuContext.open({ backend });
  for (const spec of (process.env.KN ?? '16384x64').split(',')) {
    const [k, n] = spec.split('x').map(Number) as [number, number];
    const b = new GraphBuilder('g', 3);
    const x = b.input([k]);
    const graph = b.build(b.gemm(x, n));
    const model = await Model.create(ctx, graph);
    const plan = await model.plan({ batch: 1, seed: 'tensor' });
    const input = randomTensor(k, 31, 1); const [lo, hi] = (process.env.WIN ?? `0,${k}`).split(',').map(Number) as [number, number]; input.forEach((_, i) => { if (i < lo || i >= hi) input[i] = 0; });
    const want = referenceForward(graph, input, 1).get(graph.output)!;
    const got = await plan.run({ input, seed: new Float32Array(n).fill(1) });
    let peak = 0; for (const v of want) peak = Math.max(peak, Math.abs(v));
    let err = 0; got.output.forEach((v, i) => { err = Math.max(err, Math.abs(v - want[i]!)); });
    console.log(backend, spec, 'bytes', k * n * 4, 'err/peak', (err / peak).toExponential(2));
    plan.destroy(); model.destroy();
  }
  ctx.destroy();
}, 600_000);
