import { GradlensError } from '../../gpu/errors.ts';
import { resizeBackward, resizeForward, type ResizeDims } from '../../kernels/resize.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpDefinition } from '../op.ts';
import { backwardOf, spatial } from './window.ts';

/** ONNX Resize on the spatial axes: output size from the constant `sizes` (input 3) or `scales` (input 2). */
function resizeDims(shape: Shape, node: GraphNode, constant: (index: number) => Float32Array | undefined): ResizeDims {
  const base = spatial(shape, node);
  const sizes = node.inputs[3] ? constant(3) : undefined;
  const scales = node.inputs[2] ? constant(2) : undefined;
  let out: number[];
  if (sizes && sizes.length === 4) out = Array.from(sizes);
  else if (scales && scales.length === 4) out = shape.map((dim, i) => Math.floor(dim * scales[i]!));
  else throw new GradlensError('UNSUPPORTED_OP', `Resize "${node.name}": needs constant 4-D sizes or scales`);
  // sizes[0] was the batch at export time; the plan's batch replaces it.
  if (out[1] !== base.channels) throw new GradlensError('UNSUPPORTED_OP', `Resize "${node.name}": only the spatial axes may be resized`);
  return {
    batch: base.batch,
    channels: base.channels,
    inHeight: base.height,
    inWidth: base.width,
    outHeight: out[2]!,
    outWidth: out[3]!,
    mode: attribute(node, 'mode', 'nearest') as ResizeDims['mode'],
    coordinateTransformationMode: attribute(node, 'coordinate_transformation_mode', 'half_pixel') as ResizeDims['coordinateTransformationMode'],
    nearestMode: attribute(node, 'nearest_mode', 'round_prefer_floor') as ResizeDims['nearestMode'],
  };
}

const resize: OpDefinition = {
  shape: ([x], node, constant) => {
    const d = resizeDims(x!, node, constant);
    return [[d.batch, d.channels, d.outHeight, d.outWidth]];
  },
  forward: async (c) => [await resizeForward(c.gpu, { x: c.input(0), y: c.output(0) }, resizeDims(c.inputShapes[0]!, c.node, c.constantData))],
  backward: (c) =>
    backwardOf(c, (t) =>
      resizeBackward(
        c.gpu,
        { gradY: c.outputGradient(0), gradX: t.buffer },
        { ...resizeDims(c.inputShapes[0]!, c.node, c.constantData), accumulate: t.accumulate },
      ),
    ),
};

export const resizeOps: Record<string, OpDefinition> = {
  Resize: resize,
};
