import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { GpuContext } from '../../src/gpu/index.ts';
import type { AdapterOptions } from '../../src/gpu/adapter.ts';

/** Mesa's lavapipe, unpacked by scripts/lavapipe.sh (npm run setup on Debian bookworm): an adapter with `shader-f16`. */
export const LAVAPIPE_ICD = fileURLToPath(new URL('../../.cache/lavapipe/lvp_icd.json', import.meta.url));

/** The system's own lavapipe (Mesa 23 and later offer `shader-f16` through Dawn; bookworm's 22.3 is refused). */
const SYSTEM_LAVAPIPE = ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', '/usr/share/vulkan/icd.d/lvp_icd.json'];

/** Whether the machine has a GPU (DRM render nodes, NVIDIA's device files, WSL's dxg), as src/node/dawn.ts asks. */
function hasGpu(): boolean {
  const dri = existsSync('/dev/dri') && readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  return dri || existsSync('/dev/nvidia0') || existsSync('/dev/dxg');
}

/**
 * A device with `shader-f16` for a test file's f16 tests, opened before any other in its process: on a machine with
 * a GPU the test adapter; without one lavapipe, where scripts/lavapipe.sh unpacked it or the system has one (its
 * driver chosen by VK_ICD_FILENAMES, which the Vulkan loader reads when Dawn starts); otherwise `why` it is skipped.
 */
export async function halfContext(options: AdapterOptions = {}): Promise<{ context?: GpuContext; why: string }> {
  const lavapipe = hasGpu() ? undefined : [LAVAPIPE_ICD, ...SYSTEM_LAVAPIPE].find((path) => existsSync(path));
  if (lavapipe) process.env.VK_ICD_FILENAMES = lavapipe;
  let context: GpuContext;
  try {
    context = await GpuContext.open({ ...options, ...(lavapipe && { backend: 'vulkan' }) });
  } catch (error) {
    return { why: `no adapter with shader-f16 (${lavapipe ?? 'the test adapter'}: ${(error as Error).message.split('\n')[0]})` };
  }
  if (!context.report.shaderF16) {
    context.destroy();
    return { why: `no adapter with shader-f16 (${context.report.description}; run scripts/lavapipe.sh on Debian bookworm)` };
  }
  afterAll(() => context.destroy());
  return { context, why: '' };
}

/** An IEEE binary16 value from its bits. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** The distance between the two binary16 values nearest to x (finite, within ±65504). */
export function halfSpacing(x: number): number {
  const magnitude = Math.abs(x);
  return magnitude < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(magnitude)) - 10);
}
