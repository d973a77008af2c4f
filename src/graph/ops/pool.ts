import {
  averagePoolBackward,
  averagePoolForward,
  globalAveragePoolBackward,
  globalAveragePoolForward,
  maxPoolBackward,
  maxPoolForward,
  poolOutputSize,
  type PoolDims,
} from '../../kernels/pool.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpDefinition } from '../op.ts';
import { deepLiftMaxPool } from './deeplift.ts';
import { backwardOf, explicitPads, lifted, spatial, unlifted, type Pair } from './window.ts';

function poolDims(shape: Shape, given: GraphNode): PoolDims {
  const node = lifted(shape, given).node;
  const base = spatial(shape, node);
  const kernelShape = attribute<readonly number[]>(node, 'kernel_shape', []) as unknown as Pair;
  const strides = attribute<readonly number[]>(node, 'strides', [1, 1]) as unknown as Pair;
  const dilations = attribute<readonly number[]>(node, 'dilations', [1, 1]) as unknown as Pair;
  const pads = explicitPads(node, [base.height, base.width], kernelShape, strides, dilations);
  return { ...base, kernelShape, strides, dilations, pads, ceilMode: attribute<number>(node, 'ceil_mode', 0) === 1 };
}

const pooledShape = ([x]: Shape[], node: GraphNode): Shape[] => {
  const dims = poolDims(x!, node);
  return [unlifted(x!, [dims.batch, dims.channels, ...poolOutputSize(dims)])];
};

const maxPool: OpDefinition = {
  shape: pooledShape,
  forward: async (c) => {
    const dims = poolDims(c.inputShapes[0]!, c.node);
    const argmax = c.saved('argmax', c.outputShapes[0]!.reduce((a, b) => a * b, 1) * 4);
    return [await maxPoolForward(c.gpu, { x: c.input(0), y: c.output(0), argmax }, dims)];
  },
  backward: (c) => {
    const dims = poolDims(c.inputShapes[0]!, c.node);
    const argmax = c.saved('argmax', c.outputShapes[0]!.reduce((a, b) => a * b, 1) * 4);
    if (c.rules === 'deeplift') {
      const target = c.inputGradient(0);
      return target ? deepLiftMaxPool(c, target, (gradY, gradX) => maxPoolBackward(c.gpu, { argmax, gradY, gradX }, dims)) : Promise.resolve([]);
    }
    return backwardOf(c, (t) =>
      maxPoolBackward(c.gpu, { argmax, gradY: c.outputGradient(0), gradX: t.buffer }, { ...dims, accumulate: t.accumulate }),
    );
  },
};

const averagePool: OpDefinition = {
  shape: pooledShape,
  forward: async (c) => {
    const dims = { ...poolDims(c.inputShapes[0]!, c.node), countIncludePad: attribute<number>(c.node, 'count_include_pad', 0) === 1 };
    return [await averagePoolForward(c.gpu, { x: c.input(0), y: c.output(0) }, dims)];
  },
  backward: (c) => {
    const dims = { ...poolDims(c.inputShapes[0]!, c.node), countIncludePad: attribute<number>(c.node, 'count_include_pad', 0) === 1 };
    return backwardOf(c, (t) => averagePoolBackward(c.gpu, { gradY: c.outputGradient(0), gradX: t.buffer }, { ...dims, accumulate: t.accumulate }));
  },
};

const globalAveragePool: OpDefinition = {
  shape: ([x], node) => {
    const { batch, channels } = spatial(x!, node);
    return [unlifted(x!, [batch, channels, 1, 1])];
  },
  forward: async (c) => [await globalAveragePoolForward(c.gpu, { x: c.input(0), y: c.output(0) }, spatial(c.inputShapes[0]!, c.node))],
  backward: (c) =>
    backwardOf(c, (t) =>
      globalAveragePoolBackward(
        c.gpu,
        { gradY: c.outputGradient(0), gradX: t.buffer },
        { ...spatial(c.inputShapes[0]!, c.node), accumulate: t.accumulate },
      ),
    ),
};

export const poolOps: Record<string, OpDefinition> = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
};
