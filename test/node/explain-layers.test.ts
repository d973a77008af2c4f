import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { createLens, type Lens } from '../../src/lens.ts';
import { runExplain } from '../../src/node/explain-command.ts';
import { toRun } from '../../src/node/explain-options.ts';
import { readResults } from '../../src/node/results.ts';
import { randomTensor } from '../reference/random.ts';

// The residual CNN of test/captum/make_layers.py (2 × 8 × 8 in; conv2 and relu2 are [4, 8, 8]).
const MODEL = 'test/captum/fixtures/layers-cnn/model.onnx';
let lens: Lens;
let root: string;
let input: string;

beforeAll(async () => {
  lens = await createLens();
  root = await mkdtemp(join(tmpdir(), 'gradlens-layers-'));
  input = join(root, 'x.npy');
  await writeFile(input, writeNpy(randomTensor(128, 5, 1), [2, 8, 8]));
});
afterAll(() => lens.close());

/** One CLI explain run in this process; the first result line and the folder. */
async function explainFiles(flags: string[]) {
  const out = join(root, flags.join('_').replace(/[^a-z0-9]+/gi, '_'));
  const run = toRun([MODEL, input, '--format', 'npy,png,json', '--out', out, '--seed', '1', ...flags], {});
  expect((await runExplain(run, () => undefined, lens)).code).toBe(0);
  const [record] = [...(await readResults(out)).values()];
  return { out, record: record! };
}

describe('gradlens explain with a layer method', () => {
  it("writes the layer's attribution as an .npy of the layer's shape, and its map as a picture", async () => {
    const { out, record } = await explainFiles(['--method', 'layer-integrated-gradients', '--layer', '/conv2/Conv', '--steps', '8']);
    const npy = readNpy(new Uint8Array(await readFile(join(out, record.files!.npy!))));
    expect(npy.shape).toEqual([1, 4, 8, 8]);
    const png = pngjs.PNG.sync.read(await readFile(join(out, record.files!.png!)));
    expect([png.width, png.height]).toEqual([8, 8]);
    expect(record.options).toMatchObject({ layer: '/conv2/Conv', layerShape: [4, 8, 8], steps: 8 });
    expect(Number.isFinite(record.delta)).toBe(true);
  });

  it("takes a neuron as I,J,K and Grad-CAM's ReLU from the flags; a neuron method's map has the input's shape", async () => {
    const cam = await explainFiles(['--method', 'layer-grad-cam', '--layer', '/relu2/Relu', '--relu', 'true']);
    const map = readNpy(new Uint8Array(await readFile(join(cam.out, cam.record.files!.npy!))));
    expect(map.shape).toEqual([1, 1, 8, 8]);
    expect(Math.min(...(map.data as Float32Array))).toBeGreaterThanOrEqual(0);
    const neuron = await explainFiles(['--method', 'neuron-gradient', '--layer', '/conv2/Conv', '--neuron', '0,1,2']);
    expect(readNpy(new Uint8Array(await readFile(join(neuron.out, neuron.record.files!.npy!)))).shape).toEqual([1, 2, 8, 8]);
    expect(neuron.record.options).toMatchObject({ neuron: [0, 1, 2] });
  });
});
