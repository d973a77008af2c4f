// gradlens bench: cold start, kernel roofline, whole networks, attribution methods and peers measured in one run on
// one adapter; writes bench.json and bench.html, prints a table, and with --compare the speed-up per metric.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { attributionSuite, digitsCase, type AttributionCase, type MethodRun } from '../../bench/attribution.ts';
import { coldStart } from '../../bench/cold-start.ts';
import { compare, formatComparison } from '../../bench/compare.ts';
import { benchHtml } from '../../bench/html.ts';
import { kernelSuite } from '../../bench/kernels.ts';
import type { Scale } from '../../bench/measure.ts';
import { networkSuite } from '../../bench/networks.ts';
import { PEERS_DEFAULT, SUITES, type BenchResult, type PeerSuite, type Suite } from '../../bench/result.ts';
import { coldStartLine, formatBench } from '../../bench/table.ts';
import type { AdapterOptions } from '../gpu/adapter.ts';
import type { GpuContext } from '../gpu/device.ts';
import { smallCnn, resnet18 } from '../graph/models.ts';
import { adapterOptions, COMMON_OPTIONS, UsageError } from './common-options.ts';
import { EXIT } from './exit-codes.ts';

export const BENCH_USAGE = `usage: gradlens bench [--quick|--full|--tiny] [--suite LIST] [--peers LIST] [--out DIR] [--compare PREVIOUS.json]

  --suite LIST      any of ${SUITES.join(',')} (default all); the cold start and the adapter's report always
  --quick           reduced sizes (the default on a software adapter)     --full   the named sizes (default elsewhere)
  --tiny            a smoke test of every path, seconds long; its figures mean little
  --peers LIST      TF.js backends to run beside gradlens: webgpu,wasm (default both, where installed; "" for none)
  --repeats N       timed calls per attribution figure (default 3)
  --out DIR         where bench.json and bench.html go (default gradlens-bench)
  --compare FILE    print each metric's speed-up against a saved bench.json
  --backend B, --adapter S, --precision P, --json   as for every command`;

export interface BenchOptions {
  adapter: AdapterOptions;
  /** Undefined: quick on a software adapter, full elsewhere. */
  scale?: Scale;
  suites: readonly Suite[];
  peers: readonly string[];
  repeats: number;
  log: (line: string) => void;
  /** Called with the result so far after each suite: a run stopped on a slow adapter keeps what it measured. */
  onSuite?: (partial: BenchResult) => void;
}

/** The attribution suite's models and methods per scale: the demo digit CNN and a 224×224×3 CNN (ResNet-18 at full). */
function attributionWork(scale: Scale, notes: string[]): { cases: AttributionCase[]; methods: MethodRun[] } {
  const [ig, sg] = scale === 'tiny' ? [8, 4] : [64, 32];
  const large =
    scale === 'full'
      ? { model: 'resnet18 224×224×3', graph: resnet18(), batch: 4 }
      : scale === 'quick'
        ? { model: 'smallCnn 224×224×3', graph: smallCnn({ inputChannels: 3, inputSize: 224 }), batch: 1 }
        : { model: 'smallCnn 32×32×3', graph: smallCnn({ inputChannels: 3, inputSize: 32 }), batch: 1 };
  return {
    cases: [digitsCase(scale === 'full' ? 32 : scale === 'quick' ? 2 : 1, notes), large],
    methods: [
      { id: 'integrated-gradients', label: `IG-${ig}`, options: { steps: ig } },
      { id: 'smoothgrad', label: `SmoothGrad-${sg}`, options: { samples: sg } },
      { id: 'grad-cam', label: 'Grad-CAM', options: {} },
    ],
  };
}

/**
 * The issue-17 workload: 64-step midpoint IG and 16-sample SmoothGrad, one input per call, on the digit CNN (28×28×1)
 * and on the same small CNN at 224×224×3 (32×32×3 at --tiny).
 */
async function peerSuite(gpu: GpuContext, options: BenchOptions, scale: Scale, notes: string[]): Promise<PeerSuite> {
  const [ig, sg] = scale === 'tiny' ? [8, 4] : [64, 16];
  const side = scale === 'tiny' ? 32 : 224;
  const suite = await attributionSuite(gpu, {
    cases: [digitsCase(1, notes), { model: `smallCnn ${side}×${side}×3`, graph: smallCnn({ inputChannels: 3, inputSize: side }), batch: 1 }],
    methods: [
      { id: 'integrated-gradients', label: `IG-${ig} midpoint`, options: { steps: ig, rule: 'riemann_middle' } },
      { id: 'smoothgrad', label: `SmoothGrad-${sg}`, options: { samples: sg } },
    ],
    peers: options.peers,
    repeats: options.repeats,
    budgetMs: scale === 'full' ? 120_000 : 30_000,
    log: options.log,
  });
  let igSumDifference = 0;
  for (const row of suite.rows.filter((r) => r.method.startsWith('IG'))) {
    const reference = row.sum.gradlens!;
    for (const sum of Object.values(row.sum)) igSumDifference = Math.max(igSumDifference, Math.abs(sum - reference) / (Math.abs(reference) || 1));
  }
  return { ...suite, igSumDifference, igSumsAgree: igSumDifference <= 1e-3 };
}

