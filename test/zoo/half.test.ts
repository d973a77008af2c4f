import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { readNpy, toFloat32 } from '../../src/io/npy.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { halfContext } from '../helpers/half.ts';
import { oracleLogits } from '../helpers/oracle.ts';
import { SUPPORTED, directoryOf, type Meta } from './zoo.ts';

// precision 'f16' on the zoo (torchvision families with seeded weights, test/zoo/zoo.test.ts): gradlens's logits
// against onnxruntime's on the same model with those weights rounded to f16 (test/zoo/round_f16.py), to the f32 zoo
// test's bound. Against the f32 weights the rounding alone moves these random-weight networks' logits by 5e-4 (the
// transformers) to 11 % (Inception v3) of the largest: docs/performance.md.
const onnxPython = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
const { context, why } = await halfContext({ precision: 'f16' });
const script = fileURLToPath(new URL('./round_f16.py', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'gradlens-zoo-f16-'));
const models: Model[] = [];
afterAll(() => {
  models.forEach((model) => model.destroy());
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!context || !onnxPython)(
  `the zoo with f16 weights (${why || (onnxPython ? context?.report.description : 'no python3-onnx')})`,
  () => {
    for (const name of SUPPORTED) {
      const dir = directoryOf(name);
      // A model over 5 MB is there once zoo.test.ts has made it (this file does not make it too: they would race).
      (dir ? it : it.skip)(
        `${name}: logits as onnxruntime's with the weights rounded to f16${dir ? '' : ' (not generated yet)'}`,
        async () => {
          const meta = JSON.parse(readFileSync(`${dir}/meta.json`, 'utf8')) as Meta;
          const rounded = join(scratch, `${name}.onnx`);
          const made = spawnSync('/usr/bin/python3', [script, `${dir}/model.onnx`, rounded], { encoding: 'utf8' });
          expect(made.status, made.stderr).toBe(0);
          const input = toFloat32(readNpy(new Uint8Array(readFileSync(`${dir}/input.npy`))));
          const model = await Model.create(
            context!,
            loadOnnx(new Uint8Array(readFileSync(`${dir}/model.onnx`)), { name, inputShape: meta.inputShape }),
          );
          models.push(model);
          const plan = await model.plan({ batch: 1, objective: 'logit' });
          const { output } = await plan.run({ input, target: meta.target });
          plan.destroy();
          const expected = await oracleLogits(new Uint8Array(readFileSync(rounded)), input, [1, ...meta.inputShape]);
          const peak = Math.max(...Array.from(expected, Math.abs));
          const error = Math.max(...Array.from(output, (v, i) => Math.abs(v - expected[i]!)));
          expect(error, `largest |logit| ${peak}`).toBeLessThanOrEqual(Math.max(1e-4 * peak, 3 * meta.logitDifference32));
        },
        600_000,
      );
    }
  },
);
