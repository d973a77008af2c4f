// Whether this device's subgroups are what shaders/lib/row-reduce-subgroups.wgsl needs, found by running it once.
import { withLibraries } from './shader-sources.ts';

/** Bit 31 of the probe's word: a subgroup that was not an aligned block of consecutive local_invocation_index. */
const SCATTERED = 0x8000_0000;
const WORKGROUPS = 8;

// Each subgroup ORs into one word its size (a power of two: one bit), or SCATTERED where its lanes are not the aligned
// block [size·k, size·(k+1)) of local_invocation_index with subgroup_invocation_id = local % size. The workgroup is the
// kernels' (lib/grid's WORKGROUP_SIZE), 1-D.
const PROBE = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> word: atomic<u32>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn probe(@builtin(local_invocation_index) local: u32, @builtin(subgroup_size) size: u32,
         @builtin(subgroup_invocation_id) id: u32) {
  let block = local / size;
  let first = subgroupBroadcastFirst(block);
  let aligned = subgroupAll((id == local % size) & (block == first));
  if (id == 0u) { atomicOr(&word, select(${SCATTERED}u, size, aligned)); }
}
// uses: grid
`;

export interface SubgroupLayout {
  /** The subgroup size the probe met (one only), or undefined where sizes varied. */
  size?: number;
  /** Every subgroup an aligned block of consecutive invocations, all of one size: the subgroup kernels may run. */
  usable: boolean;
  word: number;
  /** Why the probe could not run. */
  error?: string;
}

/** Runs the probe on a device created with the `subgroups` feature (a few milliseconds: one tiny module). */
export async function probeSubgroups(device: GPUDevice): Promise<SubgroupLayout> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: 'subgroups probe', code: withLibraries(PROBE) });
  const pipeline = device.createComputePipeline({ label: 'subgroups probe', layout: 'auto', compute: { module, entryPoint: 'probe' } });
  const word = device.createBuffer({
    label: 'subgroups probe',
    size: 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const read = device.createBuffer({ label: 'subgroups probe read', size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: word } }] }));
  pass.dispatchWorkgroups(WORKGROUPS);
  pass.end();
  encoder.copyBufferToBuffer(word, 0, read, 0, 4);
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) return { usable: false, word: 0, error: error.message.trim() };
  await read.mapAsync(GPUMapMode.READ);
  const value = new Uint32Array(read.getMappedRange().slice(0))[0]!;
  read.unmap();
  read.destroy();
  word.destroy();
  const single = value !== 0 && (value & (value - 1)) === 0 && value !== SCATTERED;
  return { usable: single && value >= 4 && value <= 128, word: value, ...(single && value !== SCATTERED ? { size: value } : {}) };
}
