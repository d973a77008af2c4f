import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isSoftwareAdapter, type AdapterOptions, type Backend, type FoundAdapter } from '../gpu/adapter.ts';
import { GradlensError } from '../gpu/errors.ts';
import type { TuneStore } from '../gpu/tune.ts';
import { fileTuneStore } from './tune-store.ts';

/** Debian's chromium ships SwiftShader, a Vulkan driver on the CPU; other distributions put it elsewhere. */
export const SOFTWARE_VULKAN_DRIVERS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib64/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

/** Dawn's toggle that leaves workgroup-memory zeroing to the Vulkan driver; see findAdapter. */
export const SWIFTSHADER_SLOW_TOGGLE = 'use_vulkan_zero_initialize_workgroup_memory_extension';

const BACKENDS: readonly Backend[] = ['vulkan', 'opengles', 'metal', 'd3d12', 'd3d11', 'null'];

/** What the system needs for each route, said once for the error that lists them. */
const INSTALL = {
  vulkan: "a GPU's Vulkan driver, or SwiftShader: `apt-get install libvulkan1 chromium` (gradlens finds it by itself)",
  opengles: "Mesa's llvmpipe through OpenGL ES: `apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri`",
};

// Software drivers probe for a window system and complain on stderr when this is unset; headless, any private dir will do.
process.env.XDG_RUNTIME_DIR ??= tmpdir();

type Dawn = typeof import('webgpu');
let dawn: Promise<Dawn> | undefined;

/** Dawn (npm `webgpu`) is an optional peer dependency: browser users never install its 130 MB of binaries. */
function loadDawn(): Promise<Dawn> {
  dawn ??= import('webgpu').then(
    (module) => {
      // Dawn's GPU* classes (GPUBufferUsage, GPUMapMode, ...) are what browser code finds on globalThis.
      Object.assign(globalThis, module.globals);
      return module;
    },
    (cause: unknown) => {
      dawn = undefined;
      throw new GradlensError(
        'NO_WEBGPU',
        'gradlens in Node runs on Dawn, the npm package `webgpu`, which is not installed: run `npm install webgpu` ' +
          `(${String((cause as Error)?.message ?? cause).split('\n')[0]}).`,
        { cause },
      );
    },
  );
  return dawn;
}

/**
 * Node: Dawn. With a backend chosen (option, `GRADLENS_BACKEND`), that backend; otherwise the platform's own API with a
 * hardware adapter first, then the fastest software adapter present, then an error that lists what to install.
 */
