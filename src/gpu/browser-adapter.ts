import type { AdapterOptions, FoundAdapter } from './adapter.ts';
import { GradlensError } from './errors.ts';
import { browserTuneStore, type TuneStore } from './tune.ts';

/** Browsers: the page's navigator.gpu. Backend and adapter choice belong to the browser. */
export async function findAdapter(options: AdapterOptions = {}): Promise<FoundAdapter> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new GradlensError(
      'NO_WEBGPU',
      'WebGPU is not available in this browser. Use a current Chrome, Edge or Safari 26+ over https or localhost ' +
        '(Firefox: enable dom.webgpu.enabled), or run gradlens in Node.',
    );
  }
  const request: GPURequestAdapterOptions = { featureLevel: options.featureLevel ?? 'core' };
  if (options.powerPreference) request.powerPreference = options.powerPreference;
  const adapter = await gpu.requestAdapter(request);
  if (!adapter) {
    throw new GradlensError(
      'NO_ADAPTER',
      'This browser has WebGPU but offered no GPU adapter. Check chrome://gpu, update the GPU driver, ' +
        'or allow a software adapter (Chrome: --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader).',
    );
  }
  return { adapter, backend: 'browser' };
}

let store: TuneStore | undefined;

/** Browsers: the autotune cache in localStorage (or memory), one per page. */
export function tuneStore(_options: AdapterOptions = {}): TuneStore | undefined {
  return (store ??= browserTuneStore());
}
