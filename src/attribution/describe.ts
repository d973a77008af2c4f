/**
 * The method descriptions as others read them: every option with the methods that take it and their defaults (the
 * CLI's flags and usage, the widgets' pickers), and the method table of README.md.
 */
import { optionsOf } from './options.ts';
import { METHODS } from './registry.ts';
import { METHOD_IDS, type MethodId } from './generated/method-ids.ts';
import type { CaptumCounterpart, OptionKey, OptionSpec, OptionValue } from './types.ts';

export interface OptionUse {
  key: OptionKey;
  /** The first method's schema (kind, doc, choices); defaults differ by method. */
  spec: OptionSpec;
  /** Each method that takes it, with its default there (undefined: none, or computed). */
  methods: { id: MethodId; default: OptionValue | undefined }[];
}

/** Every option any method takes, in the order methods first describe them. */
export function optionUses(): OptionUse[] {
  const uses = new Map<OptionKey, OptionUse>();
  for (const id of METHOD_IDS) {
    for (const [key, spec] of Object.entries(optionsOf(METHODS[id])) as [OptionKey, OptionSpec][]) {
      let use = uses.get(key);
      if (!use) uses.set(key, (use = { key, spec, methods: [] }));
      use.methods.push({ id, default: spec.default });
    }
  }
  return [...uses.values()];
}

/** The option's CLI flag: camelCase → kebab-case. */
export const flagOf = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Is `key` one of the method's own options (the tunnel's aside)? The widgets show an input only for those. */
export const hasOption = (method: MethodId, key: OptionKey): boolean => key in METHODS[method].options;

/** The method's default of `key` where it has one: a widget's placeholder. */
/** The methods that attribute at a layer (`layer`), in the registry's order. */
export const layerMethods = (): MethodId[] => (Object.keys(METHODS) as MethodId[]).filter((id) => METHODS[id].capabilities.layer);

export const defaultOf = (method: MethodId, key: OptionKey): OptionValue | undefined => optionsOf(METHODS[method])[key]?.default;

const show = (value: OptionValue | undefined) => (value === undefined ? '—' : String(value));

/** "25; 5 (expected-gradients, gradient-shap)": an option's defaults, the most common first, then the others by method. */
export function defaultsOf(use: OptionUse): string {
  const groups = new Map<string, MethodId[]>();
  for (const { id, default: value } of use.methods) groups.set(show(value), [...(groups.get(show(value)) ?? []), id]);
  const [common, ...others] = [...groups].sort((a, b) => b[1].length - a[1].length);
  return [common![0], ...others.map(([value, ids]) => `${value} (${ids.join(', ')})`)].join('; ');
}

const mark = (on: boolean) => (on ? '✓' : '');

/** The fixture tests that hold gradlens to Captum, linked from README's table (relative to the repository root). */
const CAPTUM_FIXTURES = 'test/captum/';

/** ✓ and the call, linked to the fixture tests, with the defaults that differ; or "none" for a method Captum lacks. */
const captumCell = (captum: CaptumCounterpart | undefined) =>
  captum ? `✓ [\`${captum.call}\`](${CAPTUM_FIXTURES})${captum.differs ? `; differs: ${captum.differs}` : ''}` : 'none';

/** README's method table, generated: a test keeps the copy there equal to it. */
export function methodTable(): string {
  const rows = METHOD_IDS.map((id) => {
    const { summary, options, capabilities: c, captum } = METHODS[id];
    const own = Object.entries(options) as [OptionKey, OptionSpec][];
    const defaults = own.map(([key, spec]) => `\`${key}\` ${show(spec.default)}`).join(', ');
    const tunnel = c.tunnel === 'none' ? '' : c.tunnel;
    const marks = [c.layer, c.delta, c.timesInput, c.random].map(mark).join(' | ');
    return `| \`${id}\` | ${summary} | ${defaults} | ${marks} | ${tunnel} | ${captumCell(captum)} |`;
  });
  return [
    '| id | method | options (default) | layer | delta | × input | random | tunnel | matches Captum 0.8 |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The CLI's usage lines for the method options, one per option with its defaults. */
export function optionUsage(skip: ReadonlySet<string> = new Set()): string {
  return optionUses()
    .filter((use) => !skip.has(use.key))
    .map((use) => {
      const value = use.spec.choices ? use.spec.choices.join('|') : VALUE[use.spec.kind];
      const left = `  --${flagOf(use.key)} ${value}`;
      return `${left.padEnd(30)} ${use.spec.doc}; default ${defaultsOf(use)}`;
    })
    .join('\n');
}

const VALUE: Record<OptionSpec['kind'], string> = {
  integer: 'N',
  number: 'X',
  boolean: 'true|false',
  choice: '',
  baseline: 'zeros|uniform|constant:V|blur:SIGMA|FILE.npy',
  'baseline-set': 'FILE.npy',
  'tensor-name': 'NAME',
  index: 'I,J,…',
};
