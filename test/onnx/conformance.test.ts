import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { isGradlensError } from '../../src/gpu/errors.ts';
import type { Constant, Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import { decodeTensor, loadOnnx } from '../../src/onnx/load.ts';
import { decodeModel } from '../../src/onnx/proto.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';

/**
 * ONNX's own node tests (Debian's libonnx-testdata, ONNX 1.12): every case the loader takes runs forward on the
 * GPU and must match the expected output. The first graph input is the explained one (its first dim the batch);
 * the other inputs are bound as constants. Run with GRADLENS_CONFORMANCE_REPORT=1 to rewrite conformance.md.
 */
const ROOT = '/usr/share/libonnx-testdata/data/node';

// ONNX's backend runner compares with rtol 1e-3, atol 1e-7; f32 kernels with their own exp/erf approximations
// need an absolute part near zero (~100 ulps of order-1 values).
const TOLERANCE = { abs: 1e-5, rel: 1e-3 };
/** Extra inputs bound as constants up to this size; larger ones are data, not parameters. */
const MAX_BOUND = 1 << 16;

/** Cases the loader takes whose results differ from ONNX's, with the reason (the runtime's, not the loader's). */
const KNOWN_FAILURES: Record<string, string> = {};

interface Case {
  name: string;
  graph?: Graph;
  input?: Constant;
  expected?: Constant;
  skip?: string;
}

function short(message: string): string {
  const unsupported = /^unsupported ops: (.*?)\.( Supported:|$)/.exec(message);
  if (unsupported) return `unsupported: ${unsupported[1]!.replace(/ \([^)]*\)/g, '')}`;
  return message.length > 160 ? `${message.slice(0, 157)}...` : message;
}

function prepare(name: string): Case {
  const dir = join(ROOT, name);
  const data = join(dir, 'test_data_set_0');
  if (!existsSync(data)) return { name, skip: 'no test data set' };
  const bytes = readFileSync(join(dir, 'model.onnx'));
  const model = decodeModel(bytes);
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !initializers.has(i.name));
  if (inputs.length === 0) return { name, skip: 'no input' };
  const files = (prefix: string) =>
    readdirSync(data)
      .filter((f) => f.startsWith(prefix))
      .sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)));
  let tensors: ReturnType<typeof decodeTensor>[];
  let expected: ReturnType<typeof decodeTensor>;
  try {
    tensors = files('input_').map((f) => decodeTensor(readFileSync(join(data, f))));
    expected = decodeTensor(readFileSync(join(data, files('output_')[0]!)));
  } catch (error) {
    // Sequence and optional test data (SequenceProto, OptionalProto) read as a TensorProto make no sense.
    return { name, skip: `test data is not a numeric tensor (${isGradlensError(error) ? error.code : String(error)})` };
  }
  const input = tensors[0]!;
  if (input.dataType.startsWith('float') === false && input.dataType !== 'bfloat16') return { name, skip: `${input.dataType} input` };
  if (input.shape.length === 0) return { name, skip: 'scalar input (no batch dimension)' };
  if (!expected.dataType.startsWith('float')) return { name, skip: `${expected.dataType} output` };
  const constants: Record<string, Constant> = {};
  for (let k = 1; k < inputs.length; k++) {
    const tensor = tensors[k];
    if (!tensor) return { name, skip: `input ${k} has no test data` };
    if (tensor.data.length > MAX_BOUND) return { name, skip: `input ${k} too large to bind as a constant` };
    constants[inputs[k]!.name] = tensor;
  }
  let graph: Graph;
  try {
    graph = loadOnnx(bytes, { name, constants, output: model.graph.outputs[0]?.name });
  } catch (error) {
    if (!isGradlensError(error)) throw error;
    return { name, skip: `${error.code}: ${short(error.message)}` };
  }
  try {
    inferShapes(graph, 1);
  } catch {
    // A constant operand fixes the batch (e.g. Concat with a [2, 2] constant): the graph holds at that batch only.
    return { name, skip: `holds only at batch ${input.shape[0]}, and Model.create infers shapes at batch 1` };
  }
  return { name, graph, input, expected };
}

const present = existsSync(ROOT);
const cases = present ? readdirSync(ROOT).sort().map(prepare) : [];

if (present && process.env.GRADLENS_CONFORMANCE_REPORT) writeReport(cases);

describe.skipIf(!present)('ONNX node conformance (libonnx-testdata), forward on the GPU', () => {
  for (const c of cases) {
    if (c.skip) {
      it.skip(`${c.name}: ${c.skip}`, () => {});
      continue;
    }
    const failure = KNOWN_FAILURES[c.name];
    (failure ? it.fails : it)(failure ? `${c.name} (known failure: ${failure})` : c.name, async () => {
      const model = await Model.create(await testContext(), c.graph!);
      try {
        const plan = await model.plan({ batch: c.input!.shape[0]!, objective: 'none' });
        const result = await plan.run({ input: c.input!.data });
        plan.destroy();
        expectAllClose(result.output, c.expected!.data, TOLERANCE, c.name);
      } finally {
        model.destroy();
      }
    });
  }
});

if (!present) it.skip(`ONNX node conformance: ${ROOT} is absent (apt-get install libonnx-testdata)`, () => {});

function writeReport(all: readonly Case[]): void {
  const runs = all.filter((c) => !c.skip && !KNOWN_FAILURES[c.name]);
  const failing = all.filter((c) => !c.skip && KNOWN_FAILURES[c.name]);
  const skipped = new Map<string, string[]>();
  for (const c of all.filter((c) => c.skip)) skipped.set(c.skip!, [...(skipped.get(c.skip!) ?? []), c.name]);
  const lines = [
    '# ONNX node conformance',
    '',
    "Generated by `GRADLENS_CONFORMANCE_REPORT=1 npx vitest run test/onnx/conformance.test.ts` from Debian's",
    `libonnx-testdata (ONNX 1.12 node tests, ${all.length} cases). Tolerance: |Δ| ≤ ${TOLERANCE.abs} + ${TOLERANCE.rel}·|expected|.`,
    'The first graph input is the explained one (its first dimension the batch); other inputs are bound as constants.',
    '',
    `## Run and pass (${runs.length})`,
    '',
    runs.map((c) => `\`${c.name}\``).join(', '),
    '',
    `## Run and fail (${failing.length})`,
    '',
    ...(failing.length ? failing.map((c) => `- \`${c.name}\`: ${KNOWN_FAILURES[c.name]}`) : ['none']),
    '',
    `## Skipped (${all.length - runs.length - failing.length}), by reason`,
    '',
    ...[...skipped]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([reason, names]) => `- ${reason} (${names.length}): ${names.map((n) => `\`${n}\``).join(', ')}`),
    '',
  ];
  writeFileSync(new URL('./conformance.md', import.meta.url), lines.join('\n'));
}
