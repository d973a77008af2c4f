import { afterEach, describe, expect, it, vi } from 'vitest';
import { isSoftwareAdapter } from '../../src/gpu/adapter.ts';
import type { GradlensError } from '../../src/gpu/errors.ts';

// Dawn's adapter choice in Node (src/node/dawn.ts). The test projects pin GRADLENS_BACKEND=vulkan; these unpin it.
const pinned = process.env.GRADLENS_BACKEND;
const restore = (name: string, value: string | undefined) => (value === undefined ? delete process.env[name] : (process.env[name] = value));
afterEach(() => {
  restore('GRADLENS_BACKEND', pinned);
  vi.doUnmock('webgpu');
  vi.resetModules();
});

describe('adapter choice in Node', () => {
  it('with no backend chosen: a GPU when one answers, else llvmpipe through OpenGL ES before SwiftShader, and says why', async () => {
    delete process.env.GRADLENS_BACKEND;
    const { findAdapter } = await import('../../src/node/dawn.ts');
    const found = await findAdapter();
    if (isSoftwareAdapter(found.adapter.info)) {
      // This machine (and CI after `npm run setup`) has Mesa's EGL/GLES and SwiftShader both: the faster one wins.
      expect(found.backend).toBe('opengles');
      expect(found.adapter.info.device).toMatch(/llvmpipe/);
      expect(found.note).toMatch(/no GPU adapter; llvmpipe .* fastest software adapter.*GRADLENS_BACKEND=vulkan/);
    } else {
      expect(found.note ?? '').not.toMatch(/software/);
    }
  });

  it('GRADLENS_BACKEND overrides the choice', async () => {
    process.env.GRADLENS_BACKEND = 'vulkan';
    const { findAdapter } = await import('../../src/node/dawn.ts');
    expect((await findAdapter()).backend).toBe('vulkan');
  });

  it('an unknown GRADLENS_BACKEND is BAD_PARAMS listing the backends', async () => {
    process.env.GRADLENS_BACKEND = 'webgl';
    const { findAdapter } = await import('../../src/node/dawn.ts');
    const error = (await findAdapter().catch((e: GradlensError) => e)) as GradlensError;
    expect(error.code).toBe('BAD_PARAMS');
    expect(error.message).toMatch(/GRADLENS_BACKEND="webgl".*vulkan, opengles/);
  });

  it('without the optional peer `webgpu` installed: NO_WEBGPU naming the install', async () => {
    vi.doMock('webgpu', () => {
      throw new Error("Cannot find package 'webgpu' imported from dawn.js");
    });
    const { findAdapter } = await import('../../src/node/dawn.ts');
    const error = (await findAdapter().catch((e: GradlensError) => e)) as GradlensError;
    expect(error.code).toBe('NO_WEBGPU');
    expect(error.message).toMatch(/npm install webgpu/);
  });

  it('a backend with no adapter lists what to install', async () => {
    const driver = process.env.VK_ICD_FILENAMES;
    process.env.VK_ICD_FILENAMES = '/nonexistent/vulkan_icd.json'; // a driver chosen by the user, and missing
    try {
      const { findAdapter } = await import('../../src/node/dawn.ts');
      const error = (await findAdapter({ backend: 'vulkan' }).catch((e: GradlensError) => e)) as GradlensError;
      expect(error.code).toBe('NO_ADAPTER');
      expect(error.message).toMatch(/^No WebGPU adapter on vulkan\. Install one of: vulkan: .*apt-get install libvulkan1 chromium.*npm run setup/);
    } finally {
      restore('VK_ICD_FILENAMES', driver);
    }
  });
});
