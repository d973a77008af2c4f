import { GradlensError } from '../gpu/errors.ts';
import { range } from './baselines.ts';
import type { Method, MethodContext, MethodResult } from './types.ts';
import { streamIds } from './engine.ts';
import { normal } from './philox.ts';

/**
 * A noise tunnel around any method (Captum's NoiseTunnel): the method runs on x + σε for each of S samples, with the
 * targets of the clean inputs, and the S maps combine into their mean, mean of squares or variance. The noise is the
 * engine's stream (same seed, same draws); each sample is one call of the method, batched over the inputs.
 */
export async function tunnelAround(method: Method, context: MethodContext): Promise<MethodResult> {
  const { options, inputs, count, size, seed } = context;
  const samples = options.samples ?? 25;
  if (!Number.isInteger(samples) || samples < 1) throw new GradlensError('BAD_PARAMS', `samples must be a positive integer, got ${samples}`);
  const fraction = options.stdev === undefined ? (options.stdevFraction ?? 0.15) : undefined;
  const stdev = Array.from({ length: count }, (_, i) => {
    if (fraction === undefined) return options.stdev!;
    const [low, high] = range(inputs.subarray(i * size, (i + 1) * size));
    return fraction * (high - low);
  });
  const sum = new Float64Array(count * size);
  const squares = new Float64Array(count * size);
  let points = 0;
  let chunks = 0;
  let last: MethodResult | undefined;
  const { noiseTunnel, ...inner } = options;
  const streams = streamIds(options.streams, count);
  for (let s = 0; s < samples; s++) {
    options.signal?.throwIfAborted();
    const noisy = Float32Array.from(inputs, (x, flat) => x + stdev[Math.floor(flat / size)]! * normal(seed, flat % size, s, streams[Math.floor(flat / size)]!));
    // Each sample's own random draws (if the method has any) get their own seed.
    last = await method({ ...context, inputs: noisy, seed: (seed + (s + 1) * 0x9e3779b9) % 2 ** 52, options: inner });
    last.attribution.forEach((a, i) => {
      sum[i] = sum[i]! + a;
      squares[i] = squares[i]! + a * a;
    });
    points += last.points;
    chunks += last.chunks;
    options.onProgress?.({ done: s + 1, total: samples });
  }
  const attribution = Float32Array.from(sum, (total, i) => {
    const mean = total / samples;
    if (noiseTunnel === 'smoothgrad-sq') return squares[i]! / samples;
    if (noiseTunnel === 'vargrad') return Math.max(squares[i]! / samples - mean * mean, 0);
    return mean;
  });
  const used = { ...last!.used, noiseTunnel, samples, ...(fraction === undefined ? { stdev: options.stdev } : { stdevFraction: fraction }) };
  return { attribution, points, chunks, chunkSize: last!.chunkSize, used };
}
