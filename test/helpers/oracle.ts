import { InferenceSession, Tensor } from 'onnxruntime-node';
import { expect } from 'vitest';

/** onnxruntime's CPU build, the independent oracle for gradlens's forward pass. */
export interface Oracle {
  /** The batch the file fixes, if it fixes one. */
  declaredBatch: number | undefined;
  logits(input: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function openOracle(bytes: Uint8Array): Promise<Oracle> {
  const session = await InferenceSession.create(bytes);
  const declared = session.inputMetadata[0]!;
  // A text model takes int64 or int32 token ids: gradlens holds them as float32 integers.
  const type = declared.isTensor ? declared.type : 'float32';
  const tensorOf = (input: Float32Array, shape: readonly number[]) =>
    type === 'int64'
      ? new Tensor(
          'int64',
          BigInt64Array.from(input, (v) => BigInt(v)),
          [...shape],
        )
      : type === 'int32'
        ? new Tensor('int32', Int32Array.from(input), [...shape])
        : new Tensor('float32', input, [...shape]);
  return {
    declaredBatch: declared.isTensor && typeof declared.shape[0] === 'number' ? declared.shape[0] : undefined,
    async logits(input, shape) {
      const result = await session.run({ [session.inputNames[0]!]: tensorOf(input, shape) });
      return result[session.outputNames[0]!]!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** One run of the oracle on `bytes`. */
export async function oracleLogits(bytes: Uint8Array, input: Float32Array, shape: readonly number[]): Promise<Float32Array> {
  const oracle = await openOracle(bytes);
  try {
    return await oracle.logits(input, shape);
  } finally {
    await oracle.release();
  }
}

/**
 * gradlens's logits against the oracle's: the worst difference within `tolerance` of the largest logit (float32 models
 * of these depths agree to ~1e-6 of it; 1e-4 is the bound issue 11 set).
 */
export function expectLogitsClose(actual: Float32Array, expected: Float32Array, what: string, tolerance = 1e-4): void {
  expect(actual.length, what).toBe(expected.length);
  const peak = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
  expect(worst, `${what}: worst |gradlens − onnxruntime| ${worst} against a largest logit of ${peak}`).toBeLessThanOrEqual(tolerance * peak);
}
