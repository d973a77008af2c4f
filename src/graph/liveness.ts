/** A tensor's storage need over the schedule's steps, inclusive; `end` Infinity keeps it to the end (read back). */
export interface Lifetime {
  key: string;
  bytes: number;
  start: number;
  end: number;
}

export interface Slot {
  index: number;
  bytes: number;
}

/**
 * Assigns lifetimes to buffer slots, reusing a slot once its tenant's last step has passed (best fit by size).
 * A slot is never shared by two tensors alive in the same step, so a kernel never reads and writes one buffer.
 */
export function assignSlots(lifetimes: readonly Lifetime[]): { slotOf: Map<string, number>; slots: Slot[] } {
  const slots: Slot[] = [];
  const slotOf = new Map<string, number>();
  const busyUntil: number[] = [];
  for (const life of [...lifetimes].sort((a, b) => a.start - b.start || b.bytes - a.bytes)) {
    const free = slots.filter((slot) => busyUntil[slot.index]! < life.start);
    // The smallest free slot that fits; else grow the largest free one; else a new slot.
    const fitting = free.filter((slot) => slot.bytes >= life.bytes).sort((a, b) => a.bytes - b.bytes);
    const slot = fitting[0] ?? free.sort((a, b) => b.bytes - a.bytes)[0] ?? { index: slots.length, bytes: 0 };
    if (slot.index === slots.length) slots.push(slot);
    slot.bytes = Math.max(slot.bytes, life.bytes);
    busyUntil[slot.index] = life.end;
    slotOf.set(life.key, slot.index);
  }
  return { slotOf, slots };
}
