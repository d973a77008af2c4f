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
 * Busy slots wait in a heap by release step and free ones stay sorted by size: O(n log n) for n lifetimes.
 */
export function assignSlots(lifetimes: readonly Lifetime[]): { slotOf: Map<string, number>; slots: Slot[] } {
  const slots: Slot[] = [];
  const slotOf = new Map<string, number>();
  const busy = new ReleaseHeap();
  const free: Slot[] = []; // by bytes, then index
  const firstAtLeast = (bytes: number, index = -1) => {
    let low = 0;
    let high = free.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      const slot = free[mid]!;
      if (slot.bytes < bytes || (slot.bytes === bytes && slot.index < index)) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  for (const life of [...lifetimes].sort((a, b) => a.start - b.start || b.bytes - a.bytes)) {
    for (let slot = busy.releasedBefore(life.start); slot; slot = busy.releasedBefore(life.start)) {
      free.splice(firstAtLeast(slot.bytes, slot.index), 0, slot);
    }
    // The smallest free slot that fits; else grow the largest free one; else a new slot.
    let at = firstAtLeast(life.bytes);
    if (at === free.length && free.length > 0) at = firstAtLeast(free[free.length - 1]!.bytes);
    const slot = at < free.length ? free.splice(at, 1)[0]! : { index: slots.length, bytes: 0 };
    if (slot.index === slots.length) slots.push(slot);
    slot.bytes = Math.max(slot.bytes, life.bytes);
    busy.push(life.end, slot);
    slotOf.set(life.key, slot.index);
  }
  return { slotOf, slots };
}

/** A binary min-heap of slots by the step after which they are free. */
class ReleaseHeap {
  private readonly items: { end: number; slot: Slot }[] = [];

  push(end: number, slot: Slot): void {
    const items = this.items;
    items.push({ end, slot });
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.end <= items[i]!.end) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  /** Removes and returns a slot whose tenant ended before `step`, if any. */
  releasedBefore(step: number): Slot | undefined {
    const items = this.items;
    if (items.length === 0 || items[0]!.end >= step) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && items[left]!.end < items[smallest]!.end) smallest = left;
        if (right < items.length && items[right]!.end < items[smallest]!.end) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top.slot;
  }
}
