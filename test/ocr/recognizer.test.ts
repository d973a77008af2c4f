import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Explanation } from '../../src/attribution/types.ts';
import { ctcClasses, ctcGreedy, type RecognisedCharacter } from '../../src/io/ctc.ts';
import { createLens, type Lens, type LensModel } from '../../src/lens.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { explainTextLine, OCR_ASSETS, OCR_SAMPLE, PADDLE_NORMALISATION, RECOGNIZER } from '../../src/node/ocr-demo.ts';
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

/** The share of a map's column mass per column inside a character's run of steps, widened by 4 columns each side. */
function density(attribution: Float32Array, character: RecognisedCharacter): number {
  const mass = columnMass(attribution, 320);
  const [from, to] = [character.steps[0] * COLUMNS_PER_STEP - 4, (character.steps[1] + 1) * COLUMNS_PER_STEP + 4];
  return mass.slice(Math.max(0, from), to).reduce((a, b) => a + b, 0) / ((to - from) * mass.reduce((a, b) => a + b, 0));
}

/** For each explained character, whether its own columns are denser in its map than any other character's columns. */
function ownColumnsDensest(explanation: Explanation, characters: readonly RecognisedCharacter[]): { densest: boolean[]; table: string } {
  const size = 3 * 48 * 320;
  const rows = characters.map((_, i) => characters.map((other) => density(explanation.attribution.subarray(i * size, (i + 1) * size), other)));
  return {
    densest: rows.map((row, i) => row.every((value, j) => j === i || value < row[i]!)),
    table: rows.map((row) => row.map((v) => v.toFixed(4)).join(' ')).join('\n'),
  };
}

describe('the PP-OCRv4 recognizer, explained per character', () => {
  let characters: RecognisedCharacter[];
  beforeAll(async () => {
    characters = ctcGreedy(await model.predict(input, 1), 40, ctcClasses(keys)).characters;
  });

  it("reads the text onnxruntime's output decodes to, the text rendered", async () => {
    const reference = ctcGreedy(await oracleLogits(bytes, input, [1, ...RECOGNIZER.shape]), 40, ctcClasses(keys));
    expect(characters.map((c) => [c.text, c.class, c.step])).toEqual(reference.characters.map((c) => [c.text, c.class, c.step]));
    expect(reference.text).toBe(RENDERED);
  });

  it('explains the first and last characters at their class and peak step, each map densest over its own columns', async () => {
    const ends = [characters[0]!, characters.at(-1)!];
    const explanation = await model.explain(Float32Array.of(...input, ...input), { method: 'saliency', target: ends });
    expect(explanation.outputTarget).toEqual(ends.map((c) => ({ step: c.step, class: c.class })));
    ends.forEach((c, i) => expect(explanation.score[i]).toBeCloseTo(c.probability, 5));
    const { densest, table } = ownColumnsDensest(explanation, ends);
    expect(densest, table).toEqual([true, true]);
  }, 1_800_000);
});

// Heavy (every character, and a 16-step path, through the SVTR at 48×320: minutes on a busy software adapter): CI, or
// GRADLENS_HEAVY=1.
describe.runIf(process.env.CI || process.env.GRADLENS_HEAVY)('every character of the line (heavy)', () => {
  let characters: RecognisedCharacter[];
  const characters0 = () => characters[0]!;
  beforeAll(async () => {
    characters = ctcGreedy(await model.predict(input, 1), 40, ctcClasses(keys)).characters;
  });

  it("puts most characters' attribution densest over their own columns (explainTextLine, the demo's path)", async () => {
    const line = await explainTextLine(model, input, keys, { method: 'saliency' });
    expect(line.text).toBe(RENDERED);
    expect(line.explanation.outputTarget).toEqual(line.characters.map((c) => ({ step: c.step, class: c.class })));
    const { densest, table } = ownColumnsDensest(line.explanation, line.characters);
    expect(densest.filter(Boolean).length, table).toBeGreaterThanOrEqual(Math.ceil(0.75 * line.characters.length));
  }, 1_800_000);

  it("its (step, class) gradient along integrated gradients' path matches the probability's central difference", async () => {
    const first = characters0();
    const index = first.step * 6625 + first.class;
    const scaled = (alpha: number) => input.map((v) => alpha * v);
    const probability = async (alpha: number) => (await model.predict(scaled(alpha), 1))[index]!;
    for (const alpha of [0.3, 0.6]) {
      const gradient = (await model.explain(scaled(alpha), { method: 'saliency', absolute: false, target: first })).attribution;
      const along = gradient.reduce((sum, g, k) => sum + g * input[k]!, 0); // d p(αx) / dα = ∇p(αx) · x
      const h = 1e-2;
      const difference = ((await probability(alpha + h)) - (await probability(alpha - h))) / (2 * h);
      expect(Math.abs(along - difference), `α ${alpha}: ∇p·x ${along}, central difference ${difference}`).toBeLessThan(
        0.05 * Math.max(Math.abs(difference), 1e-3),
      );
    }
  }, 1_800_000);
});
