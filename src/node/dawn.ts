import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { create, globals } from 'webgpu';
import type { AdapterOptions, Backend, FoundAdapter } from '../gpu/adapter.ts';
import { GradlensError } from '../gpu/errors.ts';

/** Debian's chromium ships SwiftShader, a Vulkan driver on the CPU; other distributions put it elsewhere. */
export const SOFTWARE_VULKAN_DRIVERS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib64/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

// Software drivers probe for a window system and complain on stderr when this is unset; headless, any private dir will do.
process.env.XDG_RUNTIME_DIR ??= tmpdir();

// Dawn's GPU* classes (GPUBufferUsage, GPUMapMode, ...) are what browser code finds on globalThis.
Object.assign(globalThis, globals);

/** Node: Dawn. Tries the requested (or default) backend; on Vulkan with no driver answering, falls back to SwiftShader. */
export async function findAdapter(options: AdapterOptions = {}): Promise<FoundAdapter> {
  const backend: Backend = options.backend ?? defaultBackend();
  if (backend === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
  const featureLevel = options.featureLevel ?? (backend === 'opengles' ? 'compatibility' : 'core');
  const request = async () => {
    const flags = [`backend=${backend}`];
    if (options.adapter) flags.push(`adapter=${options.adapter}`);
    const request: GPURequestAdapterOptions = { featureLevel };
    if (options.powerPreference) request.powerPreference = options.powerPreference;
    const instance = create(flags);
    const adapter = await instance.requestAdapter(request);
    return adapter && { adapter, keepAlive: instance };
  };

  const found = await request();
  if (found) return { ...found, backend };

  const userChoseDriver = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES;
  const software = SOFTWARE_VULKAN_DRIVERS.find((path) => existsSync(path));
  if (backend === 'vulkan' && !userChoseDriver && software) {
    process.env.VK_ICD_FILENAMES = software;
    const fallback = await request();
    if (fallback) return { ...fallback, backend, note: `no hardware Vulkan adapter; using SwiftShader (${software})` };
  }
  throw new GradlensError('NO_ADAPTER', noAdapterAdvice(backend, options, software));
}

function defaultBackend(): Backend {
  if (process.platform === 'darwin') return 'metal';
  if (process.platform === 'win32') return 'd3d12';
  return 'vulkan';
}

function noAdapterAdvice(backend: Backend, options: AdapterOptions, software: string | undefined): string {
  const wanted = options.adapter ? ` matching "${options.adapter}"` : '';
  if (backend === 'vulkan') {
    return (
      `No WebGPU adapter${wanted} on the Vulkan backend. Install a GPU's Vulkan driver, or a software one: ` +
      `on Debian/Ubuntu \`apt-get install libvulkan1 chromium\` (gradlens then finds SwiftShader by itself` +
      (software ? `; it tried ${software}` : '') +
      `), or point VK_ICD_FILENAMES at a driver's ICD json. Another route: GRADLENS_BACKEND=opengles with ` +
      '`apt-get install libegl1 libgles2 libgl1-mesa-dri`.'
    );
  }
  if (backend === 'opengles') {
    return `No WebGPU adapter${wanted} on OpenGL ES. Install Mesa's EGL/GLES (\`apt-get install libegl1 libgles2 libgl1-mesa-dri\`) or use GRADLENS_BACKEND=vulkan.`;
  }
  return `No WebGPU adapter${wanted} on the ${backend} backend. Update the GPU driver or choose another backend with GRADLENS_BACKEND.`;
}
