export type { AdapterOptions, Backend } from './adapter.ts';
export { allocate, readback, readFloats, upload, STORAGE, type BufferSpec } from './buffers.ts';
export { CommandBatch, gridFor, setDebugDispatch, type Dispatch } from './commands.ts';
export { GpuContext, GpuRuntime, type AdapterReport } from './device.ts';
export { GradlensError, isGradlensError, type ErrorCode } from './errors.ts';
export { Kernel, KernelRegistry, type BoundKernel, type Overrides } from './kernels.ts';
export { shaderSources } from './shader-sources.ts';
