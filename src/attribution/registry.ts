/** Every method by id: the one table the API, the CLI and the widgets read. Nothing in src/attribution imports it. */
import { camMethods } from './methods/cam.ts';
import { gradientMethods } from './methods/gradients.ts';
import { pathMethods } from './methods/paths.ts';
import { ruleMethods } from './methods/rules.ts';
import type { Method, MethodId } from './types.ts';

export const METHODS: Readonly<Record<MethodId, Method>> = { ...gradientMethods, ...camMethods, ...pathMethods, ...ruleMethods };

export { METHOD_IDS, type MethodId } from './types.ts';
