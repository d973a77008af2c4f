import { describe, expect, it } from 'vitest';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { library } from '../../src/gpu/shader-sources.ts';
import { ACTIVATION_OPS, RELU_RULES } from '../../src/kernels/activation.ts';
import { BINARY_OPS } from '../../src/kernels/binary.ts';
import { CAM_WEIGHTINGS, FULLGRAD_FACTORS } from '../../src/kernels/attribution/cam.ts';
import { GEMM_ACTIVATIONS } from '../../src/kernels/gemm.ts';
import { PATH_FOLDS } from '../../src/kernels/attribution/paths.ts';
import { NEAREST_MODES, RESIZE_MODES } from '../../src/kernels/resize.ts';
import { SEED_SCORES } from '../../src/kernels/attribution/seed.ts';
import { SOFTMAX_OPS } from '../../src/kernels/softmax.ts';
import { REDUCE_OPS } from '../../src/kernels/tensor.ts';
import { wgslEnum, wgslEnumMembers, WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';
import { REDUCTIONS, SIGNS } from '../../src/render/kernels.ts';

// Each TypeScript enum beside the WGSL constants it selects: the same members, each a distinct code.
const ENUMS: [module: string, prefix: string, members: readonly string[], separator?: string][] = [
  ['activation', 'OP', ACTIVATION_OPS],
  ['activation', 'RULE', RELU_RULES],
  ['binary', 'OP', BINARY_OPS],
  ['binary', 'INPUT', ['a', 'b']],
  ['softmax', 'OP', SOFTMAX_OPS],
  ['tensor', 'REDUCTION', REDUCE_OPS],
  ['seed', 'SCORE', SEED_SCORES],
  ['gemm', 'ACTIVATION', GEMM_ACTIVATIONS],
  ['conv2d', 'ACTIVATION', GEMM_ACTIVATIONS],
  ['resize', 'MODE', RESIZE_MODES],
  ['resize', 'NEAREST_MODE', NEAREST_MODES, '_'],
  ['cam', 'WEIGHTING', CAM_WEIGHTINGS],
  ['cam', 'FACTOR', FULLGRAD_FACTORS],
  ['paths', 'FOLD', PATH_FOLDS],
  ['render', 'REDUCTION', REDUCTIONS],
  ['render', 'SIGN', SIGNS],
];

describe('WGSL enums read by reflection', () => {
  for (const [module, prefix, members, separator] of ENUMS) {
    it(`${module} ${prefix}: TypeScript and WGSL list the same members`, () => {
      expect(new Set(wgslEnumMembers(module, prefix, separator))).toEqual(new Set(members));
      const codes = members.map((member) => wgslEnum(module, prefix, member));
      expect(new Set(codes).size).toBe(members.length);
    });
  }

  it('names the module and constant when a member is missing', () => {
    expect(() => wgslEnum('activation', 'OP', 'no-such-op')).toThrow(/shaders\/activation\.wgsl declares no OP_NO_SUCH_OP/);
  });
});

describe('one workgroup size', () => {
  it("is shaders/lib/grid.wgsl's default and fits WebGPU compatibility mode (128 invocations)", () => {
    const declared = new WgslReflect(library.get('grid')!).overrides.find((o) => o.name === 'WORKGROUP_SIZE');
    expect(declared).toBeDefined();
    expect(WORKGROUP_SIZE).toBeLessThanOrEqual(128);
    expect(Number.isInteger(Math.log2(WORKGROUP_SIZE))).toBe(true); // the reductions halve it
  });
});
