import type { Method } from '../methods.ts';

/** Options of the layer methods (Grad-CAM family, FullGrad). */
export interface CamOptions {}

export const camMethods = {} satisfies Record<string, Method>;
