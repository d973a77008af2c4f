// The demo page: wires the bundled samples to the widgets.
import '../components/index.ts';

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
