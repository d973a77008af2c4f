// gradlens tune: measures this adapter's kernel choices (src/gpu/tune.ts) on the shapes of the issue-17 workload (the
// digit CNN, IG-64 midpoint and SmoothGrad-16 on one input; --large adds the small CNN at 224×224×3) and of any ONNX
// models named, and writes them to the autotune cache that later runs read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ExplainOptions } from '../attribution/explain.ts';
import type { Graph } from '../graph/ir.ts';
import { sizeOf } from '../graph/ir.ts';
import { smallCnn } from '../graph/models.ts';
import { createLens } from '../lens.ts';
import { loadOnnx } from '../onnx/load.ts';
import { adapterOptions, COMMON_OPTIONS, UsageError } from './common-options.ts';
import { EXIT } from './exit-codes.ts';
import { PACKAGE_ROOT } from './package-root.ts';

export const TUNE_USAGE = `usage: gradlens tune [MODEL.onnx ...] [--large] [--again] [--cache DIR] [--backend B]

Measures, on this adapter, which kernel each convolution and matrix product shape runs fastest with (a convolution's
direct, blocked or implicit-GEMM kernel; a GEMM's tile or its kernel without workgroup memory), and keeps the choices in
the autotune cache, keyed by the adapter and the kernels' version. Later runs on the same adapter read it; without it
they use built-in heuristics. Default workload: the demo digit CNN (IG-64 and SmoothGrad-16 on one input).

  MODEL.onnx   also tune the shapes of these models (one input of the model's shape, the same two methods)
  --large      also the small CNN at 224×224×3 (minutes on a software adapter)
  --again      measure again shapes already in the cache
  --cache DIR  the cache folder (default $XDG_CACHE_HOME/gradlens, else ~/.cache/gradlens)
  --backend B, --adapter S, --precision P, --json   as for every command`;

const METHODS: { label: string; options: ExplainOptions }[] = [
  { label: 'IG-64 midpoint', options: { method: 'integrated-gradients', steps: 64, rule: 'riemann_middle' } as ExplainOptions },
  { label: 'SmoothGrad-16', options: { method: 'smoothgrad', samples: 16, seed: 5 } as ExplainOptions },
];

export async function tuneCommand(args: string[], log: (line: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { ...COMMON_OPTIONS, large: { type: 'boolean' }, again: { type: 'boolean' }, cache: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(TUNE_USAGE);
    return EXIT.ok;
  }
  const models: { name: string; graph: Graph }[] = [
    { name: 'digits.onnx', graph: loadOnnx(new Uint8Array(readFileSync(join(PACKAGE_ROOT, 'models/digits.onnx')))) },
  ];
  if (values.large) models.push({ name: 'smallCnn 224×224×3', graph: smallCnn({ inputChannels: 3, inputSize: 224 }) });
  for (const path of positionals) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (error) {
      throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
    }
    models.push({ name: path, graph: loadOnnx(bytes) });
  }
  const lens = await createLens({ ...adapterOptions(values, process.env), autotune: true, ...(values.cache && { tuneCache: values.cache }) });
  const start = performance.now();
  try {
    const context = await lens.runtime.context();
    const report = context.report;
    if (report.tuning?.note) log(report.tuning.note);
    if (values.again) context.tuning.choices.clear();
    const before = new Set(context.tuning.choices.keys());
    for (const { name, graph } of models) {
      const model = await lens.load(graph);
      const input = new Float32Array(sizeOf(graph.inputShape)).map((_, i) => 0.5 + 0.5 * Math.sin(i));
      for (const method of METHODS) {
        const t = performance.now();
        await model.explain(input, { ...method.options, target: 'top1' });
        log(`· ${name}, ${method.label}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
    }
    const measured = [...context.tuning.choices].filter(([key]) => !before.has(key));
    const summary = {
      adapter: report.description || report.device || report.architecture,
      backend: report.backend,
      cache: context.tuning.where ?? null,
      measured: Object.fromEntries(measured),
      entries: context.tuning.choices.size,
      seconds: Math.round((performance.now() - start) / 100) / 10,
    };
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    else {
      console.log(`autotune: ${summary.adapter} (${summary.backend}), ${measured.length} shape classes measured in ${summary.seconds} s`);
      for (const [key, record] of measured) {
        const times = Object.entries(record.ms)
          .map(([name, ms]) => `${name} ${ms.toFixed(2)}`)
          .join(', ');
        console.log(`  ${key}: ${record.choice}   (ms: ${times})`);
      }
      console.log(`cache: ${summary.cache ?? 'none'} (${summary.entries} shape classes for this adapter)`);
    }
    return EXIT.ok;
  } finally {
    await lens.close();
  }
}
