// Whole networks: forward, seed of the top-1 logit and backward to the input (one plan run, one readback), for
// ResNet-18 and ResNet-50 (src/graph/models.ts), in images per second at the chosen input size and batch.
import type { GpuContext } from '../src/gpu/device.ts';
import { Model } from '../src/graph/model.ts';
import { resnet18, resnet50 } from '../src/graph/models.ts';
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
