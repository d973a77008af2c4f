import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { explain, type ExplainOptions } from '../attribution/explain.ts';
import { METHODS, type MethodId } from '../attribution/methods.ts';
import { GpuContext } from '../gpu/device.ts';
import { isGradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import { Model } from '../graph/model.ts';
import { readNpy, toFloat32 } from '../io/npy.ts';
import { lineChart, type Series } from '../metrics/charts.ts';
import { complexity, sparseness } from '../metrics/complexity.ts';
import { faithfulnessCorrelation, nonSensitivity, perturbationCurve, sensitivityN } from '../metrics/faithfulness.ts';
import { featureMap } from '../metrics/features.ts';
import { infidelity } from '../metrics/infidelity.ts';
import { boxMasks, pointingGame, relevanceMass, relevanceRank } from '../metrics/localisation.ts';
import { modelRandomisation, randomLogit } from '../metrics/randomisation.ts';
import { sensitivity } from '../metrics/robustness.ts';
import { road } from '../metrics/road.ts';
import { scoredTargets } from '../metrics/targets.ts';
import { loadOnnx } from '../onnx/load.ts';
import { adapterOptions, COMMON_OPTIONS, UsageError } from './common-options.ts';
import { EXIT } from './exit-codes.ts';
import { loadImage } from './image.ts';
import { lockFolder, makeFolder } from './out-folder.ts';
import { writeAtomic } from './results.ts';

const METRICS = [
  'deletion',
  'insertion',
  'deletion-lerf',
  'road',
  'infidelity',
  'max-sensitivity',
  'faithfulness-correlation',
  'sensitivity-n',
  'non-sensitivity',
  'randomisation',
  'random-logit',
  'sparseness',
  'complexity',
  'completeness',
  'pointing-game',
  'relevance-mass',
  'relevance-rank',
] as const;
const LOCALISATION: readonly Metric[] = ['pointing-game', 'relevance-mass', 'relevance-rank'];
/** Sensitivity-n's default subset sizes, as fractions of the features (Ancona 2018 sweeps n from few to half). */
const SENSITIVITY_N_FRACTIONS = [0.01, 0.05, 0.1, 0.25, 0.5];
type Metric = (typeof METRICS)[number];

export const EVALUATE_USAGE = `usage: gradlens evaluate MODEL INPUTS... [options]

Runs every method on every input and every metric on every map; writes OUT/metrics.jsonl (one line per input,
method and metric), OUT/summary.md and OUT/summary.json (mean ± standard error per method and metric, time per
method) and OUT/*.svg charts (mean deletion / insertion curves, sanity-check similarity by randomised layer).

  INPUTS                 PNG/JPEG images (resized to the model's input, /255) or .npy arrays (N × input shape)
  --methods a,b          method ids (default saliency,gradient-x-input,integrated-gradients, plus grad-cam for CNNs)
  --metrics x,y          of ${METRICS.join(', ')}
                         (default deletion,insertion,randomisation,random-logit,sparseness,complexity)
  --steps N              curve points after the start (default: one per feature, at most 100)
                         road: MoRF and LeRF curves at 10 … 90 % removed, noisy linear imputation (Rong 2022)
  --samples N            random subsets per input (and per size) for faithfulness-correlation and sensitivity-n (default 100)
  --subset-sizes n,m     sensitivity-n's subset sizes (default 1, 5, 10, 25, 50 % of the features)
  --masks FILE.npy       pointing-game, relevance-mass, relevance-rank: one H × W mask per input (N × H × W, nonzero inside)
  --boxes FILE.json      or boxes: a list in input order (or an object keyed by input name) of {x0, y0, x1, y1} or lists of them
  --seed S               seeds every metric and method (default 0)
  --out DIR              output folder (default gradlens-evaluate)`;

interface Row {
  input: string;
  method: string;
  metric: string;
  value: number;
}

/** `gradlens evaluate`: returns the exit code; progress lines go to `log`. */
export async function evaluateCommand(
  args: string[],
  log: (line: string) => void = (line) => console.error(line),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...COMMON_OPTIONS,
        methods: { type: 'string' },
        metrics: { type: 'string' },
        steps: { type: 'string' },
        samples: { type: 'string' },
        'subset-sizes': { type: 'string' },
        masks: { type: 'string' },
        boxes: { type: 'string' },
        seed: { type: 'string', default: '0' },
        out: { type: 'string', short: 'o', default: 'gradlens-evaluate' },
      },
    }));
  } catch (error) {
    log((error as Error).message);
    return EXIT.usage;
  }
  if (values.help) {
    console.log(EVALUATE_USAGE);
    return EXIT.ok;
  }
  try {
    if (positionals.length < 2) throw new UsageError('evaluate needs a model and at least one input: gradlens evaluate MODEL INPUTS...');
    const metrics = (values.metrics?.split(',') ?? [
      'deletion',
      'insertion',
      'randomisation',
      'random-logit',
      'sparseness',
      'complexity',
    ]) as Metric[];
    for (const metric of metrics)
      if (!METRICS.includes(metric)) throw new UsageError(`unknown metric "${metric}"; choose from ${METRICS.join(', ')}`);
    const seed = Number(values.seed);
    const steps = values.steps === undefined ? undefined : Number(values.steps);
    if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${values.seed}`);
    if (steps !== undefined && (!Number.isInteger(steps) || steps < 1))
      throw new UsageError(`--steps must be a positive integer, got ${values.steps}`);
    const samples = values.samples === undefined ? undefined : Number(values.samples);
    if (samples !== undefined && (!Number.isInteger(samples) || samples < 2))
      throw new UsageError(`--samples must be an integer ≥ 2, got ${values.samples}`);
    const subsetSizes = values['subset-sizes']?.split(',').map(Number);
    if (subsetSizes?.some((n) => !Number.isInteger(n) || n < 1))
      throw new UsageError(`--subset-sizes must be positive integers, got ${values['subset-sizes']}`);
    if (metrics.some((m) => LOCALISATION.includes(m)) && !values.masks === !values.boxes)
      throw new UsageError('pointing-game, relevance-mass and relevance-rank need one of --masks FILE.npy or --boxes FILE.json');
    const graph = loadOnnx(new Uint8Array(await readFile(positionals[0]!)), { name: positionals[0]!.split('/').pop()! });
    const hasConv = graph.nodes.some((node) => node.op === 'Conv');
    const methods = (values.methods?.split(',') ?? [
      'saliency',
      'gradient-x-input',
      'integrated-gradients',
      ...(hasConv ? ['grad-cam'] : []),
    ]) as MethodId[];
    for (const method of methods)
      if (!(method in METHODS)) throw new UsageError(`unknown method "${method}"; known: ${Object.keys(METHODS).join(', ')}`);
    const { inputs, names } = await readInputs(positionals.slice(1), graph.inputShape);
    const count = names.length;
    const masks = metrics.some((m) => LOCALISATION.includes(m)) ? await readMasks(values.masks, values.boxes, names, graph.inputShape) : [];
    const features = featureMap(graph.inputShape, graph.inputShape.length === 3 ? 'pixel' : 'element').features;
    const sizes = subsetSizes ?? [...new Set(SENSITIVITY_N_FRACTIONS.map((f) => Math.max(1, Math.round(f * features))))];
    // The output folder is made and taken before any compute: a bad --out is found in a second, not after the run.
    await makeFolder(values.out!);
    const release = await lockFolder(values.out!);
    const gpu = await GpuContext.open(adapterOptions(values, env)).catch(async (error: unknown) => {
      await release();
      throw error;
    });
    const started = performance.now();
    try {
      const model = await Model.create(gpu, graph);
      const { targets } = await scoredTargets(model, inputs, count);
      const rows: Row[] = [];
      const timing: Record<string, { explainMs: number; metricsMs: number }> = {};
      const curves: Record<string, Series[]> = {};
      const layerSeries: Series[] = [];
      const sensitivitySeries: Series[] = [];
      let layerNames: string[] = [];
      for (const method of methods) {
        const options: ExplainOptions = { method, target: Array.from(targets), seed };
        const t0 = performance.now();
        const explanation = await explain(model, inputs, count, options);
        const t1 = performance.now();
        const maps = explanation.attribution;
        const size = sizeOf(graph.inputShape);
        const record = (metric: string, perInput: ArrayLike<number>) =>
          names.forEach((input, i) => rows.push({ input, method, metric, value: perInput[i]! }));
        for (const metric of metrics) {
          log(`${method}: ${metric}`);
          if (metric === 'deletion' || metric === 'insertion' || metric === 'deletion-lerf') {
            const curve = await perturbationCurve(model, inputs, maps, count, {
              mode: metric === 'insertion' ? 'insertion' : 'deletion',
              order: metric === 'deletion-lerf' ? 'least-relevant-first' : 'most-relevant-first',
              target: targets,
              seed,
              ...(steps ? { steps } : {}),
            });
            record(`${metric}-auc`, curve.auc);
            if (metric === 'deletion') record('aopc', curve.aopc);
            const points = curve.fractions.length;
            const mean = Float64Array.from(curve.fractions, (_, k) => names.reduce((sum, _, i) => sum + curve.scores[i * points + k]!, 0) / count);
            (curves[metric] ??= []).push({ label: method, x: curve.fractions, y: mean });
          } else if (metric === 'road') {
            for (const order of ['most-relevant-first', 'least-relevant-first'] as const) {
              const curve = await road(model, inputs, maps, count, { order, target: targets, seed });
              const name = order === 'most-relevant-first' ? 'road-morf' : 'road-lerf';
              record(`${name}-auc`, curve.auc);
              const points = curve.fractions.length;
              const mean = Float64Array.from(curve.fractions, (_, k) => names.reduce((sum, _, i) => sum + curve.scores[i * points + k]!, 0) / count);
              (curves[name] ??= []).push({ label: method, x: curve.fractions, y: mean });
            }
          } else if (metric === 'sensitivity-n') {
            const correlations = await sensitivityN(model, inputs, maps, count, sizes, { target: targets, seed, ...(samples ? { samples } : {}) });
            correlations.forEach((perInput, s) => record(`sensitivity-n@${sizes[s]}`, perInput));
            sensitivitySeries.push({ label: method, x: sizes.map((_, s) => s), y: correlations.map((perInput) => average(perInput)) });
          } else if (metric === 'non-sensitivity') {
            record(metric, await nonSensitivity(model, inputs, maps, count, { target: targets, seed }));
          } else if (LOCALISATION.includes(metric)) {
            const measure =
              metric === 'pointing-game'
                ? (a: Float32Array, m: Uint8Array) => Number(pointingGame(a, m))
                : metric === 'relevance-mass'
                  ? relevanceMass
                  : relevanceRank;
            record(
              metric,
              names.map((_, i) => measure(maps.subarray(i * size, (i + 1) * size), masks[i]!)),
            );
          } else if (metric === 'infidelity') {
            record(metric, await infidelity(model, inputs, maps, count, { target: targets, seed }));
          } else if (metric === 'max-sensitivity') {
            const result = await sensitivity(
              model,
              inputs,
              count,
              async (x, n, t) => (await explain(model, x, n, { ...options, target: Array.from(t) })).attribution,
              { target: targets, seed },
            );
            record('max-sensitivity', result.max);
            record('avg-sensitivity', result.average);
          } else if (metric === 'faithfulness-correlation') {
            record(metric, await faithfulnessCorrelation(model, inputs, maps, count, { target: targets, seed, ...(samples ? { samples } : {}) }));
          } else if (metric === 'randomisation') {
            const { steps: layers } = await modelRandomisation(model, inputs, count, options, { seed });
            const last = layers.at(-1)!;
            record(
              'randomisation-spearman-abs',
              last.similarity.map((s) => s.spearmanAbsolute),
            );
            record(
              'randomisation-spearman',
              last.similarity.map((s) => s.spearman),
            );
            record(
              'randomisation-ssim',
              last.similarity.map((s) => s.ssim),
            );
            layerNames = ['original', ...layers.map((step) => step.layers.at(-1)!)];
            layerSeries.push({ label: method, x: layerNames.map((_, k) => k), y: [1, ...layers.map((step) => step.mean.spearmanAbsolute)] });
          } else if (metric === 'random-logit') {
            record(metric, await randomLogit(model, inputs, count, options, { seed }));
          } else if (metric === 'sparseness' || metric === 'complexity') {
            const measure = metric === 'sparseness' ? sparseness : complexity;
            record(
              metric,
              names.map((_, i) => measure(maps.subarray(i * size, (i + 1) * size))),
            );
          } else if (metric === 'completeness' && explanation.delta) {
            record('completeness-delta', Array.from(explanation.delta, Math.abs));
          }
        }
        timing[method] = { explainMs: t1 - t0, metricsMs: performance.now() - t1 };
      }
      const totalMs = performance.now() - started;
      await writeAtomic(join(values.out!, 'metrics.jsonl'), rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
      for (const [metric, series] of Object.entries(curves)) {
        await writeAtomic(
          join(values.out!, `${metric}.svg`),
          lineChart(series, {
            title: `${metric} curve (mean over ${count} inputs)`,
            xLabel: metric === 'insertion' ? 'fraction inserted' : 'fraction removed',
            yLabel: 'target probability',
          }),
        );
      }
      if (sensitivitySeries.length) {
        await writeAtomic(
          join(values.out!, 'sensitivity-n.svg'),
          lineChart(sensitivitySeries, {
            title: `sensitivity-n (mean over ${count} inputs)`,
            xLabel: 'subset size n',
            yLabel: 'Pearson Σ relevance vs drop',
            categories: sizes.map(String),
          }),
        );
      }
      if (layerSeries.length) {
        await writeAtomic(
          join(values.out!, 'randomisation.svg'),
          lineChart(layerSeries, {
            title: 'cascading randomisation',
            xLabel: 'randomised down to',
            yLabel: 'Spearman |map| vs original',
            categories: layerNames,
          }),
        );
      }
      // The charts are listed so that gradlens report shows exactly those of this run.
      const charts = [
        ...Object.keys(curves),
        ...(sensitivitySeries.length ? ['sensitivity-n'] : []),
        ...(layerSeries.length ? ['randomisation'] : []),
      ].map((name) => `${name}.svg`);
      const summary = summarise(rows, timing);
      await writeAtomic(
        join(values.out!, 'summary.json'),
        JSON.stringify({ model: positionals[0], inputs: count, seed, totalMs, timing, summary, charts }, null, 2),
      );
      await writeAtomic(join(values.out!, 'summary.md'), formatSummary(summary, timing, totalMs, count));
      console.log(values.json ? JSON.stringify({ event: 'summary', totalMs, summary }) : formatSummary(summary, timing, totalMs, count));
      return EXIT.ok;
    } finally {
      gpu.destroy();
      await release();
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      isGradlensError(error, 'BAD_INPUT') ||
      isGradlensError(error, 'BAD_PARAMS') ||
      isGradlensError(error, 'BAD_MODEL')
    ) {
      log(`gradlens evaluate: ${(error as Error).message}`);
      return EXIT.usage;
    }
    if (isGradlensError(error, 'NO_ADAPTER') || isGradlensError(error, 'NO_WEBGPU') || isGradlensError(error, 'DEVICE_LOST')) {
      log(`gradlens evaluate: ${(error as Error).message}`);
      return EXIT.noGpu;
    }
    throw error;
  }
}

async function readInputs(files: string[], shape: readonly number[]): Promise<{ inputs: Float32Array; names: string[] }> {
  const size = sizeOf(shape);
  const parts: Float32Array[] = [];
  const names: string[] = [];
  for (const file of files) {
    if (file.endsWith('.npy')) {
      const data = toFloat32(readNpy(new Uint8Array(await readFile(file))));
      if (data.length % size !== 0)
        throw new UsageError(`${file} holds ${data.length} values, not a whole number of inputs of [${shape.join(', ')}]`);
      for (let i = 0; i < data.length / size; i++) names.push(`${file}[${i}]`);
      parts.push(data);
    } else {
      if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 3))
        throw new UsageError(`${file}: images need a model input [1 or 3, H, W], this one takes [${shape.join(', ')}]; give .npy inputs`);
      const image = await loadImage(file, { channels: shape[0] as 1 | 3, size: [shape[1]!, shape[2]!] });
      names.push(file);
      parts.push(image.data);
    }
  }
  const inputs = new Float32Array(names.length * size);
  let offset = 0;
  for (const part of parts) (inputs.set(part, offset), (offset += part.length));
  return { inputs, names };
}

/** One H × W mask per input from --masks (N × H × W, any extra unit axes) or --boxes. */
async function readMasks(
  masksFile: string | undefined,
  boxesFile: string | undefined,
  names: string[],
  shape: readonly number[],
): Promise<Uint8Array[]> {
  const [height, width] = shape.length === 3 ? [shape[1]!, shape[2]!] : [1, sizeOf(shape)];
  if (boxesFile) {
    let entries: unknown;
    try {
      entries = JSON.parse(await readFile(boxesFile, 'utf8'));
    } catch (error) {
      throw new UsageError(`--boxes ${boxesFile}: ${(error as Error).message}`);
    }
    return boxMasks(entries, names, height, width);
  }
  const data = toFloat32(readNpy(new Uint8Array(await readFile(masksFile!))));
  const plane = height * width;
  if (data.length !== names.length * plane)
    throw new UsageError(
      `--masks ${masksFile} holds ${data.length} values; ${names.length} inputs need ${names.length} masks of ${height} × ${width}`,
    );
  return names.map((_, i) => Uint8Array.from(data.subarray(i * plane, (i + 1) * plane), (v) => Number(v !== 0)));
}

const average = (values: ArrayLike<number>) => Array.from(values).reduce((a, b) => a + b, 0) / values.length;

type Summary = Record<string, Record<string, { mean: number; standardError: number; n: number }>>;

/** Mean ± standard error (sample SD / √n) per method and metric. */
function summarise(rows: Row[], timing: Record<string, unknown>): Summary {
  const summary: Summary = {};
  for (const method of Object.keys(timing)) {
    summary[method] = {};
    const byMetric = new Map<string, number[]>();
    for (const row of rows)
      if (row.method === method && Number.isFinite(row.value)) byMetric.set(row.metric, [...(byMetric.get(row.metric) ?? []), row.value]);
    for (const [metric, values] of byMetric) {
      const n = values.length;
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const variance = n > 1 ? values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
      summary[method]![metric] = { mean, standardError: Math.sqrt(variance / n), n };
    }
  }
  return summary;
}

function formatSummary(summary: Summary, timing: Record<string, { explainMs: number; metricsMs: number }>, totalMs: number, count: number): string {
  const metrics = [...new Set(Object.values(summary).flatMap((m) => Object.keys(m)))];
  const lines = [
    `# gradlens evaluate: ${count} inputs, ${(totalMs / 1000).toFixed(1)} s`,
    '',
    `| method | ${metrics.join(' | ')} | explain ms | metrics ms |`,
    `|---|${metrics.map(() => '---|').join('')}---|---|`,
    ...Object.entries(summary).map(([method, byMetric]) => {
      const cells = metrics.map((metric) =>
        byMetric[metric] ? `${byMetric[metric]!.mean.toFixed(3)} ± ${byMetric[metric]!.standardError.toFixed(3)}` : '–',
      );
      return `| ${method} | ${cells.join(' | ')} | ${timing[method]!.explainMs.toFixed(0)} | ${timing[method]!.metricsMs.toFixed(0)} |`;
    }),
  ];
  return lines.join('\n') + '\n';
}
