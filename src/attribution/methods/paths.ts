import type { Method } from '../methods.ts';

/** Options of the path methods beyond integrated gradients (Blur IG, Guided IG, IDGI, Split IG). */
export interface PathOptions {}

export const pathMethods = {} satisfies Record<string, Method>;
