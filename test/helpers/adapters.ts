import type { AdapterOptions } from '../../src/gpu/adapter.ts';

/**
 * The two software adapters every whole-model check runs on: SwiftShader (Vulkan, core WebGPU) and Mesa's llvmpipe
 * (OpenGL ES, compatibility mode, with gallivm's loop budget). CI installs both (scripts/system-deps.sh).
 */
export const SOFTWARE_ADAPTERS: readonly { name: string; options: AdapterOptions }[] = [
  { name: 'SwiftShader (Vulkan)', options: { backend: 'vulkan' } },
  { name: 'llvmpipe (OpenGL ES, compatibility)', options: { backend: 'opengles' } },
];
