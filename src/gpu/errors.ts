/** Stable error codes: callers and the CLI branch on these, never on message text. */
export type ErrorCode =
  | 'NO_WEBGPU'
  | 'NO_ADAPTER'
  | 'DEVICE_REQUEST_FAILED'
  | 'DEVICE_LOST'
  | 'SHADER_COMPILE'
  | 'PIPELINE_INVALID'
  | 'DISPATCH_INVALID'
  | 'OUT_OF_MEMORY'
  | 'BUFFER_TOO_LARGE'
  | 'DEVICE_LIMIT'
  | 'UNKNOWN_KERNEL'
  | 'BAD_PARAMS'
  | 'UNSUPPORTED_OP'
  | 'BAD_MODEL'
  | 'CORRUPT_MODEL'
  | 'MISSING_INITIALIZER'
  | 'EXTERNAL_DATA'
  | 'BAD_INPUT'
  | 'NAN_INPUT'
  | 'INTERNAL';

/** The one error class of gradlens: a stable `code` and a message that says what to do. */
export class GradlensError extends Error {
  override readonly name = 'GradlensError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isGradlensError(error: unknown, code?: ErrorCode): error is GradlensError {
  return error instanceof GradlensError && (code === undefined || error.code === code);
}

/** Turns a popped WebGPU error scope into a GradlensError that names what was being done. */
export function fromGpuError(error: GPUError, what: string): GradlensError {
  if (error.constructor.name === 'GPUOutOfMemoryError') {
    return new GradlensError(
      'OUT_OF_MEMORY',
      `${what}: the GPU ran out of memory. Use a smaller batch (chunk size) or a smaller model. (${error.message})`,
    );
  }
  if (error.constructor.name === 'GPUInternalError') {
    return new GradlensError(
      'INTERNAL',
      `${what}: the GPU driver failed internally (${error.message.trim()}). Try a smaller batch or another adapter.`,
    );
  }
  return new GradlensError('DISPATCH_INVALID', `${what}: ${error.message.trim()}`);
}
