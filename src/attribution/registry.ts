/**
 * Every method by id, described once: the one table the API, the CLI, the widgets and the docs read. Adding a method
 * is a description in a file of src/attribution/methods/ and its line here. Nothing in src/attribution imports it.
 */
import { GradlensError } from '../gpu/errors.ts';
import { camMethods } from './methods/cam.ts';
import { gradientMethods } from './methods/gradients.ts';
import { layerMethods } from './methods/layers.ts';
import { pathMethods } from './methods/paths.ts';
import { ruleMethods } from './methods/rules.ts';
import { METHOD_IDS, type MethodDescription, type MethodId } from './types.ts';

const described = [...gradientMethods, ...camMethods, ...pathMethods, ...ruleMethods, ...layerMethods];

export const METHODS: Readonly<Record<MethodId, MethodDescription>> = Object.fromEntries(
  METHOD_IDS.map((id) => {
    const description = described.find((d) => d.id === id);
    if (!description) throw new GradlensError('BAD_PARAMS', `method "${id}" has no description`);
    return [id, description];
  }),
) as Record<MethodId, MethodDescription>;

export { METHOD_IDS, type MethodId } from './types.ts';
