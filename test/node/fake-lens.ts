import type { Explanation } from '../../src/attribution/explain.ts';
import type { Lens } from '../../src/lens.ts';

/** One call of the fake model's explain(): which inputs, with what options. */
export interface FakeCall {
  inputs: Float32Array;
  options: { method: string; seed?: number };
}

/**
 * A lens whose model is a graph with no nodes (output = input, so `size` classes) and whose explain() returns 2 × input,
 * or never settles (`hang`); `onContext` runs as a batch starts writing: the CLI's batching, files and signals tested
 * without a GPU.
 */
export function fakeLens(inputShape: number[], options: { hang?: boolean; onContext?: () => void } = {}) {
  const calls: FakeCall[] = [];
  let called: () => void = () => undefined;
  const firstCall = new Promise<void>((resolve) => (called = resolve));
  const size = inputShape.reduce((a, b) => a * b, 1);
  const model = {
    inputShape,
    graph: { name: 'fake', input: 'x', output: 'x', inputShape, nodes: [], constants: new Map() },
    explain: (inputs: Float32Array, explainOptions: FakeCall['options']): Promise<Explanation> => {
      calls.push({ inputs: inputs.slice(), options: explainOptions });
      called();
      if (options.hang) return new Promise(() => undefined);
      const count = inputs.length / size;
      return Promise.resolve({
        method: explainOptions.method,
        attribution: inputs.map((v) => 2 * v),
        shape: [count, ...inputShape],
        target: new Int32Array(count),
        score: new Float32Array(count),
        seed: explainOptions.seed!,
        options: {},
        timing: { ms: 1, points: count, chunks: 1, chunkSize: count },
      } as Explanation);
    },
    destroy: async () => undefined,
  };
  const report = { description: 'fake adapter', backend: 'null', featureLevel: 'core', software: true, loopBudget: null };
  const lens = {
    load: async () => model,
    adapter: async () => report,
    // Asked for once the GPU work of a batch is done, just before its files are written.
    runtime: {
      context: async () => {
        options.onContext?.();
        return { report };
      },
    },
    close: async () => undefined,
  } as unknown as Lens;
  return { lens, calls, firstCall };
}
