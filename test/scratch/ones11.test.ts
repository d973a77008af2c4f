import { it } from 'vitest';
import { gemm } from '../../src/kernels/gemm.ts';
import { GpuContext } from '../../src/gpu/index.ts';
import { read, runDispatches, uploadAll } from '../helpers/run.ts';

it('ones', async () => {
  const backend = (process.env.GRADLENS_BACKEND ?? 'vulkan') as 'vulkan' | 'opengles';
  const ctx = await GpuContext.open({ backend });
  for (const spec of (process.env.CASES ?? '20000,0,0').split(';')) {
    const [k, transB, tileK] = spec.split(',').map(Number) as [number, number, number];
    const io = await uploadAll(ctx, { a: new Float32Array(k).fill(1), b: new Float32Array(k).fill(1), c: new Float32Array(1) });
    await runDispatches(ctx, "t", await gemm(ctx, io, { m: 1, n: 1, k, transB: transB === 1, ...(tileK ? { tile: { tileK } } : {}) }));
    const c = await read(ctx, io.c, 1);
    console.log(backend, spec, 'sum', c[0]);
  }
  ctx.destroy();
}, 600_000);
