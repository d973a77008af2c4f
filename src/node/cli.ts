import { parseArgs } from 'node:util';
import type { AdapterOptions, Backend } from '../gpu/adapter.ts';
import { doctor, formatDoctor } from './doctor.ts';

/** Exit codes, documented in the README: 0 done, 1 some inputs failed, 2 usage error, 3 no GPU or device lost. */
export const EXIT = { ok: 0, someFailed: 1, usage: 2, noGpu: 3 } as const;

const BACKENDS: readonly Backend[] = ['vulkan', 'opengles', 'metal', 'd3d12', 'd3d11', 'null'];

const USAGE = `gradlens: gradient-based attribution on WebGPU

usage: gradlens <command> [options]

commands
  doctor        find the GPU adapter, run a test kernel, print what it offers and a verdict

options (every command)
  --backend B   vulkan | opengles | metal | d3d12 | d3d11   (env GRADLENS_BACKEND)
  --adapter S   use the adapter whose name contains S        (env GRADLENS_ADAPTER)
  --json        print machine-readable JSON
  -h, --help    this text`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        backend: { type: 'string' },
        adapter: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const backend = values.backend ?? process.env.GRADLENS_BACKEND;
  if (backend !== undefined && !BACKENDS.includes(backend as Backend)) {
    console.error(`unknown backend "${backend}"; choose one of ${BACKENDS.join(', ')}`);
    return EXIT.usage;
  }
  const options: AdapterOptions = {};
  if (backend) options.backend = backend as Backend;
  const adapter = values.adapter ?? process.env.GRADLENS_ADAPTER;
  if (adapter) options.adapter = adapter;

  switch (command) {
    case 'doctor': {
      const result = await doctor(options);
      console.log(values.json ? JSON.stringify(result, null, 2) : formatDoctor(result));
      return result.usable ? EXIT.ok : EXIT.noGpu;
    }
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return EXIT.usage;
  }
}

// Exit code set, not process.exit(): output is flushed and the process ends once Dawn lets go.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = EXIT.noGpu;
  },
);
