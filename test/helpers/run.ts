import { CommandBatch, readFloats, upload, type Dispatch, type GpuContext } from '../../src/gpu/index.ts';

/** Uploads named float tensors as storage buffers. */
export async function uploadAll<K extends string>(context: GpuContext, tensors: Record<K, ArrayLike<number>>): Promise<Record<K, GPUBuffer>> {
  const entries = await Promise.all(
    Object.entries<ArrayLike<number>>(tensors).map(
      async ([name, data]) => [name, await upload(context.device, name, Float32Array.from(data))] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<K, GPUBuffer>;
}

/** A zero-filled storage buffer of `count` floats. */
export function zeros(context: GpuContext, label: string, count: number): Promise<GPUBuffer> {
  return upload(context.device, label, new Float32Array(Math.max(count, 1)));
}

/** Submits the dispatches as one command buffer and waits. */
export async function runDispatches(context: GpuContext, label: string, dispatches: readonly Dispatch[]): Promise<void> {
  await new CommandBatch(context.device, label).add(...dispatches).submit();
}

export function read(context: GpuContext, buffer: GPUBuffer, count: number): Promise<Float32Array> {
  return readFloats(context.device, buffer, count);
}
