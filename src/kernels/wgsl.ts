import { GradlensError } from '../gpu/errors.ts';
import { reflectWgsl } from '../gpu/kernels.ts';
import { library, shaderFiles, shaderSources } from '../gpu/shader-sources.ts';

const constants = new Map<string, ReadonlyMap<string, number>>();

/** A shaders/ module's (or `lib/NAME`'s) module-scope `const` values and `override` defaults, by reflection. */
function constantsOf(module: string): ReadonlyMap<string, number> {
  let values = constants.get(module);
  if (!values) {
    const code = module.startsWith('lib/') ? library.get(module.slice(4)) : shaderSources[module];
    if (code === undefined) throw new GradlensError('UNKNOWN_KERNEL', `no shader module "${module}"`);
    values = reflectWgsl(code)._constValues;
    constants.set(module, values);
  }
  return values;
}

const memberName = (prefix: string, name: string) => `${prefix}_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/**
 * The code of one member of a WGSL enum: a module declares `const OP_LEAKY_RELU = 1u;` once and its switch uses the
 * name; TypeScript passes 'leaky-relu' and reads the value here, so the codes are written in one place.
 */
export function wgslEnum(module: string, prefix: string, name: string): number {
  const value = constantsOf(module).get(memberName(prefix, name));
  if (value === undefined) throw new GradlensError('BAD_PARAMS', `shaders/${shaderFiles[module]} declares no ${memberName(prefix, name)}`);
  return value;
}

/** The members of a WGSL enum in code order, named as TypeScript names them (lower case, `_` → `sep`). */
export function wgslEnumMembers(module: string, prefix: string, sep = '-'): string[] {
  return [...constantsOf(module)]
    .filter(([key]) => key.startsWith(`${prefix}_`))
    .sort((a, b) => a[1] - b[1])
    .map(([key]) =>
      key
        .slice(prefix.length + 1)
        .toLowerCase()
        .replaceAll('_', sep),
    );
}

/** The workgroup size of every one-invocation-per-element kernel: shaders/lib/grid.wgsl's WORKGROUP_SIZE default. */
export const WORKGROUP_SIZE: number = constantsOf('lib/grid').get('WORKGROUP_SIZE')!;
