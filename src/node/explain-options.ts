import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { Baseline } from '../attribution/types.ts';
import { flagOf, optionUsage, optionUses, type OptionUse } from '../attribution/describe.ts';
import type { ExplainOptions } from '../attribution/explain.ts';
import type { TokenOptions } from '../attribution/tokens.ts';
import { METHOD_IDS, METHODS, type MethodId } from '../attribution/registry.ts';
import type { PreprocessOptions } from '../io/preprocess.ts';
import { readNpy, toFloat32 } from '../io/npy.ts';
import type { HeatmapOptions } from '../render/heatmap.ts';
import { COLORMAPS, type ColormapName } from '../render/colormaps.ts';
import { SIGNS, type Sign } from '../render/kernels.ts';
import { parseShard, type Shard } from './shard.ts';
import { parseTarget, TARGET_USAGE } from './target-flag.ts';
import { adapterOptions, COMMON_OPTIONS, UsageError } from './common-options.ts';
import type { AdapterOptions } from '../gpu/adapter.ts';

export const FORMATS = ['png', 'npy', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** The image preprocessing flags; sizes and channels default from the model's input shape. */
export interface PreprocessFlags {
  size?: [number, number];
  channels?: 1 | 3;
  order?: 'rgb' | 'bgr';
  scale?: number;
  mean?: number[];
  std?: number[];
  layout?: 'chw' | 'hwc';
}

export interface ExplainRun {
  model: string;
  inputs: string[];
  method: Omit<ExplainOptions, 'signal' | 'onProgress'>;
  /** Text models: the per-token reduction and the baseline token id (src/attribution/tokens.ts). */
  tokens: Omit<TokenOptions, 'layer'>;
  preprocess: PreprocessFlags;
  heatmap: HeatmapOptions;
  out: string;
  formats: Set<Format>;
  batch: number;
  resume: boolean;
  shard: Shard;
  json: boolean;
  adapter: AdapterOptions;
}

/** One flag per method option, generated from the method descriptions (src/attribution/describe.ts). */
export const METHOD_FLAGS: Readonly<Record<string, { type: 'string' }>> = Object.fromEntries(
  optionUses().map((use) => [flagOf(use.key), { type: 'string' }]),
);

export const EXPLAIN_OPTIONS = {
  method: { type: 'string', default: 'integrated-gradients' },
  target: { type: 'string' },
  score: { type: 'string' },
  seed: { type: 'string' },
  size: { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  channels: { type: 'string' },
  order: { type: 'string' },
  scale: { type: 'string' },
  layout: { type: 'string' },
  out: { type: 'string', short: 'o', default: 'gradlens-out' },
  format: { type: 'string', default: 'png,npy' },
  batch: { type: 'string', default: '16' },
  resume: { type: 'boolean', default: false },
  shard: { type: 'string' },
  'shard-count': { type: 'string' },
  colormap: { type: 'string' },
  sign: { type: 'string' },
  'baseline-token': { type: 'string' },
  reduce: { type: 'string' },
} as const;

export const EXPLAIN_USAGE = `gradlens explain MODEL.onnx INPUTS... [options]
  INPUTS       files, folders or quoted globs ('data/**/*.png'): PNG/JPEG images and .npy arrays (one input each;
               folders are searched recursively for these), CSV files named or globbed (one input per row after a
               header row; a 'label' column is ignored); for text models (integer ids in), .npy arrays of ids and
               JSON files named or globbed: {"tokens": [...], "ids": [...]}, or a list of them (one input each)
  --method M            any method id (default integrated-gradients): ${METHOD_IDS.join(', ')}
  method options (each method reads its own; the rest are ignored):
${optionUsage()}
  ${TARGET_USAGE}
  --score logit|probability|log-probability   what the gradient is taken of (default logit)
  --seed N              seeds every random draw (default: a fresh one, recorded in results.jsonl)
  images: --size H,W --channels 1|3 --order rgb|bgr --scale S (default 1/255) --mean a,b,c --std a,b,c --layout chw|hwc
          (size and channels default from the model's input shape)
  --out DIR             where outputs go (default gradlens-out)
  --format png,npy,json per input: the picture (a heat-map overlay PNG; a bar chart SVG for tabular inputs), attribution
                        .npy, record .json (default png,npy); every input always gets a line in DIR/results.jsonl
  --batch N             inputs per explain() call, packed into the same GPU chunks (default 16)
  --resume              skip inputs this same run (model, method, options, seed) finished in DIR; failed ones and
                        ones whose files are gone are done again; another run's results in DIR are an error
  --shard K/N           only the inputs whose path hash falls in shard K of N (K from 0); default K from
                        JOB_COMPLETION_INDEX with N from --shard-count or GRADLENS_SHARD_COUNT
  --colormap ${COLORMAPS.join('|')}   --sign ${SIGNS.join('|')}   (the heat maps)
  text models: attribution at the token embedding output (or --layer NAME), as Captum's LayerIntegratedGradients;
  --baseline-token ID   paths start from every id replaced by ID (a [PAD] or [MASK] id; default: zero embeddings)
  --reduce sum|l2       per token: the signed sum over the embedding (default) or its L2 norm`;

function number(name: string, text: string | undefined, check: (n: number) => boolean = Number.isFinite): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !check(value))
    throw new UsageError(`--${name} must be ${check === Number.isFinite ? 'a number' : 'a positive integer'}, got "${text}"`);
  return value;
}

