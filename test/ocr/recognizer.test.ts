import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctcClasses, ctcGreedy } from '../../src/io/ctc.ts';
import { createLens, type Lens, type LensModel } from '../../src/lens.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { explainTextLine, OCR_ASSETS, OCR_SAMPLE, PADDLE_NORMALISATION, RECOGNIZER, type TextLine } from '../../src/node/ocr-demo.ts';
import { loadImage } from '../../src/node/image.ts';
import { oracleLogits } from '../helpers/oracle.ts';

/**
 * The PP-OCRv4 recognizer explained per character (issue 13) on samples/text-line.png ("Gradlens 2026", rendered by
 * test/ocr/make_text_line.py). On llvmpipe, the faster software adapter: a forward and backward pass of the SVTR at
 * 48×320 takes seconds there. The output's 40 steps each cover 8 input columns (320 / 40).
 */
const RENDERED = 'Gradlens 2026';
const COLUMNS_PER_STEP = 8;
const bytes = new Uint8Array(readFileSync(`${OCR_ASSETS}/${RECOGNIZER.file}`));
const keys = readFileSync(`${OCR_ASSETS}/${RECOGNIZER.keys}`, 'utf8');

let lens: Lens;
let model: LensModel;
let input: Float32Array;
beforeAll(async () => {
  lens = await createLens({ backend: 'opengles' });
  model = await lens.load(loadOnnx(bytes, { name: RECOGNIZER.file, inputShape: RECOGNIZER.shape }));
  input = (await loadImage(OCR_SAMPLE, { ...PADDLE_NORMALISATION, size: [48, 320] })).data;
});
afterAll(async () => {
  await model.destroy();
  await lens.close();
});

/** Σ |attribution| per input column (over channels and rows). */
function columnMass(attribution: Float32Array, width: number): Float64Array {
  const mass = new Float64Array(width);
  attribution.forEach((v, k) => (mass[k % width] = mass[k % width]! + Math.abs(v)));
  return mass;
}

describe('the PP-OCRv4 recognizer, explained per character', () => {
  let line: TextLine;
  beforeAll(async () => {
    line = await explainTextLine(model, input, keys, { method: 'saliency' });
  }, 1_800_000);

  it("reads the text onnxruntime's output decodes to, the text rendered", async () => {
    const reference = ctcGreedy(await oracleLogits(bytes, input, [1, ...RECOGNIZER.shape]), 40, ctcClasses(keys));
    expect(line.text).toBe(reference.text);
    expect(line.characters.map((c) => [c.class, c.step])).toEqual(reference.characters.map((c) => [c.class, c.step]));
    expect(line.text).toBe(RENDERED);
  });

  it('explains each character at its class and peak step, and records that target', () => {
    expect(line.explanation.outputTarget).toEqual(line.characters.map((c) => ({ step: c.step, class: c.class })));
    line.characters.forEach((c, i) => expect(line.explanation.score[i]).toBeCloseTo(c.probability, 5));
  });

  it("puts each character's attribution more on its own columns than on the other characters'", () => {
    const size = 3 * 48 * 320;
    const windows = line.characters.map((c) => [c.steps[0] * COLUMNS_PER_STEP - 4, (c.steps[1] + 1) * COLUMNS_PER_STEP + 4] as const);
    const shareIn = (mass: Float64Array, [from, to]: readonly [number, number]) =>
      mass.slice(Math.max(0, from), to).reduce((a, b) => a + b, 0) / ((to - from) * mass.reduce((a, b) => a + b, 0));
    const own = line.characters.map((_, i) => {
      const mass = columnMass(line.explanation.attribution.subarray(i * size, (i + 1) * size), 320);
      return windows.map((window) => shareIn(mass, window)).map((share, j, all) => (j === i ? share : share / all[i]!));
    });
    // Per column, a character's own window holds the most mass of all the characters' windows for most characters.
    const best = own.filter((row, i) => row.every((ratio, j) => j === i || ratio < 1)).length;
    expect(best, own.map((row) => row.map((v) => v.toFixed(2)).join(' ')).join('\n')).toBeGreaterThanOrEqual(Math.ceil(0.75 * line.characters.length));
  });
});
