import { ResourceType, WgslReflect, type StructInfo, type VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import { GradlensError } from './errors.ts';
import { baseModule, isVariant, shaderFiles, shaderSources, variantName, variantSources, withLibraries } from './shader-sources.ts';
import { packUniform, type UniformValues } from './uniforms.ts';

export type Overrides = Readonly<Record<string, number>>;

interface Binding {
  name: string;
  group: number;
  binding: number;
  type: 'uniform' | 'storage' | 'read-only-storage';
  struct: StructInfo | undefined;
}

interface CompiledModule {
  module: GPUShaderModule;
  reflection: WgslReflect;
}

/** A compiled entry point with its bindings known by name. Made by KernelRegistry.kernel. */
export class Kernel {
  constructor(
    readonly name: string,
    readonly overrides: Overrides,
    readonly pipeline: GPUComputePipeline,
    readonly bindings: ReadonlyMap<string, Binding>,
  ) {}

  /**
   * Bind group(s) from resources given by binding name: a buffer for storage, a buffer or the
   * member values (packed by reflection into a fresh uniform buffer) for uniforms.
   */
  bind(device: GPUDevice, resources: Readonly<Record<string, GPUBuffer | UniformValues>>): BoundKernel {
    for (const name of Object.keys(resources)) {
      if (!this.bindings.has(name)) {
        throw new GradlensError('BAD_PARAMS', `kernel ${this.name}: no binding "${name}" (has ${[...this.bindings.keys()].join(', ')})`);
      }
    }
    const groups: GPUBindGroupEntry[][] = [];
    const uniforms: GPUBuffer[] = [];
    const uniformNames: string[] = [];
    for (const binding of this.bindings.values()) {
      const given = resources[binding.name];
      if (given === undefined) throw new GradlensError('BAD_PARAMS', `kernel ${this.name}: binding "${binding.name}" not given`);
      let buffer: GPUBuffer;
      if (isBuffer(given)) {
        buffer = given;
        checkBindingSize(device, this.name, binding, buffer);
      } else {
        if (!binding.struct) throw new GradlensError('BAD_PARAMS', `kernel ${this.name}: "${binding.name}" needs a buffer`);
        const bytes = packUniform(binding.struct, given, `kernel ${this.name}`);
        buffer = device.createBuffer({
          label: `${this.name}.${binding.name}`,
          size: bytes.byteLength,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        });
        device.queue.writeBuffer(buffer, 0, bytes);
        uniforms.push(buffer);
        uniformNames.push(binding.name);
      }
      (groups[binding.group] ??= []).push({ binding: binding.binding, resource: { buffer } });
    }
    const bindGroups = Array.from(groups, (entries, group) =>
      device.createBindGroup({ label: `${this.name} group ${group}`, layout: this.pipeline.getBindGroupLayout(group), entries: entries ?? [] }),
    );
    return { kernel: this, bindGroups, uniforms, uniformNames };
  }

  /**
   * New values for uniforms `bind` packed into buffers of their own, written into those buffers by
   * `queue.writeBuffer`: work submitted before keeps the values it was submitted with, so a kernel run once per chunk
   * is bound once (no new buffer and bind group a chunk).
   */
  rewrite(device: GPUDevice, bound: BoundKernel, values: Readonly<Record<string, UniformValues>>): void {
    for (const [name, given] of Object.entries(values)) {
      const index = bound.uniformNames.indexOf(name);
      const struct = this.bindings.get(name)?.struct;
      if (index < 0 || !struct) throw new GradlensError('BAD_PARAMS', `kernel ${this.name}: "${name}" was not bound as uniform values`);
      device.queue.writeBuffer(bound.uniforms[index]!, 0, packUniform(struct, given, `kernel ${this.name}`));
    }
  }
  /**
   * The kernel bound to `resources` at the first call, its uniform values rewritten (Kernel.rewrite) at the later ones:
   * for a run whose chunks differ only in their parameters.
   */
  rebinding(device: GPUDevice, resources: Readonly<Record<string, GPUBuffer>>): (values: Readonly<Record<string, UniformValues>>) => BoundKernel {
    let bound: BoundKernel | undefined;
    return (values) => {
      if (bound) this.rewrite(device, bound, values);
      else bound = this.bind(device, { ...values, ...resources });
      return bound;
    };
  }
}

export interface BoundKernel {
  kernel: Kernel;
  bindGroups: GPUBindGroup[];
  /** Uniform buffers this binding made; they live as long as the bound kernel is used. */
  uniforms: GPUBuffer[];
  /** The binding each of `uniforms` is for (Kernel.rewrite). */
  uniformNames: string[];
}

/** A binding larger than the device binds would be a validation error at submit; say which and why now. */
function checkBindingSize(device: GPUDevice, kernel: string, binding: Binding, buffer: GPUBuffer): void {
  const limit = binding.type === 'uniform' ? device.limits.maxUniformBufferBindingSize : device.limits.maxStorageBufferBindingSize;
  if (buffer.size > limit) {
    throw new GradlensError(
      'DEVICE_LIMIT',
      `kernel ${kernel}: "${binding.name}" binds ${buffer.size} bytes, more than this device's ${limit}; use a smaller batch or input`,
    );
  }
}

function isBuffer(value: unknown): value is GPUBuffer {
  return typeof value === 'object' && value !== null && 'mapAsync' in value;
}

const reflections = new Map<string, WgslReflect>();

/**
 * A module's reflection, parsed once per process by source text: the kernel registry of every device and wgslEnum
 * read the same modules, and parsing conv2d.wgsl alone takes tens of milliseconds of a cold start.
 */
export function reflectWgsl(code: string): WgslReflect {
  let reflection = reflections.get(code);
  if (!reflection) {
    reflection = new WgslReflect(code);
    reflections.set(code, reflection);
  }
  return reflection;
}

/** Compiles shaders/ modules on one device, reflects them, and caches pipelines by (module, entry, overrides). */
export class KernelRegistry {
  private readonly sources: Map<string, string>;
  private readonly modules = new Map<string, Promise<CompiledModule>>();
  private readonly pipelines = new Map<string, Promise<Kernel>>();
  /** Shader modules and pipelines compiled so far and the wall time spent in the (synchronous) create calls. */
  readonly compiled = { modules: 0, pipelines: 0, ms: 0 };
  private useSubgroups: boolean;
  /** The adapter's one subgroup size where it has only one: SUBGROUP_SIZE of the subgroups variants (unrolled loops). */
  private readonly subgroupSize: number | undefined;

  constructor(
    readonly device: GPUDevice,
    sources: Readonly<Record<string, string>> = shaderSources,
    options: { subgroups?: boolean; subgroupSize?: number } = {},
  ) {
    this.subgroupSize = options.subgroupSize;
    this.useSubgroups = (options.subgroups ?? true) && device.features.has('subgroups');
    this.sources = new Map(Object.entries(sources === shaderSources ? { ...sources, ...variantSources } : sources));
  }

  /**
   * Whether `variant` picks modules' subgroups variants: the device was created with the `subgroups` feature and the
   * caller did not opt out (AdapterOptions.subgroups). Settable (the bench compares both on one device); kernels built
   * before keep the variant they were built with. Setting it on a device without the feature leaves it off.
   */
  get subgroups(): boolean {
    return this.useSubgroups;
  }

  set subgroups(on: boolean) {
    this.useSubgroups = on && this.device.features.has('subgroups');
  }

  /**
   * The module to build a kernel of `module` from on this device: its subgroups variant (shaders/lib/*-subgroups.wgsl
   * libraries, `enable subgroups;`) where it has one and `subgroups` is on, else the module itself.
   */
  variant(module: string): string {
    const name = variantName(module, 'subgroups');
    return this.subgroups && this.sources.has(name) ? name : module;
  }

  /**
   * The module to build a kernel of `module` from that reads its weights as f16 (shaders/lib/*-f16.wgsl libraries,
   * `enable f16;`): only on a device created with `shader-f16` (AdapterOptions.precision 'f16' asks for it).
   */
  halfVariant(module: string): string {
    const name = variantName(module, 'f16');
    if (!this.device.features.has('shader-f16'))
      throw new GradlensError('DEVICE_LIMIT', `kernel module ${module}: f16 weights need the shader-f16 feature`);
    if (!this.sources.has(name)) throw new GradlensError('UNKNOWN_KERNEL', `kernel module ${module} has no f16 variant`);
    return name;
  }

  get moduleNames(): string[] {
    return [...this.sources.keys()];
  }

  /** Adds (or replaces) a module by name; for user kernels and tests. */
  define(name: string, code: string): void {
    this.sources.set(name, withLibraries(code));
    this.modules.delete(name);
    for (const key of this.pipelines.keys()) if (key.startsWith(`${name}/`)) this.pipelines.delete(key);
  }

  module(name: string): Promise<CompiledModule> {
    let compiled = this.modules.get(name);
    if (!compiled) {
      compiled = this.compile(name);
      this.modules.set(name, compiled);
      compiled.catch(() => this.modules.delete(name));
    }
    return compiled;
  }

  kernel(moduleName: string, entry: string, overrides: Overrides = {}): Promise<Kernel> {
    if (this.subgroupSize && isVariant(moduleName, 'subgroups') && !('SUBGROUP_SIZE' in overrides)) {
      overrides = { ...overrides, SUBGROUP_SIZE: this.subgroupSize };
    }
    const key = `${moduleName}/${entry}${JSON.stringify(Object.entries(overrides).sort())}`;
    let kernel = this.pipelines.get(key);
    if (!kernel) {
      kernel = this.build(moduleName, entry, overrides);
      this.pipelines.set(key, kernel);
      kernel.catch(() => this.pipelines.delete(key));
    }
    return kernel;
  }

  private count(kind: 'modules' | 'pipelines', started: number): void {
    this.compiled[kind]++;
    this.compiled.ms += performance.now() - started;
  }

  private async compile(name: string): Promise<CompiledModule> {
    const code = this.sources.get(name);
    if (code === undefined) {
      throw new GradlensError('UNKNOWN_KERNEL', `no shader module "${name}" (known: ${this.moduleNames.join(', ')})`);
    }
    this.device.pushErrorScope('validation'); // the messages come from getCompilationInfo; this keeps them off stderr
    const started = performance.now();
    const module = this.device.createShaderModule({ label: name, code });
    this.count('modules', started);
    const [info] = await Promise.all([module.getCompilationInfo(), this.device.popErrorScope()]);
    const errors = info.messages.filter((message) => message.type === 'error');
    if (errors.length > 0) {
      const lines = errors.map((m) => `  ${fileOf(name)}:${m.lineNum}:${m.linePos}: ${m.message}`);
      throw new GradlensError('SHADER_COMPILE', `kernel module "${name}" does not compile:\n${lines.join('\n')}`);
    }
    try {
      return { module, reflection: reflectWgsl(code) };
    } catch (cause) {
      throw new GradlensError('SHADER_COMPILE', `kernel module "${name}" could not be reflected: ${String(cause)}`, { cause });
    }
  }

  private async build(moduleName: string, entry: string, overrides: Overrides): Promise<Kernel> {
    const { module, reflection } = await this.module(moduleName);
    const name = `${moduleName}/${entry}`;
    const info = reflection.entry.compute.find((candidate) => candidate.name === entry);
    if (!info) {
      const known = reflection.entry.compute.map((candidate) => candidate.name).join(', ');
      throw new GradlensError('UNKNOWN_KERNEL', `${fileOf(moduleName)} has no compute entry point "${entry}" (has ${known})`);
    }
    const declared = new Set(reflection.overrides.map((o) => o.name));
    for (const key of Object.keys(overrides)) {
      if (!declared.has(key)) throw new GradlensError('BAD_PARAMS', `kernel ${name}: no override constant "${key}"`);
    }
    const bindings = new Map(info.resources.map((resource) => [resource.name, toBinding(resource, name)]));
    checkBindingCounts(this.device, name, [...bindings.values()]);
    const layouts = bindGroupLayouts(this.device, name, [...bindings.values()]);
    // Synchronously under an error scope, which reports the same validation errors: createComputePipelineAsync compiled
    // no faster in Dawn's Node binding or in Chromium on SwiftShader, even several at once (docs/performance.md).
    this.device.pushErrorScope('validation');
    const started = performance.now();
    const pipeline = this.device.createComputePipeline({
      label: name,
      layout: this.device.createPipelineLayout({ label: name, bindGroupLayouts: layouts }),
      compute: { module, entryPoint: entry, constants: { ...overrides } },
    });
    this.count('pipelines', started);
    const error = await this.device.popErrorScope();
    if (error) throw new GradlensError('PIPELINE_INVALID', `kernel ${name} ${JSON.stringify(overrides)}: ${error.message.trim()}`);
    return new Kernel(name, overrides, pipeline, bindings);
  }
}

/** Where a module's source is, for messages (a module defined at run time has no file). */
const fileOf = (name: string) => {
  const file = baseModule(name);
  return `shaders/${shaderFiles[file] ?? `${file}.wgsl`}${file === name ? '' : ` (${name.slice(file.length + 1)} variant)`}`;
};

function toBinding(resource: VariableInfo, kernel: string): Binding {
  const base = { name: resource.name, group: resource.group, binding: resource.binding };
  if (resource.resourceType === ResourceType.Uniform) {
    return { ...base, type: 'uniform', struct: resource.isStruct ? (resource.type as StructInfo) : undefined };
  }
  if (resource.resourceType === ResourceType.Storage) {
    return { ...base, type: resource.access === 'read' ? 'read-only-storage' : 'storage', struct: undefined };
  }
  throw new GradlensError('BAD_PARAMS', `kernel ${kernel}: binding "${resource.name}" is a texture or sampler; compute kernels here use buffers`);
}

/** Compatibility-mode devices may bind as few as 4 storage buffers per stage: refuse a kernel needing more by name. */
function checkBindingCounts(device: GPUDevice, kernel: string, bindings: readonly Binding[]): void {
  const storage = bindings.filter((binding) => binding.type !== 'uniform').length;
  const uniform = bindings.length - storage;
  const { maxStorageBuffersPerShaderStage: maxStorage, maxUniformBuffersPerShaderStage: maxUniform } = device.limits;
  if (storage > maxStorage || uniform > maxUniform) {
    throw new GradlensError(
      'DEVICE_LIMIT',
      `kernel ${kernel} binds ${storage} storage and ${uniform} uniform buffers; this device allows ${maxStorage} and ${maxUniform} per stage`,
    );
  }
}

function bindGroupLayouts(device: GPUDevice, name: string, bindings: Binding[]): GPUBindGroupLayout[] {
  const count = Math.max(0, ...bindings.map((binding) => binding.group + 1));
  return Array.from({ length: count }, (_, group) =>
    device.createBindGroupLayout({
      label: `${name} group ${group}`,
      entries: bindings
        .filter((binding) => binding.group === group)
        .map((binding) => ({ binding: binding.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: binding.type } })),
    }),
  );
}
