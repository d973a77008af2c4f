import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, backward, forward } from '../reference/activation.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { paramsFor, runActivation, sampleInput, upstreamGradient } from '../helpers/activation-run.ts';
import { testContext } from '../helpers/gpu.ts';

// f32 kernels against a float64 oracle: a few ulps of f32 on values of order 1 (relative 1e-6 of the magnitude),
// and 2e-6 absolute for the erfc fit (fractional error < 1.2e-7) times the GELU factors.
const close = (actual: number, expected: number) => Math.abs(actual - expected) <= 2e-6 + 2e-6 * Math.abs(expected);

describe('activation kernels against the float64 reference', () => {
  const x = sampleInput();
  const g = upstreamGradient();

  for (const op of ACTIVATIONS) {
    it(`${op}: forward and input gradient`, async () => {
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

  it('backward with accumulate adds into the existing gradient', async () => {
    const initial = Float32Array.from(x, (_, i) => i * 0.5);
    const { gradX } = await runActivation(await testContext(), 'sigmoid', 'standard', x, g, initial, true);
    const { gradX: alone } = await runActivation(await testContext(), 'sigmoid', 'standard', x, g);
    expect([...gradX]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });
});

describe('activation reference backward against central finite differences', () => {
  // Points away from the kinks of relu, leaky-relu and clip (at 0, -0.5 and 6), where the derivative is undefined.
  const x = Array.from({ length: 64 }, (_, i) => -7.9 + i * 0.25).filter((v) => Math.abs(v) > 1e-3 && Math.abs(v + 0.5) > 1e-3 && Math.abs(v - 6) > 1e-3);
  const seed = x.map((_, i) => Math.cos(i));
  for (const op of ACTIVATIONS) {
    it(op, () => {
      const p = paramsFor(op);
      const numeric = numericGradient((z) => Array.from(z, (v) => forward(op, v, p)), x, seed);
      x.forEach((v, i) => expect(backward(op, v, seed[i]!, p)).toBeCloseTo(numeric[i]!, 7));
    });
  }
});
