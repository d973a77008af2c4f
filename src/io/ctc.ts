import { GradlensError } from '../gpu/errors.ts';

/** One character a CTC greedy decode read: its class, and the time step where its probability peaked (a StepTarget). */
export interface RecognisedCharacter {
  text: string;
  class: number;
  /** The step of the run that read it whose probability is highest: the target that explains it. */
  step: number;
  probability: number;
  /** The run of time steps whose argmax it was, first to last. */
  steps: [number, number];
}

/**
 * The character list of a CTC model from its key file (one character a line), as PaddleOCR reads it: class 0 is the
 * blank, classes 1…n the keys, and class n + 1 a space where the model was trained with one (`use_space_char`).
 */
export function ctcClasses(keys: string, withSpace = true): string[] {
  const lines = keys.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return ['', ...lines, ...(withSpace ? [' '] : [])];
}

/**
 * Greedy (best path) CTC decoding of per-sample outputs [steps, classes]: each step's argmax, repeats merged, blanks
 * (class 0) dropped (Graves et al. 2006, §3.2). Each character keeps the step where its run peaked.
 */
export function ctcGreedy(outputs: Float32Array, steps: number, classes: readonly string[]): { text: string; characters: RecognisedCharacter[] } {
  const count = classes.length;
  if (outputs.length !== steps * count)
    throw new GradlensError('BAD_PARAMS', `CTC decoding: ${outputs.length} values are not ${steps} steps × ${count} classes`);
  const characters: RecognisedCharacter[] = [];
  let previous = 0;
  for (let t = 0; t < steps; t++) {
    const row = outputs.subarray(t * count, (t + 1) * count);
    let best = 0;
    for (let k = 1; k < count; k++) if (row[k]! > row[best]!) best = k;
    const last = characters.at(-1);
    if (best !== 0 && best === previous && last) {
      last.steps[1] = t;
      if (row[best]! > last.probability) Object.assign(last, { step: t, probability: row[best]! });
    } else if (best !== 0) {
      characters.push({ text: classes[best]!, class: best, step: t, probability: row[best]!, steps: [t, t] });
    }
    previous = best;
  }
  return { text: characters.map((c) => c.text).join(''), characters };
}
