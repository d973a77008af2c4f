import { parseArgs } from 'node:util';
import { isGradlensError } from '../gpu/errors.ts';
import { benchCommand } from './bench-command.ts';
import { adapterOptions, COMMON_OPTIONS, UsageError } from './common-options.ts';
import { runDemo } from './demo.ts';
import { runOcrDemo } from './ocr-demo.ts';
import { doctor, formatDoctor } from './doctor.ts';
import { evaluateCommand } from './evaluate-command.ts';
import { formatSummary, runExplain } from './explain-command.ts';
import { EXPLAIN_USAGE, toRun } from './explain-options.ts';
import { EXIT } from './exit-codes.ts';
import { fileSystemReason, isFileSystemError } from './out-folder.ts';
import { writeReport } from './report.ts';
import { tuneCommand } from './tune-command.ts';

export { EXIT };

const USAGE = `gradlens: gradient-based attribution on WebGPU

usage: gradlens <command> [options]

commands
  doctor                     find the GPU adapter, run a test kernel, print what it offers and a verdict
  explain MODEL INPUTS...    explain many inputs (images, .npy, CSV rows) with one method; see gradlens explain --help
  evaluate MODEL INPUTS...   run methods and metrics (deletion/insertion, infidelity, sanity checks, ...);
                             writes metrics.jsonl, a summary table and SVG charts; see gradlens evaluate --help
  report OUT_DIR             write OUT_DIR/report.html, a static page of the results in OUT_DIR (and its subfolders)
  bench                      kernels, networks, attribution methods and TF.js peers measured in one run on one
                             adapter, cold start split into compile and run; bench.json, bench.html, --compare
                             a saved run; see gradlens bench --help
  tune [MODEL.onnx ...]      measure which kernels run fastest on this adapter for the demo model's (and MODEL's)
                             shapes and keep the choices in the autotune cache (~/.cache/gradlens) that later runs
                             read; see gradlens tune --help
  demo [--out DIR]           the bundled digit model on the sample digits with four methods, overlays and a report
                             (default DIR gradlens-demo)
  demo --ocr [--out DIR]     PP-OCRv4 (a checkout's devDependency): which pixels of samples/text-line.png made each
                             character the recognizer read (a heat map per character), and the direction classifier

options (every command)
  --backend B   vulkan | opengles | metal | d3d12 | d3d11   (env GRADLENS_BACKEND)
  --adapter S   use the adapter whose name contains S        (env GRADLENS_ADAPTER)
  --precision P f32 (default) | f16: the kernels read f16 copies of the weights (needs shader-f16; docs/performance.md)
  --json        print machine-readable JSON
  -h, --help    this text

exit codes
  0 all done; 1 some inputs failed (each recorded with its error in results.jsonl); 2 usage error (options, or an
  output folder that cannot be made, written or is in use by another run); 3 no usable GPU adapter, or the device was
  lost; 130 interrupted (Ctrl-C: finished batches are kept)`;

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, allowPositionals: true, options: { ...COMMON_OPTIONS, ...options } });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0]?.startsWith('-') ? undefined : argv[0];
  const rest = command ? argv.slice(1) : argv;
  const help = rest.includes('--help') || rest.includes('-h');
  if (!command || (help && command !== 'explain' && command !== 'evaluate' && command !== 'bench' && command !== 'tune')) {
    console.log(USAGE);
    return help ? EXIT.ok : EXIT.usage;
  }
  switch (command) {
    case 'doctor': {
      const { values, positionals } = parse(rest, {});
      if (positionals.length) throw new UsageError(`doctor takes no arguments, got ${positionals.join(' ')}`);
      const result = await doctor(adapterOptions(values, process.env));
      console.log(values.json ? JSON.stringify(result, null, 2) : formatDoctor(result));
      return result.usable ? EXIT.ok : EXIT.noGpu;
    }
    case 'explain': {
      if (help) {
        console.log(EXPLAIN_USAGE);
        return EXIT.ok;
      }
      const run = toRun(rest, process.env);
      const { code, summary } = await runExplain(run, (line) => console.error(line));
      if (summary) console.log(run.json ? JSON.stringify({ event: 'summary', ...summary }) : formatSummary(summary));
      return code;
    }
    case 'evaluate':
      return evaluateCommand(rest, (line) => console.error(line));
    case 'bench':
      return benchCommand(rest, (line) => console.error(line));
    case 'tune':
      return tuneCommand(rest, (line) => console.error(line));
    case 'report': {
      const { values, positionals } = parse(rest, {});
      adapterOptions(values, process.env);
      if (positionals.length !== 1) throw new UsageError('report needs one argument: an output folder of gradlens explain or evaluate');
      const report = await writeReport(positionals[0]!).catch((error: Error) => {
        throw new UsageError(error.message);
      });
      console.log(values.json ? JSON.stringify(report) : `report: ${report.path} (${report.inputs} inputs)`);
      return EXIT.ok;
    }
    case 'demo': {
      const { values, positionals } = parse(rest, { out: { type: 'string', short: 'o', default: 'gradlens-demo' }, ocr: { type: 'boolean' } });
      if (positionals.length) throw new UsageError(`demo takes no arguments, got ${positionals.join(' ')}`);
      return (values.ocr ? runOcrDemo : runDemo)(values.out, adapterOptions(values, process.env));
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

// Exit code set, not process.exit(): output is flushed and the process ends once Dawn lets go.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Interrupted: what is written is whole; kernels of an abandoned batch may still compile, and are not waited for.
    if (code === EXIT.interrupted) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof UsageError || isFileSystemError(error)) {
      const message = isFileSystemError(error) ? `${error.path ?? 'a file'}: ${fileSystemReason(error)}` : (error as UsageError).message;
      console.error(`${message}\n\nsee gradlens --help`);
      process.exitCode = EXIT.usage;
      return;
    }
    console.error(isGradlensError(error) ? `[${error.code}] ${error.message}` : error instanceof Error ? error.stack : error);
    process.exitCode = EXIT.noGpu;
  },
);
