// The Captum fixtures of test/captum/ (made by Captum's own code, see the scripts there) as the tests read them.
import { readFileSync } from 'node:fs';
import type { GpuContext } from '../../src/gpu/index.ts';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';

export interface CaptumCase {
  baselines: number[];
  attribution: number[];
  delta?: number[];
  /** Captum's own float32 result against its float64 one, relative L2. */
  f32_vs_f64: number;
}

/** test/captum/deeplift/fixture.json, written by test/captum/make_deeplift.py from Captum's own code. */
export const captumFixture = () =>
  JSON.parse(readFileSync(new URL('../captum/deeplift/fixture.json', import.meta.url), 'utf8')) as {
    models: Record<'cnn' | 'mlp', { shape: number[]; inputs: number[]; targets: number[]; cases: Record<string, CaptumCase> }>;
  };

/** A fixture's ONNX model on the test's device. */
export async function captumModel(context: GpuContext, name: 'cnn' | 'mlp'): Promise<Model> {
  return Model.create(context, loadOnnx(readFileSync(new URL(`../captum/deeplift/${name}.onnx`, import.meta.url))));
}

export { relativeL2 } from './close.ts';