const positiveInteger = (n: number) => Number.isInteger(n) && n > 0;

function list(name: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map(Number);
  if (!values.every(Number.isFinite)) throw new UsageError(`--${name} must be numbers separated by commas, got "${text}"`);
  return values;
}

function oneOf<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  if (!allowed.includes(text as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${text}"`);
  return text as T;
}

function readArray(name: string, file: string): Float32Array {
  try {
    const bytes = readFileSync(file);
    return toFloat32(readNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  } catch (error) {
    throw new UsageError(`--${name} ${file}: ${(error as Error).message}`);
  }
}

function baselineOf(text: string | undefined): Baseline | undefined {
  if (text === undefined) return undefined;
  if (text === 'zeros' || text === 'uniform') return text;
  const [kind, value] = text.split(':');
  if ((kind === 'constant' || kind === 'blur') && value !== undefined && Number.isFinite(Number(value))) {
    return kind === 'constant' ? { constant: Number(value) } : { blur: Number(value) };
  }
  if (text.endsWith('.npy')) return readArray('baseline', text);
  throw new UsageError(`--baseline must be zeros, uniform, constant:V, blur:SIGMA or a .npy file, got "${text}"`);
}

export function parseExplainArgs(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...EXPLAIN_OPTIONS, ...METHOD_FLAGS, ...COMMON_OPTIONS } });
}

/** A method option's value from its flag, read and checked by the option's kind. */
function optionValue(use: OptionUse, text: string): unknown {
  const name = flagOf(use.key);
  const { spec } = use;
  switch (spec.kind) {
    case 'integer':
      return number(name, text, (n) => Number.isInteger(n) && n >= (spec.min ?? -Infinity));
    case 'number':
      return number(name, text);
    case 'boolean':
      return oneOf(name, text, ['true', 'false'] as const) === 'true';
    case 'choice':
      return oneOf(name, text, spec.choices!);
    case 'baseline':
      return baselineOf(text);
    case 'baseline-set':
      return readArray(name, text);
    case 'tensor-name':
      return text;
    case 'index':
      return text.split(',').map((part) => number(name, part, (n) => Number.isInteger(n) && n >= 0)!);
  }
}

