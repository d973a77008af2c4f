// Whole networks: forward, seed of the top-1 logit and backward to the input (one plan run, one readback), for
// ResNet-18 and a ResNet-50-shaped net, in images per second at the chosen input size and batch.
import type { GpuContext } from '../src/gpu/device.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { Model } from '../src/graph/model.ts';
import { resnet18, type ResNetOptions } from '../src/graph/models.ts';
import { rng, uniform } from '../src/graph/random.ts';
import { medianMs, type Scale } from './measure.ts';

export interface NetworkRow {
  name: string;
  inputSize: number;
  width: number;
  batch: number;
  ms: number;
  imagesPerSecond: number;
  activationMiB: number;
}

/**
 * ResNet-50's shape (He et al. 2016): the ResNet-18 stem, then bottleneck blocks (1×1 reduce, 3×3, 1×1 expand to 4×)
 * in stages of 3, 4, 6 and 3, stride 2 in each stage's 3×3 after the first, projection shortcuts where shapes change.
 */
export function resnet50(options: ResNetOptions = {}): Graph {
  const { inputChannels = 3, inputSize = 224, classes = 1000, width = 64, seed = 50 } = options;
  const b = new GraphBuilder('resnet50', seed);
  let x = b.input([inputChannels, inputSize, inputSize]);
  x = b.relu(b.batchNorm(b.conv(x, { channels: width, kernel: 7, stride: 2, pad: 3, bias: false }, 'stem_conv')));
  x = b.maxPool(x, { kernel: 3, stride: 2, pad: 1 }, 'stem_pool');
  [3, 4, 6, 3].forEach((blocks, stage) => {
    const inner = width << stage;
    for (let block = 0; block < blocks; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const name = `layer${stage + 1}_${block}`;
      let y = b.relu(b.batchNorm(b.conv(x, { channels: inner, kernel: 1, pad: 0, bias: false }, `${name}_conv1`)));
      y = b.relu(b.batchNorm(b.conv(y, { channels: inner, kernel: 3, stride, pad: 1, bias: false }, `${name}_conv2`)));
      y = b.batchNorm(b.conv(y, { channels: 4 * inner, kernel: 1, pad: 0, bias: false }, `${name}_conv3`));
      const shortcut = stride === 1 && b.shapeOf(x)[0] === 4 * inner ? x : b.batchNorm(b.conv(x, { channels: 4 * inner, kernel: 1, stride, pad: 0, bias: false }, `${name}_down`));
      x = b.relu(b.node('Add', [y, shortcut]), `${name}_out`);
    }
  });
  x = b.node('Flatten', [b.node('GlobalAveragePool', [x], {}, 'pool')], { axis: 1 });
  return b.build(b.gemm(x, classes, {}, 'fc'));
}

/** Width, input side and batch per scale: full is the papers' networks at batch 32 (ResNet-18) and 8 (ResNet-50). */
const CASES: Record<Scale, { build: typeof resnet18; name: string; width: number; inputSize: number; batch: number }[]> = {
  tiny: [
    { build: resnet18, name: 'resnet18', width: 4, inputSize: 32, batch: 1 },
    { build: resnet50, name: 'resnet50', width: 4, inputSize: 32, batch: 1 },
  ],
  quick: [
    { build: resnet18, name: 'resnet18', width: 64, inputSize: 64, batch: 4 },
    { build: resnet50, name: 'resnet50', width: 64, inputSize: 64, batch: 2 },
  ],
  full: [
    { build: resnet18, name: 'resnet18', width: 64, inputSize: 224, batch: 32 },
    { build: resnet50, name: 'resnet50', width: 64, inputSize: 224, batch: 8 },
  ],
};

export async function networkSuite(gpu: GpuContext, scale: Scale): Promise<NetworkRow[]> {
  const rows: NetworkRow[] = [];
  for (const { build, name, width, inputSize, batch } of CASES[scale]) {
    const model = await Model.create(gpu, build({ width, inputSize, classes: scale === 'tiny' ? 10 : 1000 }));
    try {
      const plan = await model.plan({ batch });
      const input = uniform(rng(7), batch * 3 * inputSize * inputSize, 1);
      const ms = await medianMs(() => plan.run({ input }), scale === 'full' ? 5 : scale === 'quick' ? 2 : 1);
      const label = `${name}${width === 64 ? '' : ` width ${width}`} ${inputSize}×${inputSize} batch ${batch} forward+backward`;
      rows.push({ name: label, inputSize, width, batch, ms, imagesPerSecond: (1000 * batch) / ms, activationMiB: plan.slotBytes / 2 ** 20 });
    } finally {
      model.destroy();
    }
  }
  return rows;
}
