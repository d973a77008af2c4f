import { hasOption } from '../attribution/describe.ts';
import { sizeOf, type Graph } from '../graph/ir.ts';
import { inferShapes } from '../graph/shapes.ts';
import { UsageError } from './common-options.ts';
import { preprocessingFor, type ExplainRun } from './explain-options.ts';

/**
 * Options that would fail every input, found from the model's shapes before any GPU work: a usage error (exit 2) with
 * the reason, instead of one identical error per input in results.jsonl.
 */
export function checkAgainstModel(run: ExplainRun, graph: Graph): void {
  const shape = `[${graph.inputShape.join(', ')}]`;
  const size = sizeOf(graph.inputShape);
  const { method, baselines, baseline, target } = run.method;
  if (!graph.tokenIds && Object.keys(run.tokens).length) {
    throw new UsageError(`--baseline-token and --reduce are for text models (integer token ids in); ${graph.name} takes floats ${shape}`);
  }
  // A method that takes a set of baselines needs one (none has a default set).
  if (hasOption(method, 'baselines') && !baselines) {
    throw new UsageError(`--method ${method} draws its baselines from a set: give --baselines FILE.npy (k inputs of ${shape}, k × ${size} values)`);
  }
  if (baselines && (baselines.length === 0 || baselines.length % size !== 0)) {
    throw new UsageError(`--baselines holds ${baselines.length} values, not a whole number of the model's inputs ${shape} (${size} values each)`);
  }
  if (baseline instanceof Float32Array && baseline.length !== size && !graph.tokenIds) {
    throw new UsageError(`--baseline holds ${baseline.length} values; the model's input ${shape} has ${size}`);
  }
  if (typeof target === 'number') {
    const classes = outputSize(graph);
    if (classes !== undefined && target >= classes) {
      throw new UsageError(`--target ${target} is not a class of this model: its output has ${classes} (0 … ${classes - 1})`);
    }
  }
  const flags = run.preprocess;
  // Only a model of fixed image shape says which size and channels it takes.
  const fixed = graph.inputShape.every((d) => Number.isInteger(d) && d > 0);
  if (fixed && graph.inputShape.length === 3 && (flags.size || flags.channels)) {
    const model = preprocessingFor(graph.inputShape, flags.layout ? { layout: flags.layout } : {});
    if (flags.size && model.size && (flags.size[0] !== model.size[0] || flags.size[1] !== model.size[1])) {
      throw new UsageError(
        `--size ${flags.size.join(',')}: the model takes ${model.size.join('×')} images (input ${shape}); ` +
          `drop --size or give ${model.size.join(',')}`,
      );
    }
    const channels = flags.layout === 'hwc' ? graph.inputShape[2] : graph.inputShape[0];
    if (flags.channels && flags.channels !== channels) {
      throw new UsageError(`--channels ${flags.channels}: the model takes ${channels} channels (input ${shape})`);
    }
  }
}

/** The number of scores the model gives per input; undefined where the shapes cannot be known before a run. */
function outputSize(graph: Graph): number | undefined {
  try {
    return sizeOf(inferShapes(graph, 1).get(graph.output)!.slice(1));
  } catch {
    return undefined;
  }
}