/** The method's options from the flags; every flag given is passed on, none is invented (`skip`: flags the command keeps for itself). */
export function methodOptions(values: Record<string, unknown>, skip: ReadonlySet<string> = new Set()): ExplainRun['method'] {
  const method = values.method as MethodId;
  if (!(method in METHODS)) throw new UsageError(`unknown method "${String(values.method)}"; choose one of ${METHOD_IDS.join(', ')}`);
  const options: Record<string, unknown> = { method };
  for (const use of optionUses()) {
    const text = values[flagOf(use.key)];
    if (typeof text === 'string' && !skip.has(use.key)) options[use.key] = optionValue(use, text);
  }
  if (values.score !== undefined) options.score = oneOf('score', values.score as string, ['logit', 'probability', 'log-probability'] as const);
  if (values.target !== undefined) options.target = parseTarget(values.target as string, (file) => readArray('target', file));
  if (values.seed !== undefined) options.seed = number('seed', values.seed as string, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 53);
  return options as unknown as ExplainRun['method'];
}

export function toRun(argv: string[], env: NodeJS.ProcessEnv): ExplainRun {
  let parsed;
  try {
    parsed = parseExplainArgs(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [model, ...inputs] = positionals;
  if (!model || inputs.length === 0) throw new UsageError('explain needs a model and at least one input');
  const size = list('size', values.size);
  if (size && (size.length !== 2 || !size.every(positiveInteger))) throw new UsageError(`--size must be H,W, got "${values.size}"`);
  const channels = oneOf('channels', values.channels, ['1', '3'] as const);
  const formats = values.format.split(',').map((f) => oneOf('format', f.trim(), FORMATS)!);
  const preprocess: PreprocessFlags = {};
  if (size) preprocess.size = [size[0]!, size[1]!];
  if (channels) preprocess.channels = Number(channels) as 1 | 3;
  const order = oneOf('order', values.order, ['rgb', 'bgr'] as const);
  if (order) preprocess.order = order;
  const scale = number('scale', values.scale);
  if (scale !== undefined) preprocess.scale = scale;
  const mean = list('mean', values.mean);
  if (mean) preprocess.mean = mean;
  const std = list('std', values.std);
  if (std) preprocess.std = std;
  const layout = oneOf('layout', values.layout, ['chw', 'hwc'] as const);
  if (layout) preprocess.layout = layout;
  const heatmap: HeatmapOptions = {};
  const colormap = oneOf<ColormapName>('colormap', values.colormap, COLORMAPS);
  if (colormap) heatmap.colormap = colormap;
  const sign = oneOf<Sign>('sign', values.sign, SIGNS);
  if (sign) heatmap.sign = sign;
  let shard;
  try {
    shard = parseShard(values.shard, values['shard-count'], env);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const tokens: ExplainRun['tokens'] = {};
  const reduce = oneOf('reduce', values.reduce, ['sum', 'l2'] as const);
  if (reduce) tokens.reduce = reduce;
  const baselineToken = number('baseline-token', values['baseline-token'], (n) => Number.isInteger(n) && n >= 0);
  if (baselineToken !== undefined) tokens.baselineToken = baselineToken;
  return {
    model,
    inputs,
    method: methodOptions(values),
    tokens,
    preprocess,
    heatmap,
    out: values.out,
    formats: new Set(formats),
    batch: number('batch', values.batch, positiveInteger)!,
    resume: values.resume,
    shard,
    json: values.json,
    adapter: adapterOptions(values, env),
  };
}

/** Image preprocessing for the model: [C, H, W] (or [H, W, C] with --layout hwc) fills in channels and size. */
export function preprocessingFor(inputShape: readonly number[], flags: PreprocessFlags): PreprocessOptions {
  const layout = flags.layout ?? 'chw';
  const dims = inputShape.length === 3 ? (layout === 'chw' ? inputShape : [inputShape[2]!, inputShape[0]!, inputShape[1]!]) : undefined;
  const channels = flags.channels ?? (dims && (dims[0] === 1 || dims[0] === 3) ? (dims[0] as 1 | 3) : 3);
  const options: PreprocessOptions = { channels, layout };
  const size = flags.size ?? (dims ? ([dims[1]!, dims[2]!] as [number, number]) : undefined);
  if (size) options.size = size;
  if (flags.order) options.order = flags.order;
  if (flags.scale !== undefined) options.scale = flags.scale;
  if (flags.mean) options.mean = flags.mean;
  if (flags.std) options.std = flags.std;
  return options;
}