const REDUCED: Record<Exclude<Scale, 'full'>, string> = {
  quick:
    'GEMM up to 512, convolutions at batch 4, ResNet-18/50 at 64×64 (batches 4 and 2), a small CNN at 224×224×3 instead of ResNet-18, ' +
    'digit batch 2; --full for 224×224 ResNets at batches 32/8 and ResNet-18 attributions',
  tiny: 'smoke-test sizes (GEMM 64, width-4 ResNets at 32×32, IG-8, SmoothGrad-4): the figures only show every path runs',
};

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [];
  const { gpu, coldStart: cold } = await coldStart(options.adapter, notes);
  options.log(coldStartLine(cold));
  try {
    const scale = options.scale ?? (gpu.report.software ? 'quick' : 'full');
    const result: BenchResult = { gradlens: '0.1.0', date: new Date().toISOString(), scale, adapter: gpu.report, coldStart: cold, notes };
    if (scale !== 'full') result.reduced = `${scale === 'quick' && gpu.report.software ? 'software adapter: ' : ''}${REDUCED[scale]}`;
    const run = (suite: Suite) => options.suites.includes(suite);
    if (run('kernels')) {
      options.log('kernels…');
      result.kernels = await kernelSuite(gpu, scale);
      options.onSuite?.(result);
    }
    if (run('networks')) {
      options.log('networks…');
      result.networks = await networkSuite(gpu, scale);
      options.onSuite?.(result);
    }
    if (run('attribution')) {
      options.log('attribution methods…');
      const budgetMs = scale === 'full' ? 120_000 : 30_000;
      result.attribution = await attributionSuite(gpu, {
        ...attributionWork(scale, notes),
        peers: options.peers,
        repeats: options.repeats,
        budgetMs,
        log: options.log,
      });
      options.onSuite?.(result);
    }
    if (run('peers')) {
      options.log('peers…');
      result.peers = await peerSuite(gpu, options, scale, notes);
    }
    return result;
  } finally {
    gpu.destroy();
  }
}

function list<T extends string>(value: string, known: readonly T[], flag: string): T[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = items.find((item) => !known.includes(item as T));
  if (unknown) throw new UsageError(`${flag}: "${unknown}" is not one of ${known.join(', ')}`);
  return items as T[];
}

export async function benchCommand(args: string[], log: (line: string) => void = console.error): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        ...COMMON_OPTIONS,
        quick: { type: 'boolean', default: false },
        full: { type: 'boolean', default: false },
        tiny: { type: 'boolean', default: false },
        suite: { type: 'string', default: SUITES.join(',') },
        peers: { type: 'string', default: PEERS_DEFAULT.join(',') },
        repeats: { type: 'string', default: '3' },
        out: { type: 'string', short: 'o', default: 'gradlens-bench' },
        compare: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(BENCH_USAGE);
    return EXIT.ok;
  }
  if (positionals.length) throw new UsageError(`bench takes no arguments, got ${positionals.join(' ')}`);
  const scales = (['tiny', 'quick', 'full'] as const).filter((scale) => values[scale]);
  if (scales.length > 1) throw new UsageError(`choose one of --${scales.join(', --')}`);
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) throw new UsageError(`--repeats: "${values.repeats}" is not a whole number ≥ 1`);
  // Read the saved run first: a wrong path should fail in a second, not after the whole bench.
  let previous: BenchResult | undefined;
  if (values.compare) {
    try {
      previous = JSON.parse(readFileSync(values.compare, 'utf8')) as BenchResult;
    } catch (error) {
      throw new UsageError(`--compare: cannot read ${values.compare} as bench.json (${(error as Error).message})`);
    }
  }
  const out = resolve(values.out!);
  mkdirSync(out, { recursive: true });
  const save = (result: BenchResult) => {
    writeFileSync(join(out, 'bench.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(out, 'bench.html'), benchHtml(result));
  };
  const result = await runBench({
    adapter: adapterOptions(values, process.env),
    ...(scales[0] ? { scale: scales[0] } : {}),
    suites: list(values.suite!, SUITES, '--suite'),
    peers: list(values.peers!, PEERS_DEFAULT, '--peers'),
    repeats,
    log,
    onSuite: save,
  });
  save(result);
  const comparison = previous ? compare(previous, result) : undefined;
  if (values.json) console.log(JSON.stringify(comparison ? { ...result, comparison } : result));
  else {
    console.log(formatBench(result));
    if (comparison) console.log(`\n${formatComparison(comparison, values.compare!)}`);
    console.log(`\nwrote ${join(out, 'bench.json')} and ${join(out, 'bench.html')}`);
  }
  return EXIT.ok;
}