export async function findAdapter(options: AdapterOptions = {}): Promise<FoundAdapter> {
  const { create } = await loadDawn();
  const request = async (backend: Backend): Promise<FoundAdapter | undefined> => {
    if (backend === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
    const flags = [`backend=${backend}`];
    if (options.adapter) flags.push(`adapter=${options.adapter}`);
    const featureLevel = options.featureLevel ?? (backend === 'opengles' ? 'compatibility' : 'core');
    const request: GPURequestAdapterOptions = { featureLevel };
    if (options.powerPreference) request.powerPreference = options.powerPreference;
    let instance = create(flags);
    let adapter = await instance.requestAdapter(request);
    const keepAlive: unknown[] = [instance, adapter]; // every instance made, as long as the adapter lives (see FoundAdapter)
    if (adapter && backend === 'vulkan' && adapter.info.architecture === 'swiftshader') {
      // SwiftShader's own zeroing of workgroup memory (VK_KHR_zero_initialize_workgroup_memory) costs its compiler
      // ~0.4 s per 2,048 floats, superlinear in the size: most of a tiled kernel's pipeline time. Dawn then zeroes in
      // the shader instead (a strided loop, same WGSL semantics): GEMM 64×64 pipeline 430 → 75 ms (docs/performance.md).
      instance = create([...flags, `disable-dawn-features=${SWIFTSHADER_SLOW_TOGGLE}`]);
      adapter = await instance.requestAdapter(request);
      keepAlive.push(instance);
    }
    return adapter ? { adapter, backend, keepAlive } : undefined;
  };
  const chosen = options.backend ?? backendFromEnvironment();
  if (chosen) {
    const found = (await requestBackend(chosen, request)) ?? throwNoAdapter([chosen], options);
    return { ...found, note: found.note ?? `the ${chosen} backend, as asked (backend option, --backend or GRADLENS_BACKEND)` };
  }

  const native = defaultBackend();
  const first = native === 'vulkan' && !hasGpuDevice() ? undefined : await request(native);
  if (first && !isSoftwareAdapter(first.adapter.info)) return first;
  if (native !== 'vulkan') return first ?? throwNoAdapter([native], options);

  // No GPU answered on Vulkan. Software adapters, fastest first: `gradlens demo` took 7.1 and 14.8 s on Mesa 22.3's
  // llvmpipe through OpenGL ES, 48.1 and 56.8 s on SwiftShader 5.0 (same targets), on one busy 2-core machine.
  // (Mesa's lavapipe, llvmpipe on Vulkan, is unmeasured: Dawn refused Mesa 22.3's; when present it is `first` here.)
  const gles = await request('opengles');
  if (gles && !isSoftwareAdapter(gles.adapter.info)) return { ...gles, note: 'no Vulkan GPU; using a GPU through OpenGL ES' };
  if (gles) {
    const why = 'no GPU adapter; llvmpipe (OpenGL ES, compatibility mode) is the fastest software adapter, ~4-7× SwiftShader on the demo';
    return { ...gles, note: `${why} (GRADLENS_BACKEND=vulkan chooses ${first ? describeInfo(first.adapter.info) : 'SwiftShader'})` };
  }
  const software = first ?? (await requestBackend('vulkan', request));
  if (software) {
    const note = `no GPU adapter and no OpenGL ES (llvmpipe, ~4-7× faster, wants ${INSTALL.opengles.split(': ')[1]}); using ${describeInfo(software.adapter.info)}`;
    return { ...software, note: software.note ?? note };
  }
  return throwNoAdapter(['vulkan', 'opengles'], options);
}

/** The backend asked for; on Vulkan with no driver answering, SwiftShader from Chromium's folder. */
async function requestBackend(backend: Backend, request: (backend: Backend) => Promise<FoundAdapter | undefined>) {
  const userChoseDriver = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES;
  const software = SOFTWARE_VULKAN_DRIVERS.find((path) => existsSync(path));
  // Without a GPU the system's drivers are software ones Dawn may refuse aloud (Mesa 22's lavapipe): go to SwiftShader.
  const skipSystemDrivers = backend === 'vulkan' && !userChoseDriver && software !== undefined && !hasGpuDevice();
  const found = skipSystemDrivers ? undefined : await request(backend);
  if (found || backend !== 'vulkan') return found;
  if (userChoseDriver || !software) return undefined;
  process.env.VK_ICD_FILENAMES = software;
  const fallback = await request(backend);
  return fallback && { ...fallback, note: `no hardware Vulkan adapter; using SwiftShader (${software})` };
}

/**
 * Whether the kernel exposes any GPU (DRM render nodes, NVIDIA's device files, WSL's dxg). Without one, probing the
 * system's Vulkan drivers only finds software ones, and Dawn prints a warning for each it refuses on every run.
 */
function hasGpuDevice(): boolean {
  if (process.platform !== 'linux') return true;
  const dri = existsSync('/dev/dri') ? readdirSync('/dev/dri').some((name) => name.startsWith('renderD')) : false;
  return dri || existsSync('/dev/nvidia0') || existsSync('/dev/dxg');
}

function backendFromEnvironment(): Backend | undefined {
  const value = process.env.GRADLENS_BACKEND;
  if (!value) return undefined;
  if (!BACKENDS.includes(value as Backend))
    throw new GradlensError('BAD_PARAMS', `GRADLENS_BACKEND="${value}": choose one of ${BACKENDS.join(', ')}`);
  return value as Backend;
}

function defaultBackend(): Backend {
  if (process.platform === 'darwin') return 'metal';
  if (process.platform === 'win32') return 'd3d12';
  return 'vulkan';
}

const describeInfo = (info: GPUAdapterInfo) =>
  [info.description, info.device].filter(Boolean).join(' / ') || info.architecture || 'an unnamed adapter';

function throwNoAdapter(tried: Backend[], options: AdapterOptions): never {
  const wanted = options.adapter ? ` matching "${options.adapter}"` : '';
  const routes = tried.filter((backend): backend is keyof typeof INSTALL => backend in INSTALL).map((backend) => `${backend}: ${INSTALL[backend]}`);
  const advice = routes.length
    ? `Install one of: ${routes.join('; ')}${tried.includes('vulkan') ? "; or point VK_ICD_FILENAMES at a driver's ICD json" : ''}. ` +
      '`npm run setup` in a gradlens checkout installs them on Debian/Ubuntu.'
    : 'Update the GPU driver';
  throw new GradlensError(
    'NO_ADAPTER',
    `No WebGPU adapter${wanted} on ${tried.join(' or ')}. ${advice}; or choose another backend with GRADLENS_BACKEND.`,
  );
}

/**
 * Node: the autotune cache on disk, in `options.tuneCache`, else `GRADLENS_TUNE_CACHE` (a folder, or `off` for none:
 * the tests' setting, so a user's cache never changes what they run), else `$XDG_CACHE_HOME/gradlens` (`~/.cache/gradlens`).
 */
export function tuneStore(options: AdapterOptions = {}): TuneStore | undefined {
  if (typeof options.tuneCache === 'string') return fileTuneStore(options.tuneCache);
  const env = process.env.GRADLENS_TUNE_CACHE;
  if (env === 'off') return undefined;
  return fileTuneStore(env || undefined);
}
