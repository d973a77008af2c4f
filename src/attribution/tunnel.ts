import { GradlensError } from '../gpu/errors.ts';
import { range } from './baselines.ts';
import { normal, streamIds } from './philox.ts';
import type { Method, MethodContext, MethodDescription, MethodResult } from './types.ts';

/**
 * The noise of a tunnel (or of SmoothGrad itself), from options complete with their defaults (options.ts NOISE):
 * samples, and σ per input, absolute (`stdev`) or a fraction of each input's max − min (`stdevFraction`).
 */
export function noiseOf(context: MethodContext): { samples: number; stdev: Float32Array; used: Record<string, unknown> } {
  const { options, inputs, count, size } = context;
  const samples = options.samples!;
  const fraction = options.stdev === undefined ? options.stdevFraction! : undefined;
  const stdev = Float32Array.from({ length: count }, (_, i) => {
    if (fraction === undefined) return options.stdev!;
    const [low, high] = range(inputs.subarray(i * size, (i + 1) * size));
    return fraction * (high - low);
  });
  return { samples, stdev, used: fraction === undefined ? { samples, stdev: options.stdev } : { samples, stdevFraction: fraction } };
}

/**
 * Captum's NoiseTunnel around any described method: when the options ask for one, the method runs on x + σε for each
 * of S samples, with the clean inputs' targets, and the maps combine into their mean, mean of squares or variance.
 * A method on the engine takes the noise into its own batch (capabilities.tunnel 'engine'); any other runs once per
 * sample ('calls'); a method that is a tunnel already takes none.
 */
export function noiseTunnel(description: MethodDescription): Method {
  return (context) => {
    const { tunnel } = description.capabilities;
    if (!context.options.noiseTunnel || tunnel === 'engine') return description.run(context);
    if (tunnel === 'none')
      throw new GradlensError('BAD_PARAMS', `${description.id} takes no noise tunnel (its noise, if any, is its own: samples, stdev)`);
    return tunnelAround(description.run, context);
  };
}

/**
 * A tunnel as one call of the method per sample, batched over the inputs. The noise is the engine's stream (same
 * seed, same draws): an input's draws depend on its stream id, not on the inputs beside it.
 */
async function tunnelAround(method: Method, context: MethodContext): Promise<MethodResult> {
  const { options, inputs, count, size, seed } = context;
  const { samples, stdev, used: noiseUsed } = noiseOf(context);
  let sum = new Float64Array(0);
  let squares = new Float64Array(0);
  let points = 0;
  let chunks = 0;
  let last: MethodResult | undefined;
  const { noiseTunnel, ...inner } = options;
  const streams = streamIds(options.streams, count);
  for (let s = 0; s < samples; s++) {
    options.signal?.throwIfAborted();
    const noisy = Float32Array.from(
      inputs,
      (x, flat) => x + stdev[Math.floor(flat / size)]! * normal(seed, flat % size, s, streams[Math.floor(flat / size)]!),
    );
    // Each sample's own random draws (if the method has any) get their own seed.
    last = await method({ ...context, inputs: noisy, seed: (seed + (s + 1) * 0x9e3779b9) % 2 ** 52, options: inner });
    // Sized by the result: a layer method's is the layer's, not the input's.
    if (s === 0) [sum, squares] = [new Float64Array(last.attribution.length), new Float64Array(last.attribution.length)];
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
  const shape = last!.shape ? { shape: last!.shape } : {};
  return { attribution, ...shape, points, chunks, chunkSize: last!.chunkSize, used: { ...last!.used, noiseTunnel, ...noiseUsed } };
}
