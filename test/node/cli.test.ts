import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = new URL('../../dist/node/cli.js', import.meta.url).pathname;

/** Runs the built CLI as a user would; the environment has no Vulkan driver chosen, so discovery is tested too. */
async function gradlens(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.VK_ICD_FILENAMES;
  delete env.VK_DRIVER_FILES;
  try {
    const { stdout, stderr } = await run('node', [cli, ...args], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number | string; killed?: boolean; stdout: string; stderr: string };
    if (e.killed) throw new Error(`gradlens ${args.join(' ')} did not exit by itself within 60 s`);
    return { code: Number(e.code), stdout: e.stdout, stderr: e.stderr };
  }
}

describe('gradlens doctor', () => {
  beforeAll(() => {
    if (!existsSync(cli)) throw new Error('dist/node/cli.js is missing: run `npm run build` (npm ci does it)');
  });

  it('finds SwiftShader by itself, runs a kernel, exits 0 and exits by itself', async () => {
    const { code, stdout } = await gradlens(['doctor']);
    expect(stdout).toMatch(/adapter\s+SwiftShader/);
    expect(stdout).toMatch(/software \(CPU\)/);
    expect(stdout).toMatch(/self-test\s+ReLU forward and backward on 1000 values: exact/);
    expect(stdout).toMatch(/verdict\s+usable/);
    expect(code).toBe(0);
  });

  it('prints JSON with --json', async () => {
    const { code, stdout } = await gradlens(['doctor', '--json']);
    const result = JSON.parse(stdout);
    expect(result.usable).toBe(true);
    expect(result.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 2 ** 20);
    expect(code).toBe(0);
  });

  it('exits 3 with advice when no adapter exists', async () => {
    const { code, stdout } = await gradlens(['doctor', '--backend', 'd3d12']);
    expect(stdout).toMatch(/NO_ADAPTER/);
    expect(stdout).toMatch(/verdict\s+no usable WebGPU adapter/);
    expect(code).toBe(3);
  });

  it('exits 2 on a usage error', async () => {
    expect((await gradlens(['doctor', '--backend', 'directx'])).code).toBe(2);
    expect((await gradlens(['frobnicate'])).code).toBe(2);
  });
});
