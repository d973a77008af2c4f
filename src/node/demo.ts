import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { AdapterOptions } from '../gpu/adapter.ts';
import { createLens, type Lens } from '../lens.ts';
import { formatSummary, runExplain } from './explain-command.ts';
import { toRun } from './explain-options.ts';
import { EXIT } from './exit-codes.ts';
import { writeReport } from './report.ts';
import { PACKAGE_ROOT } from './package-root.ts';

/** The methods the demo shows, with settings that finish in seconds on a software adapter. */
export const DEMO_METHODS: readonly (readonly string[])[] = [
  ['--method', 'saliency'],
  ['--method', 'integrated-gradients', '--steps', '32'],
  ['--method', 'smoothgrad', '--samples', '16'],
  ['--method', 'grad-cam'],
];

/** `gradlens demo`: the bundled digit model on the sample digits with several methods, overlays and a report. */
export async function runDemo(out: string, adapter: AdapterOptions, log: (line: string) => void = console.log): Promise<number> {
  // Paths as short as the working folder allows: they name the inputs in results.jsonl and the report.
  const near = (path: string) => {
    const full = join(PACKAGE_ROOT, path);
    const short = relative(process.cwd(), full);
    return short.startsWith('..') ? full : short;
  };
  const model = near('models/digits.onnx');
  const samples = near('samples/digits');
  if (!existsSync(model) || !existsSync(samples)) {
    log(`the demo model or samples are missing (${model}, ${samples}): run the demo from a full checkout`);
    return EXIT.usage;
  }
  let code: number = EXIT.ok;
  const lens = await createLens(adapter);
  try {
    code = await runMethods(lens, model, samples, out, log);
  } finally {
    await lens.close();
  }
  if (code === EXIT.noGpu || code === EXIT.interrupted) return code;
  const report = await writeReport(out);
  log(`\noverlays: ${out}/<method>/*.png\nreport:   ${report.path}  (open it in a browser)`);
  return code;
}

async function runMethods(lens: Lens, model: string, samples: string, out: string, log: (line: string) => void): Promise<number> {
  let code: number = EXIT.ok;
  for (const method of DEMO_METHODS) {
    const folder = join(out, method[1]!);
    log(`\n${method.join(' ')}`);
    const run = toRun([model, samples, ...method, '--seed', '0', '--batch', '10', '--out', folder], {});
    const result = await runExplain(run, log, lens);
    if (result.summary) log(formatSummary(result.summary));
    if (result.code === EXIT.noGpu || result.code === EXIT.interrupted) return result.code;
    code = Math.max(code, result.code);
  }
  return code;
}
