// Values that depend on the batch only by repeating one sample (ViT's class token, Expand-ed to the batch), and the
// Concat that joins them to batch tensors, rewritten as ops that hold at every batch size.
import type { Shape } from '../graph/ir.ts';
import { evaluate } from './evaluate.ts';
import type { WorkNode } from './nodes.ts';
import type { TensorValue } from './tensor.ts';

/**
 * The one sample a batch-dependent value repeats along axis 0 at every analysed batch size (shape [1, …]), or
 * undefined where it does anything else.
 */
export function batchBroadcast(values: readonly TensorValue[], batches: readonly number[]): TensorValue | undefined {
  const first = values[0]!;
  if (first.shape[0] !== batches[0] || first.dtype !== 'float') return undefined;
  const size = first.data.length / batches[0]!;
  const sample = first.data.subarray(0, size);
  const repeats = values.every(
    (value, b) =>
      value.shape[0] === batches[b] &&
      value.shape.slice(1).join() === first.shape.slice(1).join() &&
      value.data.every((v, i) => Object.is(v, sample[i % size])),
  );
  return repeats ? { dtype: 'float', shape: [1, ...first.shape.slice(1)], data: Float32Array.from(sample) } : undefined;
}

/** A Concat input: a batch tensor (by name and shape) or one sample repeated over the batch. */
export type ConcatPart = { name: string; shape: Shape } | { sample: TensorValue };

/**
 * Concat along a non-batch axis of batch tensors and repeated samples, as ops that hold at every batch: each run of
 * adjacent batch tensors (concatenated) padded with zeros to the output's extent, the runs added up, and the samples in
 * their places (zeros elsewhere) added as one constant that broadcasts over the batch. Exact: every sum adds zeros.
 * `constant` names a new constant; the nodes come in order, the last writing the Concat's output.
 */
export function concatOfBroadcasts(node: WorkNode, parts: readonly ConcatPart[], constant: (base: string, value: TensorValue) => string): WorkNode[] {
  const shapeOf = (part: ConcatPart) => ('name' in part ? part.shape : part.sample.shape);
  const rank = shapeOf(parts[0]!).length;
  const given = (node.attributes.axis as number | undefined) ?? 0;
  const axis = given < 0 ? given + rank : given;
  const total = parts.reduce((sum, part) => sum + shapeOf(part)[axis]!, 0);
  const zerosLike = (shape: Shape): TensorValue => {
    const unit = [1, ...shape.slice(1)];
    return { dtype: 'float', shape: unit, data: new Float32Array(unit.reduce((a, b) => a * b, 1)) };
  };
  const samples = evaluate(
    { name: node.name, op: 'Concat', attributes: { axis }, tensors: {} },
    parts.map((part) => ('name' in part ? zerosLike(part.shape) : part.sample)),
    13,
  );
  const nodes: WorkNode[] = [];
  const made = (suffix: string, op: string, inputs: string[], attributes: WorkNode['attributes']): string => {
    const output = `${node.outputs[0]}:${suffix}`;
    nodes.push({ name: `${node.name}:${suffix}`, op, inputs, outputs: [output], attributes, tensors: {} });
    return output;
  };
  let sum = constant(`${node.name}:samples`, samples);
  let offset = 0;
  for (let k = 0; k < parts.length;) {
    const run: { name: string; shape: Shape }[] = [];
    for (let part = parts[k]!; k < parts.length && 'name' in part; part = parts[++k]!) run.push(part);
    if (run.length === 0) {
      offset += shapeOf(parts[k++]!)[axis]!;
      continue;
    }
    const extent = run.reduce((s, part) => s + part.shape[axis]!, 0);
    const joined =
      run.length > 1
        ? made(
            `run${k}`,
            'Concat',
            run.map((part) => part.name),
            { axis },
          )
        : run[0]!.name;
    const pads = new Array<number>(2 * rank).fill(0);
    pads[axis] = offset;
    pads[rank + axis] = total - offset - extent;
    const padded = made(`pad${k}`, 'Pad', [joined], { mode: 'constant', pads, value: 0 });
    sum = made(`add${k}`, 'Add', [padded, sum], {});
    offset += extent;
  }
  nodes[nodes.length - 1]!.outputs = [node.outputs[0]!];
  return nodes;
}
