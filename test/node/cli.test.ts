import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('--precision f16 on SwiftShader (no shader-f16): says why and what to use instead', async () => {
    const { stdout } = await gradlens(['doctor', '--precision', 'f16']);
    expect(stdout).toMatch(/DEVICE_LIMIT\] precision 'f16' needs the shader-f16 feature, which SwiftShader.*use precision 'f32'/);
    expect(stdout).toMatch(/verdict\s+not usable as asked/);
  });

  it('exits 2 on a usage error', async () => {
    expect((await gradlens(['doctor', '--precision', 'f64'])).code).toBe(2);
    expect((await gradlens(['doctor', '--backend', 'directx'])).code).toBe(2);
    expect((await gradlens(['frobnicate'])).code).toBe(2);
  });
});

describe('gradlens tune', () => {
  it('measures the demo model’s shape classes into the cache it names, and doctor then reports them', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'gradlens-cli-tune-'));
    // llvmpipe: the faster software adapter to tune on (about 30 s on a loaded 2-core machine).
    const env = { ...process.env, EGL_PLATFORM: 'surfaceless', GRADLENS_TUNE_CACHE: cache };
    const tuned = await run('node', [cli, 'tune', '--backend', 'opengles', '--cache', cache], { env, timeout: 600_000 });
    expect(tuned.stdout).toMatch(/autotune: .* \(opengles\), \d+ shape classes measured/);
    expect(tuned.stdout).toMatch(/conv2d-forward:1>8:k3x3:s1x1:d1x1:p\d+: (direct|implicit-gemm|block|block8|ubo|ubo8) /);
    expect(readdirSync(cache).filter((name) => /^tune-[0-9a-f]{8}\.json$/.test(name))).toHaveLength(1);
    const doctor = await run('node', [cli, 'doctor', '--backend', 'opengles'], { env, timeout: 120_000 });
    expect(doctor.stdout).toMatch(/autotune\s+\d+ shape classes tuned in /);
  }, 900_000);

  it('prints its usage with --help', async () => {
    const { code, stdout } = await gradlens(['tune', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/usage: gradlens tune/);
  });
});
