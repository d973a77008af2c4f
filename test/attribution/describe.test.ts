import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flagOf, methodTable, optionUses } from '../../src/attribution/describe.ts';
import { withDefaults, optionsOf } from '../../src/attribution/options.ts';
import { METHOD_IDS, METHODS } from '../../src/attribution/registry.ts';
import { toRun } from '../../src/node/explain-options.ts';
import { optionsOf as shownOptions, runOptions } from '../../components/method-options.ts';

const between = (text: string) => text.slice(text.indexOf('<!-- methods:begin -->\n') + 23, text.indexOf('<!-- methods:end -->'));

describe('one description per method', () => {
  it('every id has a description under its own id, with a run and capabilities', () => {
    for (const id of METHOD_IDS) {
      expect(METHODS[id].id).toBe(id);
      expect(typeof METHODS[id].run).toBe('function');
      expect(['engine', 'calls', 'none']).toContain(METHODS[id].capabilities.tunnel);
    }
  });

  // GRADLENS_WRITE_TABLES=1 npx vitest run --project node test/attribution/describe.test.ts rewrites it after a change.
  it("README's method table is the generated one", () => {
    const table = `${methodTable()}\n`;
    expect(table.split('\n').length).toBe(METHOD_IDS.length + 3);
    for (const file of ['README.md']) {
      const url = new URL(`../../${file}`, import.meta.url);
      const text = readFileSync(url, 'utf8');
      if (process.env.GRADLENS_WRITE_TABLES === '1') writeFileSync(url, text.replace(between(text), table));
      expect(between(readFileSync(url, 'utf8')), file).toBe(table);
    }
  });

  it('one default per option and method: what explain() fills is the schema default, and the CLI invents none', () => {
    const run = toRun(['m.onnx', 'x.png', '--method', 'integrated-gradients'], {});
    expect(run.method).toEqual({ method: 'integrated-gradients' });
    const filled = withDefaults(METHODS['integrated-gradients'], { method: 'integrated-gradients' });
    expect([filled.steps, filled.rule, filled.baseline]).toEqual([50, 'gausslegendre', 'zeros']); // Captum's n_steps and method
    expect(withDefaults(METHODS['blur-ig'], { method: 'blur-ig' }).steps).toBe(100);
  });

  it('σ given one way turns off the default of the other', () => {
    const fusion = (extra: object) => withDefaults(METHODS.fusiongrad, { method: 'fusiongrad', ...extra });
    expect([fusion({}).stdev, fusion({}).stdevFraction]).toEqual([0.4, undefined]);
    expect([fusion({ stdevFraction: 0.1 }).stdev, fusion({ stdevFraction: 0.1 }).stdevFraction]).toEqual([undefined, 0.1]);
    const smooth = withDefaults(METHODS.smoothgrad, { method: 'smoothgrad', stdev: 0.3 });
    expect([smooth.stdev, smooth.stdevFraction, smooth.samples]).toEqual([0.3, undefined, 25]);
  });

  it('values out of their schema are refused with the option named', () => {
    expect(() => withDefaults(METHODS['split-ig'], { method: 'split-ig', splitRatio: 1.5 })).toThrow(/splitRatio/);
    expect(() => withDefaults(METHODS['grad-cam'], { method: 'grad-cam', upsample: 'cubic' as 'nearest' })).toThrow(/upsample/);
    expect(() => withDefaults(METHODS.saliency, { method: 'saliency', absolute: 'no' as unknown as boolean })).toThrow(/absolute/);
  });
});

describe('every method option is reachable from the CLI', () => {
  it('each option any method takes has a flag, and the flags of issue 14 parse to the options', () => {
    const keys = new Set(METHOD_IDS.flatMap((id) => Object.keys(optionsOf(METHODS[id]))));
    expect(new Set(optionUses().map((use) => use.key))).toEqual(keys);
    const method = (...flags: string[]) => toRun(['m.onnx', 'x.png', ...flags], {}).method;
    expect(method('--method', 'saliency', '--absolute', 'false')).toEqual({ method: 'saliency', absolute: false });
    expect(method('--method', 'grad-cam', '--relu', 'false')).toEqual({ method: 'grad-cam', relu: false });
    expect(method('--method', 'guided-grad-cam', '--upsample', 'bilinear')).toEqual({ method: 'guided-grad-cam', upsample: 'bilinear' });
    expect(method('--method', 'guided-ig', '--baseline', 'blur:2')).toEqual({ method: 'guided-ig', baseline: { blur: 2 } });
    expect(method('--method', 'idgi', '--base', 'blur-ig', '--max-sigma', '4')).toEqual({ method: 'idgi', base: 'blur-ig', maxSigma: 4 });
    expect(method('--method', 'split-ig', '--split-ratio', '0.9')).toEqual({ method: 'split-ig', splitRatio: 0.9 });
    expect(method('--method', 'rectgrad', '--percentile', '90', '--times-input', 'false')).toEqual({
      method: 'rectgrad',
      percentile: 90,
      timesInput: false,
    });
    expect(method('--method', 'noisegrad', '--base-method', 'grad-cam', '--weight-samples', '3')).toEqual({
      method: 'noisegrad',
      baseMethod: 'grad-cam',
      weightSamples: 3,
    });
    expect(() => method('--method', 'grad-cam', '--relu', 'maybe')).toThrow(/--relu/);
    expect(() => method('--method', 'idgi', '--base', 'saliency')).toThrow(/--base/);
    for (const key of keys) expect(flagOf(key)).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });
});

describe("the widgets' pickers follow the descriptions", () => {
  it('every method reading a baseline shows the baseline picker, guided-ig and idgi included', () => {
    for (const id of METHOD_IDS) expect(shownOptions(id).baseline, id).toBe('baseline' in METHODS[id].options);
    expect(shownOptions('guided-ig').baseline && shownOptions('idgi').baseline).toBe(true);
  });

  it("a widget passes no option it was not given: the method's default stays in force", () => {
    const input = new Float32Array(4);
    expect(runOptions({ method: 'integrated-gradients' }, input, [4])).toEqual({ method: 'integrated-gradients' });
    expect(runOptions({ method: 'fusiongrad', noise: 0.1 }, input, [4])).toEqual({ method: 'fusiongrad', stdevFraction: 0.1 });
    expect(runOptions({ method: 'gradient-shap', noise: 0.1 }, input, [4]).stdev).toBe(0.1);
  });
});
