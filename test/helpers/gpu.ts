import { afterAll } from 'vitest';
import { GpuContext } from '../../src/gpu/index.ts';

let opened: Promise<GpuContext> | undefined;

/**
 * One device per test file (Dawn on SwiftShader when no GPU is present), destroyed after the block that first asked
 * for it: call it at the top level of a file whose describe blocks share one device.
 */
export function testContext(): Promise<GpuContext> {
  if (!opened) {
    opened = GpuContext.open();
    afterAll(async () => (await opened)?.destroy());
  }
  return opened;
}
