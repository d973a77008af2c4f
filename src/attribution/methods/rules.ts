import type { Method } from '../methods.ts';

/** Options of the methods that change the backward rules or the weights (RectGrad, NoiseGrad, FusionGrad). */
export interface RuleOptions {}

export const ruleMethods = {} satisfies Record<string, Method>;
