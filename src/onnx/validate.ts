// Checks at load that refuse what no model can mean: bytes that are not ONNX at all, opsets that do not exist, input
// shapes no device can hold, nodes missing a required input, attributes far outside any tensor's rank or size.
import { GradlensError } from '../gpu/errors.ts';
import type { Shape } from '../graph/ir.ts';
import type { WorkNode } from './nodes.ts';

/** Most values one sample of the input may have: 4 GiB of float32, the largest buffer any WebGPU device offers. */
export const MAX_INPUT_ELEMENTS = 2 ** 30;

/** Ranks beyond this are refused in axis attributes: no exported network comes near it. */
const MAX_RANK = 16;

/** Sizes (kernels, strides, pads, groups) beyond this are refused: far past any real layer, short of overflow. */
const MAX_SIZE = 2 ** 24;

/** Formats people mistake for a model, by their first bytes: what they are and the usual cause. */
const NOT_ONNX: readonly [RegExp, string][] = [
  [/^\s*<(!doctype html|html|head|body|!--)/i, 'an HTML page (a download link that returned a web page? fetch the raw file)'],
  [/^\s*<\?xml|^\s*</, 'an XML or HTML document'],
  [/^version https:\/\/git-lfs/, 'a Git LFS pointer, not the model it points to (run `git lfs pull`)'],
  [/^\s*[{[]/, 'JSON text'],
  [/^\x89PNG|^\xff\xd8\xff|^GIF8/, 'an image'],
  [/^PK\x03\x04/, 'a ZIP archive (a PyTorch .pt/.pth checkpoint or a zipped model? export or unzip it to .onnx)'],
  [/^\x1f\x8b/, 'a gzip archive (decompress it first)'],
  [/^\x80[\x02-\x05]/, 'a Python pickle (a PyTorch checkpoint: export it with torch.onnx.export)'],
];

/** Refuses bytes that are recognisably another format, saying which; ONNX's first byte is a protobuf field tag. */
export function checkIsOnnx(bytes: Uint8Array): void {
  const head = String.fromCharCode(...bytes.subarray(0, 64));
  const match = NOT_ONNX.find(([pattern]) => pattern.test(head));
  if (match) throw new GradlensError('CORRUPT_MODEL', `these bytes are ${match[1]}, not an ONNX model`);
  if (bytes.length === 0) throw new GradlensError('CORRUPT_MODEL', 'the model is empty (0 bytes)');
}

/** The default-domain opset, which must be declared and exist (1 up to `newest`). */
export function checkOpset(opset: number | undefined, newest: number): number {
  if (opset === undefined) {
    const advice = 're-export it with torch.onnx.export(..., opset_version=17)';
    throw new GradlensError('BAD_MODEL', `the model imports no ONNX (default-domain) opset; ${advice}`);
  }
  if (!Number.isSafeInteger(opset) || opset < 1) {
    throw new GradlensError('BAD_MODEL', `the model declares ONNX opset ${opset}, which does not exist (opsets start at 1)`);
  }
  if (opset > newest) {
    const advice = `re-export it with opset_version=${newest} or lower`;
    throw new GradlensError('UNSUPPORTED_OP', `the model uses ONNX opset ${opset}; gradlens reads opsets up to ${newest}: ${advice}`);
  }
  return opset;
}

/** One sample of the input at a concrete shape: positive integer dims, few enough values for a device to hold. */
export function checkInputShape(shape: Shape, where: string): void {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 1) {
      throw new GradlensError('BAD_MODEL', `${where} has dimension ${dim}; dimensions must be positive integers`);
    }
    count *= dim;
  }
  if (count > MAX_INPUT_ELEMENTS) {
    throw new GradlensError(
      'BAD_MODEL',
      `${where} has shape [${shape.join(', ')}] = ${count.toExponential(3)} values per sample; gradlens holds at most 2^30 (4 GiB of float32)`,
    );
  }
}

/** How many leading inputs an op cannot do without, where more than the first (which every op with inputs needs). */
const REQUIRED_INPUTS: Readonly<Record<string, number>> = {
  Add: 2,
  Sub: 2,
  Mul: 2,
  Div: 2,
  Pow: 2,
  MatMul: 2,
  Gemm: 2,
  Conv: 2,
  ConvTranspose: 2,
  PRelu: 2,
  Equal: 2,
  Less: 2,
  Greater: 2,
  And: 2,
  Or: 2,
  Expand: 2,
  Gather: 2,
  Reshape: 2,
  Tile: 2,
  LayerNormalization: 2,
  Where: 3,
  Range: 3,
  BatchNormalization: 5,
  InstanceNormalization: 3,
};

