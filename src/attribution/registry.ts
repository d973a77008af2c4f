/**
 * Every method by id, described once: the one table the API, the CLI, the widgets and the docs read. A method is one
 * file of src/attribution/methods/, named by its id, whose default export is its description; scripts/method-index.mjs
 * lists those files (generated/). Nothing in src/attribution below explain.ts and describe.ts imports this.
 */
import { GradlensError } from '../gpu/errors.ts';
import { DESCRIPTIONS } from './generated/method-list.ts';
import { METHOD_IDS, type MethodId } from './generated/method-ids.ts';
import type { MethodDescription } from './types.ts';

export const METHODS: Readonly<Record<MethodId, MethodDescription>> = Object.fromEntries(
  METHOD_IDS.map((id, i) => {
    const description = DESCRIPTIONS[i];
    if (description?.id !== id) throw new GradlensError('BAD_PARAMS', `src/attribution/methods/${id}.ts describes "${description?.id}", not "${id}"`);
    return [id, description];
  }),
) as Record<MethodId, MethodDescription>;

export { METHOD_IDS, type MethodId };
