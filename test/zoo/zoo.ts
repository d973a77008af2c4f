import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The zoo's models (test/zoo/make_zoo.py), shared by zoo.test.ts and half.test.ts.

export const SUPPORTED = [
  'resnet18',
  'mobilenet_v2',
  'mobilenet_v3_small',
  'efficientnet',
  'regnet_y',
  'densenet',
  'squeezenet1_1',
  'shufflenet_v2',
  'googlenet',
  'vgg11',
  'alexnet',
  'mnasnet',
  'convnext',
  'bert',
  'resnext',
  'wide_resnet',
  'inception_v3',
  'vit',
  'vit_b_16',
  'swin',
];

const here = fileURLToPath(new URL('./', import.meta.url));

/** A model's folder: test/zoo/models/ (committed, ≤ 5 MB) or generated/ (made by zoo.test.ts when missing). */
export const directoryOf = (name: string) => [`${here}models/${name}`, `${here}generated/${name}`].find((dir) => existsSync(`${dir}/meta.json`));

/** meta.json: what make_zoo.py measured in PyTorch. */
export interface Meta {
  family: string;
  inputShape: number[];
  target: number;
  logitDifference32: number;
  gradientDifference32: number | null;
  gradientPeak64: number;
}