const SIZE_ATTRIBUTES = new Set(['kernel_shape', 'strides', 'dilations', 'group']);
/** Attributes ONNX defines as lists, and as single integers: the other kind is refused, not misread. */
const LIST_ATTRIBUTES = new Set([
  'axes',
  'perm',
  'kernel_shape',
  'strides',
  'pads',
  'dilations',
  'output_padding',
  'output_shape',
  'starts',
  'ends',
  'shape',
  'sizes',
  'scales',
]);
const INT_ATTRIBUTES = new Set([
  'axis',
  'group',
  'keepdims',
  'ceil_mode',
  'count_include_pad',
  'transA',
  'transB',
  'allowzero',
  'to',
  'storage_order',
  'select_last_index',
]);
const OFFSET_ATTRIBUTES = new Set(['pads', 'output_padding', 'output_shape']);

/** Refuses a node without its required inputs or output, or with an axis or size attribute no tensor can have. */
export function checkNode(node: WorkNode): void {
  const where = `${node.op} "${node.name}"`;
  const required = node.inputs.length === 0 ? 0 : (REQUIRED_INPUTS[node.op] ?? 1);
  const missing = node.inputs.slice(0, required).findIndex((name) => !name);
  if (missing >= 0 || node.inputs.length < required) {
    throw new GradlensError('BAD_MODEL', `${where} has no name for its required input ${missing >= 0 ? missing : node.inputs.length}`);
  }
  if (!node.outputs[0]) throw new GradlensError('BAD_MODEL', `${where} has no name for its output 0`);
  for (const [name, value] of Object.entries(node.attributes)) {
    const bad = (range: string) => new GradlensError('BAD_MODEL', `${where}: attribute ${name} = ${fmt(value)} is outside ${range}`);
    if (LIST_ATTRIBUTES.has(name) && !Array.isArray(value)) throw bad('the lists (ONNX defines it as a list of integers)');
    if (INT_ATTRIBUTES.has(name) && typeof value !== 'number') throw bad('the integers (ONNX defines it as one integer)');
    if (typeof value === 'string') continue;
    const values = typeof value === 'number' ? [value] : value;
    if (values.some((v) => Number.isNaN(v))) throw bad('the numbers (NaN)');
    if ((name === 'axis' || name === 'axes' || name === 'perm') && values.some((v) => !Number.isInteger(v) || Math.abs(v) > MAX_RANK)) {
      throw bad(`[−${MAX_RANK}, ${MAX_RANK}] (no tensor has that many dimensions)`);
    }
    if (SIZE_ATTRIBUTES.has(name) && values.some((v) => !Number.isInteger(v) || v < 1 || v > MAX_SIZE)) throw bad(`[1, 2^24]`);
    if (OFFSET_ATTRIBUTES.has(name) && values.some((v) => !Number.isInteger(v) || Math.abs(v) > MAX_SIZE)) throw bad(`[−2^24, 2^24]`);
  }
}

/** Ops whose `axis` names a dimension of input 0 (Flatten's may also be the rank: everything in the first half). */
const AXIS_OPS = new Set(['Softmax', 'LogSoftmax', 'Hardmax', 'Concat', 'Gather', 'Split', 'LayerNormalization', 'ArgMax', 'ArgMin', 'CumSum']);
const AXES_OPS = new Set([
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSumExp',
  'ReduceSumSquare',
  'Squeeze',
]);

/** With input 0's rank known: `axis` and `axes` must name one of its dimensions. */
export function checkAxes(node: { op: string; name: string; attributes: Readonly<Record<string, unknown>> }, rank: number): void {
  const within = (a: number, high: number) => Number.isInteger(a) && a >= -rank && a < high;
  const axis = node.attributes.axis as number | undefined;
  const axes = node.attributes.axes as readonly number[] | undefined;
  const fail = (what: string) =>
    new GradlensError(
      'BAD_MODEL',
      `${node.op} "${node.name}": ${what} is not a dimension of its rank-${rank} input (allowed: ${-rank} to ${rank - 1})`,
    );
  if (axis !== undefined && AXIS_OPS.has(node.op) && !within(axis, rank)) throw fail(`axis ${axis}`);
  if (axis !== undefined && node.op === 'Flatten' && !within(axis, rank + 1)) throw fail(`axis ${axis}`);
  if (Array.isArray(axes) && AXES_OPS.has(node.op) && axes.some((a) => !within(a, rank))) throw fail(`axes [${axes.join(', ')}]`);
}

function fmt(value: number | readonly number[] | string): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  return typeof value === 'number' ? String(value) : `[${value.slice(0, 8).join(', ')}${value.length > 8 ? ', …' : ''}]`;
}
