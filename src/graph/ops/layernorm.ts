import { layerNormBackward, layerNormDims, layerNormForward } from '../../kernels/layernorm.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { batchNormBackward, batchNormForward } from '../../kernels/channel.ts';
import { attribute, type GraphNode } from '../ir.ts';
import type { OpContext, OpDefinition } from '../op.ts';

/** LayerNormalization (opset 17) over the axes from `axis` on; mean and 1/σ per row are kept for the backward. */
const layerNormalization: OpDefinition = {
  shape: ([x]) => [x!],
  forward: async (c) => {
    const { rows, size } = layerNormDims(c.inputShapes[0]!, attribute(c.node, 'axis', -1));
    const io = {
      x: c.input(0),
      scale: c.input(1),
      ...(c.node.inputs[2] ? { bias: c.input(2) } : {}),
      y: c.output(0),
      mean: c.saved('mean', rows * 4),
      invStdDev: c.saved('inverse std', rows * 4),
    };
    return [await layerNormForward(c.gpu, io, { rows, size, epsilon: attribute(c.node, 'epsilon', 1e-5) })];
  },
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const { rows, size } = layerNormDims(c.inputShapes[0]!, attribute(c.node, 'axis', -1));
    const io = {
      x: c.input(0),
      scale: c.input(1),
      mean: c.saved('mean', rows * 4),
      invStdDev: c.saved('inverse std', rows * 4),
      gradY: c.outputGradient(0),
      gradX: target.buffer,
    };
    return [await layerNormBackward(c.gpu, io, { rows, size, epsilon: attribute(c.node, 'epsilon', 1e-5), accumulate: target.accumulate })];
  },
};

/**
 * InstanceNormalization and GroupNormalization: each (sample, group) is a layer-norm row (γ = 1), then γ and β per
 * channel as a channel affine. Instance normalisation is one group per channel; GroupNormalization's γ and β have one
 * value per group (opset 18) or per channel (opset 21).
 */
function grouped(groupsOf: (node: GraphNode, channels: number) => number): OpDefinition {
  const dims = (c: OpContext) => {
    const x = c.inputShapes[0]!;
    const channels = x[1]!;
    const groups = groupsOf(c.node, channels);
    if (x.length < 2 || !Number.isInteger(channels / groups)) {
      throw new GradlensError('BAD_MODEL', `${c.node.op} "${c.node.name}": ${channels} channels do not split into ${groups} groups`);
    }
    const count = x.reduce((a, b) => a * b, 1);
    return { shape: x, count, rows: x[0]! * groups, size: count / (x[0]! * groups), channels, groups, epsilon: attribute(c.node, 'epsilon', 1e-5) };
  };
  const buffers = (c: OpContext, d: ReturnType<typeof dims>) => ({
    ones: c.saved('ones', d.size * 4),
    normalized: c.saved('normalized', d.count * 4),
    mean: c.saved('mean', d.rows * 4),
    invStdDev: c.saved('inverse std', d.rows * 4),
    scale: c.saved('scale', d.channels * 4),
    shift: c.saved('shift', d.channels * 4),
  });
  return {
    shape: ([x]) => [x!],
    forward: async (c) => {
      const d = dims(c);
      const b = buffers(c, d);
      const perChannel = (index: number) => {
        const v = c.constantData(index);
        if (!v || (v.length !== d.channels && v.length !== d.groups)) {
          throw new GradlensError(
            'UNSUPPORTED_OP',
            `${c.node.op} "${c.node.name}": scale and bias must be constants with one value per channel or group`,
          );
        }
        return v.length === d.channels ? v : Float32Array.from({ length: d.channels }, (_, ch) => v[Math.floor((ch * d.groups) / d.channels)]!);
      };
      const write = (buffer: GPUBuffer, data: Float32Array) => c.gpu.device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
      write(b.ones, new Float32Array(d.size).fill(1));
      write(b.scale, perChannel(1));
      write(b.shift, perChannel(2));
      const rows = { rows: d.rows, size: d.size, epsilon: d.epsilon };
      return [
        await layerNormForward(c.gpu, { x: c.input(0), scale: b.ones, y: b.normalized, mean: b.mean, invStdDev: b.invStdDev }, rows),
        await batchNormForward(c.gpu, { x: b.normalized, scale: b.scale, shift: b.shift, y: c.output(0) }, { shape: d.shape }),
      ];
    },
    backward: async (c) => {
      const target = c.inputGradient(0);
      if (!target) return [];
      const d = dims(c);
      const b = buffers(c, d);
      const normalizedGradient = c.saved('normalized gradient', d.count * 4);
      const rows = { rows: d.rows, size: d.size, epsilon: d.epsilon, accumulate: target.accumulate };
      const io = { x: c.input(0), scale: b.ones, mean: b.mean, invStdDev: b.invStdDev, gradY: normalizedGradient, gradX: target.buffer };
      return [
        await batchNormBackward(c.gpu, { gradY: c.outputGradient(0), scale: b.scale, gradX: normalizedGradient }, { shape: d.shape }),
        await layerNormBackward(c.gpu, io, rows),
      ];
    },
  };
}

export const layerNormOps: Record<string, OpDefinition> = {
  LayerNormalization: layerNormalization,
  InstanceNormalization: grouped((_node, channels) => channels),
  GroupNormalization: grouped((node) => attribute(node, 'num_groups', 1)),
};
