import type { AdapterOptions, Backend } from '../gpu/adapter.ts';

/** A mistake in the command line: exit code 2 with the message. */
export class UsageError extends Error {}

const BACKENDS: readonly Backend[] = ['vulkan', 'opengles', 'metal', 'd3d12', 'd3d11', 'null'];

/** Options every command takes. */
export const COMMON_OPTIONS = {
  backend: { type: 'string' },
  adapter: { type: 'string' },
  precision: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** --backend / --adapter, falling back to GRADLENS_BACKEND / GRADLENS_ADAPTER, and --precision. */
export function adapterOptions(
  values: { backend?: string | undefined; adapter?: string | undefined; precision?: string | undefined },
  env: NodeJS.ProcessEnv,
): AdapterOptions {
  const backend = values.backend ?? env.GRADLENS_BACKEND;
  if (backend !== undefined && !BACKENDS.includes(backend as Backend))
    throw new UsageError(`unknown backend "${backend}"; choose one of ${BACKENDS.join(', ')}`);
  const options: AdapterOptions = {};
  if (backend) options.backend = backend as Backend;
  const adapter = values.adapter ?? env.GRADLENS_ADAPTER;
  if (adapter) options.adapter = adapter;
  if (values.precision !== undefined && values.precision !== 'f32' && values.precision !== 'f16')
    throw new UsageError(`unknown precision "${values.precision}"; choose f32 or f16`);
  if (values.precision) options.precision = values.precision;
  return options;
}
