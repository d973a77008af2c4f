import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sizeOf } from '../../src/graph/ir.ts';
import { createLens, type Lens } from '../../src/lens.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { SOFTWARE_ADAPTERS } from '../helpers/adapters.ts';
import { expectLogitsClose, openOracle } from '../helpers/oracle.ts';
import { randomTensor } from '../reference/random.ts';

/** Every ONNX model the tests and the demo use, its logits against onnxruntime's, on both software adapters. */
const MODEL_FOLDERS = ['models', 'fixtures/pytorch', 'test/onnx/models', 'test/onnx/models/needs-size'];
const MODELS = MODEL_FOLDERS.flatMap((folder) =>
  readdirSync(folder)
    .filter((file) => file.endsWith('.onnx'))
    .map((file) => join(folder, file)),
);
const BATCH = 3;
/** Per-sample sizes for files that leave dimensions free yet need one size (a dense head after the convolutions). */
const NEEDED_SIZES: Readonly<Record<string, number[]>> = { 'fixed_head_opset13.onnx': [3, 8, 8] };

for (const adapter of SOFTWARE_ADAPTERS) {
  describe(`test models against onnxruntime on ${adapter.name}`, () => {
    let lens: Lens;
    beforeAll(async () => {
      lens = await createLens(adapter.options);
    });
    afterAll(() => lens.close());

    it('finds the models', () => expect(MODELS.length).toBeGreaterThanOrEqual(10));

    for (const path of MODELS) {
      it(`${path}: logits within 1e-4 of the largest`, async () => {
        const bytes = new Uint8Array(readFileSync(path));
        const inputShape = NEEDED_SIZES[path.split('/').pop()!];
        const model = await lens.load(loadOnnx(bytes, { name: path, ...(inputShape && { inputShape }) }));
        const oracle = await openOracle(bytes);
        try {
          // A file that fixes its batch gets that batch; the others a batch of 3.
          const batch = oracle.declaredBatch ?? BATCH;
          const random = randomTensor(batch * sizeOf(model.inputShape), path.length, 1);
          // A text model takes token ids: integers of its vocabulary.
          const words = model.vocabulary.length;
          const input = words ? random.map((v) => Math.floor(Math.abs(v) * words) % words) : random;
          const expected = await oracle.logits(input, [batch, ...model.inputShape]);
          expectLogitsClose(await model.predict(input, batch), expected, path);
        } finally {
          await oracle.release();
          await model.destroy();
        }
      });
    }
  });
}
