// NCHW spatial ops' shared attribute parsing: Conv, the pools and Resize read their windows the same way.
import type { Dispatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpContext } from '../op.ts';

export type Pair = [number, number];

/**
 * A 1-D op (NCL: audio, text) as the 2-D one over NC1L, the same memory: its input shape with a height of 1 and its
 * window attributes with a height-1 entry in front. 2-D shapes come back unchanged.
 */
export function lifted(shape: Shape, node: GraphNode): { shape: Shape; node: GraphNode } {
  if (shape.length !== 3) return { shape, node };
  const attributes = { ...node.attributes };
  const prepend = (name: string, value: number) => {
    const given = node.attributes[name] as readonly number[] | undefined;
    if (given) attributes[name] = [value, ...given];
  };
  prepend('kernel_shape', 1);
  prepend('strides', 1);
  prepend('dilations', 1);
  prepend('output_padding', 0);
  prepend('output_shape', 1);
  const pads = node.attributes.pads as readonly number[] | undefined;
  if (pads) attributes.pads = [0, pads[0]!, 0, pads[1]!];
  return { shape: [shape[0]!, shape[1]!, 1, shape[2]!], node: { ...node, attributes } };
}

/** The output shape of a lifted op, back in the input's rank. */
export const unlifted = (input: Shape, output: Shape): Shape => (input.length === 3 ? [output[0]!, output[1]!, output[3]!] : output);
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

export function spatial(given: Shape, node: GraphNode): { batch: number; channels: number; height: number; width: number } {
  const shape = lifted(given, node).shape;
  if (shape.length !== 4)
    throw new GradlensError('UNSUPPORTED_OP', `${node.op} "${node.name}": only 2-D spatial (NCHW) inputs are supported, got rank ${shape.length}`);
  return { batch: shape[0]!, channels: shape[1]!, height: shape[2]!, width: shape[3]! };
}

/** The one dispatch of input 0's gradient, or none when nothing needs it. */
export function backwardOf(c: OpContext, run: (target: { buffer: GPUBuffer; accumulate: boolean }) => Promise<Dispatch>) {
  const target = c.inputGradient(0);
  return target ? run(target).then((d) => [d]) : Promise.resolve([]);
}
