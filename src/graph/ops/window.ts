// NCHW spatial ops' shared attribute parsing: Conv, the pools and Resize read their windows the same way.
import type { Dispatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpContext } from '../op.ts';

export type Pair = [number, number];
type Pads = [number, number, number, number];

/**
 * Explicit [top, left, bottom, right] pads from ONNX's `pads` or `auto_pad` (SAME_UPPER puts the odd pad at the end,
 * SAME_LOWER at the start; VALID is none). Shared by pooling and convolution.
 */
export function explicitPads(node: GraphNode, input: Pair, kernel: Pair, strides: Pair, dilations: Pair): Pads {
  const autoPad = attribute<string>(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = attribute<readonly number[]>(node, 'pads', [0, 0, 0, 0]);
    return [pads[0]!, pads[1]!, pads[2]!, pads[3]!];
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  const total = (a: 0 | 1) => Math.max(0, (Math.ceil(input[a] / strides[a]) - 1) * strides[a] + (kernel[a] - 1) * dilations[a] + 1 - input[a]);
  const [h, w] = [total(0), total(1)];
  const small = (t: number) => Math.floor(t / 2);
  return autoPad === 'SAME_LOWER' ? [h - small(h), w - small(w), small(h), small(w)] : [small(h), small(w), h - small(h), w - small(w)];
}

export function spatial(shape: Shape, node: GraphNode): { batch: number; channels: number; height: number; width: number } {
  if (shape.length !== 4) throw new GradlensError('UNSUPPORTED_OP', `${node.op} "${node.name}": only 2-D spatial (NCHW) inputs are supported, got rank ${shape.length}`);
  return { batch: shape[0]!, channels: shape[1]!, height: shape[2]!, width: shape[3]! };
}

/** The one dispatch of input 0's gradient, or none when nothing needs it. */
export function backwardOf(c: OpContext, run: (target: { buffer: GPUBuffer; accumulate: boolean }) => Promise<Dispatch>) {
  const target = c.inputGradient(0);
  return target ? run(target).then((d) => [d]) : Promise.resolve([]);
}
