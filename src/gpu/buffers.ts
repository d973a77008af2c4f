import { GradlensError, fromGpuError } from './errors.ts';

export const STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST, as numbers so this loads before Dawn's globals

export interface BufferSpec {
  label: string;
  size: number;
  usage?: number;
}

/**
 * Allocates buffers under one out-of-memory scope, so a failed allocation is an error naming the
 * buffer rather than a device warning followed by garbage. Sizes are checked against the device first.
 */
export async function allocate(device: GPUDevice, specs: readonly BufferSpec[]): Promise<GPUBuffer[]> {
  const limit = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
  for (const spec of specs) {
    if (spec.size > limit) {
      throw new GradlensError(
        'BUFFER_TOO_LARGE',
        `buffer "${spec.label}" needs ${mib(spec.size)} but this device binds at most ${mib(limit)}: use a smaller batch or chunk size.`,
      );
    }
  }
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const buffers = specs.map((spec) => device.createBuffer({ label: spec.label, size: align4(Math.max(spec.size, 4)), usage: spec.usage ?? STORAGE }));
  const [invalid, outOfMemory] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
  const error = outOfMemory ?? invalid;
  if (error) {
    for (const buffer of buffers) buffer.destroy();
    throw fromGpuError(error, `allocating ${specs.map((s) => `"${s.label}" (${mib(s.size)})`).join(', ')}`);
  }
  return buffers;
}

/** A storage buffer holding `data`. */
export async function upload(device: GPUDevice, label: string, data: ArrayBufferView, usage = STORAGE): Promise<GPUBuffer> {
  const [buffer] = await allocate(device, [{ label, size: data.byteLength, usage }]);
  device.queue.writeBuffer(buffer!, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer!;
}

/** Copies `byteLength` bytes of a buffer back to the CPU: the one readback at the end of a job. */
export async function readback(device: GPUDevice, source: GPUBuffer, byteLength = source.size): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ label: `${source.label} readback`, size: align4(byteLength), usage: 0x01 | 0x08 }); // MAP_READ | COPY_DST
  const encoder = device.createCommandEncoder({ label: `${source.label} readback` });
  encoder.copyBufferToBuffer(source, 0, staging, 0, align4(byteLength));
  device.queue.submit([encoder.finish()]);
  try {
    await staging.mapAsync(0x01); // GPUMapMode.READ
  } catch (cause) {
    staging.destroy();
    throw new GradlensError('DEVICE_LOST', `reading back "${source.label}" failed (${String(cause)}); the device was lost, run again.`, { cause });
  }
  const bytes = staging.getMappedRange(0, align4(byteLength)).slice(0, byteLength);
  staging.unmap();
  staging.destroy();
  return bytes;
}

export async function readFloats(device: GPUDevice, source: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readback(device, source, count * 4));
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Live and peak GPU bytes on a device since `trackAllocations`: every buffer made and not yet destroyed. */
export interface AllocationTracker {
  readonly live: number;
  readonly peak: number;
  /** Starts the peak again: from now, the most bytes live just after a buffer is made (what was live before counts then). */
  resetPeak(): void;
  /** Stops tracking (buffers made before keep being counted when destroyed). */
  stop(): void;
}

/**
 * Counts the bytes of every buffer the device makes (any layer: plans, runs, uniforms, readbacks) until `stop`: how
 * tests and benches check that a call stays within its memory budget.
 */
export function trackAllocations(device: GPUDevice): AllocationTracker {
  const create = device.createBuffer;
  const state = { live: 0, peak: 0 };
  device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = create.call(this, descriptor);
    const destroy = buffer.destroy;
    let counted = true;
    state.live += buffer.size;
    state.peak = Math.max(state.peak, state.live);
    buffer.destroy = function (this: GPUBuffer) {
      if (counted) state.live -= buffer.size;
      counted = false;
      return destroy.call(this);
    };
    return buffer;
  };
  return {
    get live() {
      return state.live;
    },
    get peak() {
      return state.peak;
    },
    resetPeak() {
      state.peak = 0;
    },
    stop() {
      device.createBuffer = create;
    },
  };
}
