import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, backward, forward } from '../reference/activation.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { inDomain, paramsFor, runActivation, sampleInput, upstreamGradient } from '../helpers/activation-run.ts';
import { testContext } from '../helpers/gpu.ts';

// f32 kernels against a float64 oracle: a few ulps of f32 on values of order 1 (relative 1e-6 of the magnitude),
// and 2e-6 absolute for the erfc fit (fractional error < 1.2e-7) times the GELU factors.
const close = (actual: number, expected: number) => Math.abs(actual - expected) <= 2e-6 + 2e-6 * Math.abs(expected);

describe('activation kernels against the float64 reference', () => {
  const x = sampleInput();
  const g = upstreamGradient();

  for (const op of ACTIVATIONS) {
    it(`${op}: forward and input gradient`, async () => {
      const x = sampleInput(undefined, op);
      const { y, gradX } = await runActivation(await testContext(), op, 'standard', x, g);
      const p = paramsFor(op);
      const wrong = [...x].flatMap((v, i) => {
        const ey = forward(op, v, p);
        const eg = backward(op, v, g[i]!, p);
        return close(y[i]!, ey) && close(gradX[i]!, eg) ? [] : [{ i, v, y: y[i], ey, g: gradX[i], eg }];
      });
      expect(wrong.slice(0, 5)).toEqual([]);
    });
  }

  for (const rule of ['guided-backprop', 'deconvnet'] as const) {
    it(`relu ${rule} rule`, async () => {
      const { gradX } = await runActivation(await testContext(), 'relu', rule, x, g);
      const expected = [...x].map((v, i) => backward('relu', v, g[i]!, paramsFor('relu'), rule));
      expect([...gradX]).toEqual(expected);
      expect(Math.min(...gradX)).toBeGreaterThanOrEqual(0); // neither rule passes a negative gradient
    });
  }

  it('pow with fractional and negative exponents on positive bases (the pow(|x|, p) path and ±1/2 by sqrt)', async () => {
    const positive = Float32Array.from(sampleInput(undefined, 'sqrt'), (v) => Math.min(v, 20));
    for (const alpha of [0.5, -0.5, 2.5, -1.5]) {
      const p = { alpha, beta: 0 };
      const { y, gradX } = await runActivation(await testContext(), 'pow', 'standard', positive, g, undefined, false, p);
      // pow(x, p) = exp2(p·log2 x) in f32: the exponent's rounding gives ~|p·log2 x|·2⁻²⁴ relative, ≤ 2e-6 here.
      const near = (a: number, e: number) => Math.abs(a - e) <= 2e-6 * Math.max(1, Math.abs(e));
      const wrong = [...positive].flatMap((v, i) => {
        const ey = forward('pow', v, p);
        const eg = backward('pow', v, g[i]!, p);
        return near(y[i]!, ey) && near(gradX[i]!, eg) ? [] : [{ alpha, v, y: y[i], ey, g: gradX[i], eg }];
      });
      expect(wrong.slice(0, 5)).toEqual([]);
    }
  });

  it('tanh to f32 relative accuracy at small arguments (DeepLift divides its change by x − x₀)', async () => {
    // WGSL's tanh builtin errs absolutely: 6–7 % relative at 1e-6 on SwiftShader and llvmpipe, which made DeepLift on
    // a Tanh MLP miss Captum by 1.01e-4 relative L2 on llvmpipe. Arguments from 1e-7 to 10, both signs.
    const x = Float32Array.from({ length: 512 }, (_, i) => (i % 2 ? -1 : 1) * 10 ** (-7 + (8 * i) / 512));
    const { y } = await runActivation(await testContext(), 'tanh', 'standard', x, new Float32Array(x.length).fill(1));
    const worst = Math.max(...[...x].map((v, i) => Math.abs(y[i]! - Math.tanh(v)) / Math.abs(Math.tanh(v))));
    expect(worst).toBeLessThan(4e-6);
  });

  it('backward with accumulate adds into the existing gradient', async () => {
    const initial = Float32Array.from(x, (_, i) => i * 0.5);
    const { gradX } = await runActivation(await testContext(), 'sigmoid', 'standard', x, g, initial, true);
    const { gradX: alone } = await runActivation(await testContext(), 'sigmoid', 'standard', x, g);
    expect([...gradX]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });
});

describe('activation reference backward against central finite differences', () => {
  // Points away from the kinks (0 for relu, leaky-relu, abs, elu, selu; -0.5 and 6 for clip; ±2.5 for hard-sigmoid,
  // ±3 for hard-swish), where the derivative is undefined; sqrt and log on |x|.
  const sweep = Array.from({ length: 64 }, (_, i) => -7.9 + i * 0.25).filter(
    (v) => Math.abs(v) > 1e-3 && Math.abs(v + 0.5) > 1e-3 && Math.abs(v - 6) > 1e-3,
  );
  for (const op of ACTIVATIONS) {
    it(op, () => {
      const p = paramsFor(op);
      const x = sweep.map((v) => inDomain(op, v));
      // One element at a time, so rounding scales with that element: central differences with h = 1e-5 are off by
      // h²·f'''/6 + 1e-16·|f|/h, below 1e-6 of max(1, |f'|) on this grid (the worst, 1/x at 0.1, about 4e-7).
      x.forEach((v, i) => {
        const seed = Math.cos(i);
        const numeric = numericGradient((z) => [forward(op, z[0]!, p)], [v], [seed])[0]!;
        expect(Math.abs(backward(op, v, seed, p) - numeric), `${op} at ${v}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(numeric)));
      });
    });
  }

  it('pow with fractional and negative exponents, on positive bases', () => {
    for (const alpha of [0.5, 2.5, -1.5]) {
      const p = { alpha, beta: 0 };
      for (const v of [0.3, 1, 2.7, 7.9]) {
        const numeric = numericGradient((z) => [forward('pow', z[0]!, p)], [v], [1])[0]!;
        expect(Math.abs(backward('pow', v, 1, p) - numeric)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(numeric)));
      }
    }
  });
});
