import { describe, expect, it } from 'vitest';
import { classNames } from '../../components/views.ts';
import { labelsFrom, loadOnnx } from '../../src/onnx/load.ts';
import { modelBytes, rawFloats } from './onnx-writer.ts';

/** A 3-class linear model whose file names its classes under `key`. */
function labelled(metadata: Record<string, string>): Uint8Array {
  return modelBytes({
    nodes: [{ op: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], attributes: { transB: 1 } }],
    initializers: [{ name: 'w', dims: [3, 2], raw: rawFloats([1, 0, 0, 1, 1, 1]) }],
    inputs: [{ name: 'x', dims: ['N', 2] }],
    outputs: [{ name: 'y', dims: ['N', 3] }],
    metadata,
  });
}

describe("class names from a model file's metadata", () => {
  it('a JSON array, a JSON index → name object, lines or commas', () => {
    expect(labelsFrom(new Map([['labels', '["cat", "dog", "bird"]']]))).toEqual(['cat', 'dog', 'bird']);
    expect(labelsFrom(new Map([['names', '{"0": "person", "2": "car"}']]))).toEqual(['person', '1', 'car']);
    expect(labelsFrom(new Map([['classes', 'cat\ndog\r\nbird']]))).toEqual(['cat', 'dog', 'bird']);
    expect(labelsFrom(new Map([['class_names', 'cat, dog, bird']]))).toEqual(['cat', 'dog', 'bird']);
  });

  it('free-form metadata that names no classes gives none, not an error', () => {
    expect(labelsFrom(new Map([['author', 'someone']]))).toBeUndefined();
    expect(labelsFrom(new Map([['labels', 'just-one']]))).toBeUndefined();
    expect(labelsFrom(new Map([['labels', '{"not": "indexed"}']]))).toBeUndefined();
  });

  it('the loaded graph carries them, and the widgets prefer their own labels attribute', () => {
    const graph = loadOnnx(labelled({ labels: '["low", "high", "both"]', author: 'test' }));
    expect(graph.labels).toEqual(['low', 'high', 'both']);
    expect(loadOnnx(labelled({})).labels).toBeUndefined();
    expect(classNames([], { labels: graph.labels! })).toEqual(['low', 'high', 'both']);
    expect(classNames(['a', 'b', 'c'], { labels: graph.labels! })).toEqual(['a', 'b', 'c']);
    expect(classNames([], undefined)).toEqual([]);
  });
});
