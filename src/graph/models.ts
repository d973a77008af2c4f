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
  const { b, x: stem, width, classes } = resnetStem('resnet18', 18, options);
  let x = stem;
  [width, 2 * width, 4 * width, 8 * width].forEach((channels, stage) => {
    for (let block = 0; block < 2; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const name = `layer${stage + 1}_${block}`;
      let y = b.relu(b.batchNorm(b.conv(x, { channels, kernel: 3, stride, pad: 1, bias: false }, `${name}_conv1`)));
      y = b.batchNorm(b.conv(y, { channels, kernel: 3, pad: 1, bias: false }, `${name}_conv2`));
      const shortcut =
        stride === 1 && b.shapeOf(x)[0] === channels
          ? x
          : b.batchNorm(b.conv(x, { channels, kernel: 1, stride, pad: 0, bias: false }, `${name}_down`));
      x = b.relu(b.node('Add', [y, shortcut]), `${name}_out`);
    }
  });
  return resnetHead(b, x, classes);
}

/**
 * ResNet-50's shape (He et al. 2016): the same stem and head, bottleneck blocks (1×1 reduce, 3×3, 1×1 expand to 4×)
 * in stages of 3, 4, 6 and 3, stride 2 in each later stage's first 3×3, projection shortcuts where shapes change.
 */
export function resnet50(options: ResNetOptions = {}): Graph {
  const { b, x: stem, width, classes } = resnetStem('resnet50', 50, options);
  let x = stem;
  [3, 4, 6, 3].forEach((blocks, stage) => {
    const inner = width << stage;
    for (let block = 0; block < blocks; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const name = `layer${stage + 1}_${block}`;
      let y = b.relu(b.batchNorm(b.conv(x, { channels: inner, kernel: 1, pad: 0, bias: false }, `${name}_conv1`)));
      y = b.relu(b.batchNorm(b.conv(y, { channels: inner, kernel: 3, stride, pad: 1, bias: false }, `${name}_conv2`)));
      y = b.batchNorm(b.conv(y, { channels: 4 * inner, kernel: 1, pad: 0, bias: false }, `${name}_conv3`));
      const shortcut =
        stride === 1 && b.shapeOf(x)[0] === 4 * inner
          ? x
          : b.batchNorm(b.conv(x, { channels: 4 * inner, kernel: 1, stride, pad: 0, bias: false }, `${name}_down`));
      x = b.relu(b.node('Add', [y, shortcut]), `${name}_out`);
    }
  });
  return resnetHead(b, x, classes);
}

/** 7×7/2 convolution, BatchNorm, ReLU, 3×3/2 max pool. */
function resnetStem(name: string, defaultSeed: number, options: ResNetOptions) {
  const { inputChannels = 3, inputSize = 224, classes = 1000, width = 64, seed = defaultSeed } = options;
  const b = new GraphBuilder(name, seed);
  const input = b.input([inputChannels, inputSize, inputSize]);
  const x = b.relu(b.batchNorm(b.conv(input, { channels: width, kernel: 7, stride: 2, pad: 3, bias: false }, 'stem_conv')));
  return { b, x: b.maxPool(x, { kernel: 3, stride: 2, pad: 1 }, 'stem_pool'), width, classes };
}

/** Global average pool, flatten, fully connected. */
function resnetHead(b: GraphBuilder, x: string, classes: number): Graph {
  const pooled = b.node('Flatten', [b.node('GlobalAveragePool', [x], {}, 'pool')], { axis: 1 });
  return b.build(b.gemm(pooled, classes, {}, 'fc'));
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
