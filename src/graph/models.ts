import { GraphBuilder } from './builder.ts';
import type { Graph } from './ir.ts';

export interface ResNetOptions {
  inputChannels?: number;
  /** Square input side; any size the strides leave ≥ 1 at the end. */
  inputSize?: number;
  classes?: number;
  /** Channels of the first stage (64 in ResNet-18); smaller makes tests fast with the same structure. */
  width?: number;
  seed?: number;
}

/**
 * ResNet-18 (He et al. 2016): 7×7/2 stem, 3×3/2 max pool, four stages of two basic blocks (BatchNorm, residual
 * Add, strided 3×3 and 1×1 projection at each stage change), global average pool, fully connected.
 */
export function resnet18(options: ResNetOptions = {}): Graph {
  const { inputChannels = 3, inputSize = 224, classes = 1000, width = 64, seed = 18 } = options;
  const b = new GraphBuilder('resnet18', seed);
  let x = b.input([inputChannels, inputSize, inputSize]);
  x = b.relu(b.batchNorm(b.conv(x, { channels: width, kernel: 7, stride: 2, pad: 3, bias: false }, 'stem_conv')));
  x = b.maxPool(x, { kernel: 3, stride: 2, pad: 1 }, 'stem_pool');
  [width, 2 * width, 4 * width, 8 * width].forEach((channels, stage) => {
    for (let block = 0; block < 2; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const name = `layer${stage + 1}_${block}`;
      let y = b.relu(b.batchNorm(b.conv(x, { channels, kernel: 3, stride, pad: 1, bias: false }, `${name}_conv1`)));
      y = b.batchNorm(b.conv(y, { channels, kernel: 3, pad: 1, bias: false }, `${name}_conv2`));
      const shortcut = stride === 1 && b.shapeOf(x)[0] === channels ? x : b.batchNorm(b.conv(x, { channels, kernel: 1, stride, pad: 0, bias: false }, `${name}_down`));
      x = b.relu(b.node('Add', [y, shortcut]), `${name}_out`);
    }
  });
  x = b.node('Flatten', [b.node('GlobalAveragePool', [x], {}, 'pool')], { axis: 1 });
  return b.build(b.gemm(x, classes, {}, 'fc'));
}

/** A small CNN in the shape of the demo digit model: conv, pool, conv, pool, two dense layers. */
export function smallCnn(options: { inputChannels?: number; inputSize?: number; classes?: number; seed?: number } = {}): Graph {
  const { inputChannels = 1, inputSize = 16, classes = 10, seed = 7 } = options;
  const b = new GraphBuilder('small-cnn', seed);
  let x = b.input([inputChannels, inputSize, inputSize]);
  x = b.maxPool(b.relu(b.conv(x, { channels: 8, kernel: 3 }, 'conv1')), { kernel: 2 });
  x = b.maxPool(b.relu(b.conv(x, { channels: 16, kernel: 3 }, 'conv2')), { kernel: 2 });
  x = b.relu(b.gemm(b.node('Flatten', [x], { axis: 1 }), 32, {}, 'fc1'));
  return b.build(b.gemm(x, classes, {}, 'fc2'));
}
