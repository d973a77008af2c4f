import { describe, expect, it } from 'vitest';
import { optionInputs, optionsOf as shownOptions, parseOption, parseTarget, runOptions, targetWords } from '../../components/method-options.ts';
import { optionsOf, withDefaults } from '../../src/attribution/options.ts';
import { METHODS } from '../../src/attribution/registry.ts';
import { hasOption, METHOD_IDS } from '../../src/index.ts';
import type { OptionSpec } from '../../src/attribution/types.ts';

const MAIN: Record<string, keyof ReturnType<typeof shownOptions>> = {
  steps: 'steps',
  samples: 'samples',
  stdev: 'noise',
  stdevFraction: 'noise',
  baseline: 'baseline',
  layer: 'layer',
};
const CODE_ONLY = new Set<OptionSpec['kind']>(['baseline-set', 'tensor-name']);
const EXPECTED_INPUT = { choice: 'select', integer: 'number', number: 'number', boolean: 'checkbox', index: 'index' } as const;

/** What a user would type or tick in an option's input: a value other than the default where the spec allows one. */
function typed(spec: OptionSpec): string | boolean {
  if (spec.kind === 'boolean') return !spec.default;
  if (spec.kind === 'choice') return spec.choices!.at(-1)!;
  if (spec.kind === 'index') return '0, 1';
  const low = spec.min ?? 0;
  return String(spec.kind === 'integer' ? low + 2 : spec.max !== undefined ? (low + spec.max) / 2 : low + 0.5);
}

describe('every method option is reachable from the widgets', () => {
  it('each option of each method has a main input, a generated input of its kind, or needs code', () => {
    for (const id of METHOD_IDS) {
      const generated = new Map(optionInputs(id).map((o) => [o.key, o.input]));
      const shown = shownOptions(id);
      for (const [key, spec] of Object.entries(optionsOf(METHODS[id])) as [string, OptionSpec][]) {
        const where = `${id}.${key} (${spec.kind})`;
        if (key in MAIN && hasOption(id, key as never)) {
          expect(shown[MAIN[key]!], where).toBe(true);
          expect(generated.has(key as never), where).toBe(false);
        } else if (CODE_ONLY.has(spec.kind)) expect(generated.has(key as never), where).toBe(false);
        else expect(generated.get(key as never), where).toBe(EXPECTED_INPUT[spec.kind as keyof typeof EXPECTED_INPUT]);
      }
    }
  });

  it("values typed into the generated inputs parse back to the option's type and pass its check", () => {
    for (const id of METHOD_IDS)
      for (const { key, spec } of optionInputs(id)) {
        const value = parseOption(spec, typed(spec));
        expect(value, `${id}.${key}`).toBeDefined();
        if (spec.kind === 'index') expect(value).toEqual([0, 1]);
        else expect(typeof value).toBe(spec.kind === 'integer' ? 'number' : spec.kind === 'choice' ? 'string' : spec.kind);
        expect(() => withDefaults(METHODS[id], { [key]: value } as never), `${id}.${key}`).not.toThrow();
      }
  });

  it('an empty or unreadable input leaves the default in force', () => {
    const number: OptionSpec = { kind: 'number', doc: '' };
    expect(parseOption(number, '')).toBeUndefined();
    expect(parseOption(number, 'abc')).toBeUndefined();
    expect(parseOption({ kind: 'choice', doc: '', choices: ['a'] }, 'b')).toBeUndefined();
    expect(parseOption({ kind: 'index', doc: '' }, '1, x')).toBeUndefined();
  });

  it("runOptions passes the method's own options and drops those of other methods", () => {
    const input = new Float32Array(4);
    const lrp = runOptions({ method: 'lrp', options: { composite: 'epsilon-gamma-box', epsilon: 0.5, steps: 9 } }, input, [1, 4]);
    expect(lrp).toMatchObject({ composite: 'epsilon-gamma-box', epsilon: 0.5 });
    expect(lrp).not.toHaveProperty('steps');
    expect(runOptions({ method: 'saliency', options: { composite: 'epsilon' } }, input, [1, 4])).not.toHaveProperty('composite');
  });
});

describe("the explainer's target: a class, a step or a region, and which was used", () => {
  it('reads a class index or JSON step/region targets from the attribute, and passes them to explain()', () => {
    expect(parseTarget('3')).toBe(3);
    expect(parseTarget('{"step": 2, "class": 5}')).toEqual({ step: 2, class: 5 });
    expect(parseTarget('{"region": [0, 0, 4, 4]}')).toEqual({ region: [0, 0, 4, 4] });
    expect(parseTarget('')).toBeUndefined();
    expect(parseTarget('{oops')).toBeUndefined();
    const target = { region: [1, 2, 3, 4] as const };
    expect(runOptions({ method: 'saliency', target }, new Float32Array(4), [1, 4]).target).toBe(target);
  });

  it('says which output target was used', () => {
    expect(targetWords([{ step: 2, class: 5 }])).toBe('step 2, class 5');
    expect(targetWords([{ region: [0, 1, 4, 5], channel: 2 }])).toBe('region [0, 1, 4, 5] of channel 2');
    expect(targetWords(undefined)).toBeUndefined();
  });
});
