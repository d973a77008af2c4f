import { describe, expect, it } from 'vitest';
import { assignSlots, type Lifetime } from '../../src/graph/liveness.ts';

/** The planner's rule written plainly (quadratic): the free slots scanned afresh for every lifetime. */
function referenceSlots(lifetimes: readonly Lifetime[]): Map<string, number> {
  const bytes: number[] = [];
  const busyUntil: number[] = [];
  const slotOf = new Map<string, number>();
  for (const l of [...lifetimes].sort((a, b) => a.start - b.start || b.bytes - a.bytes)) {
    const free = bytes.map((size, index) => ({ index, size })).filter((slot) => busyUntil[slot.index]! < l.start);
    const fitting = free.filter((slot) => slot.size >= l.bytes).sort((a, b) => a.size - b.size);
    const index = (fitting[0] ?? free.sort((a, b) => b.size - a.size)[0])?.index ?? bytes.length;
    bytes[index] = Math.max(bytes[index] ?? 0, l.bytes);
    busyUntil[index] = l.end;
    slotOf.set(l.key, index);
  }
  return slotOf;
}

const life = (key: string, bytes: number, start: number, end: number): Lifetime => ({ key, bytes, start, end });

/** No two tensors alive at the same step may share a slot: checked over every pair. */
function overlapsShareNoSlot(lifetimes: Lifetime[], slotOf: Map<string, number>): boolean {
  return lifetimes.every((a) => lifetimes.every((b) => a === b || slotOf.get(a.key) !== slotOf.get(b.key) || a.end < b.start || b.end < a.start));
}

describe('buffer slots by liveness', () => {
  it('reuses a slot once its tenant is dead, never while it lives', () => {
    const chain = [life('a', 100, 0, 1), life('b', 100, 1, 2), life('c', 100, 2, 3), life('d', 100, 3, 4)];
    const { slotOf, slots } = assignSlots(chain);
    expect(slots).toHaveLength(2); // a chain needs two buffers, ping-pong
    expect(overlapsShareNoSlot(chain, slotOf)).toBe(true);
  });

  it('never lets a kernel read and write the same buffer (input dies at the step its output is born)', () => {
    const { slotOf } = assignSlots([life('x', 64, 0, 1), life('y', 64, 1, 2)]);
    expect(slotOf.get('x')).not.toBe(slotOf.get('y'));
  });

  it('keeps tensors read back at the end out of reuse', () => {
    const lifetimes = [life('out', 40, 0, Infinity), life('t1', 40, 1, 1), life('t2', 40, 2, 2)];
    const { slotOf } = assignSlots(lifetimes);
    expect(slotOf.get('t1')).not.toBe(slotOf.get('out'));
    expect(slotOf.get('t2')).not.toBe(slotOf.get('out'));
  });

  it('grows a free slot rather than allocating a new one, and sizes each slot for its largest tenant', () => {
    const { slots, slotOf } = assignSlots([life('small', 10, 0, 0), life('big', 1000, 1, 1)]);
    expect(slots).toHaveLength(1);
    expect(slots[slotOf.get('big')!]!.bytes).toBe(1000);
  });

  it('holds over random schedules', () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 50; trial++) {
      const lifetimes = Array.from({ length: 30 }, (_, i) => {
        const start = Math.floor(next() * 20);
        return life(`t${i}`, 1 + Math.floor(next() * 500), start, next() < 0.1 ? Infinity : start + Math.floor(next() * 6));
      });
      const { slotOf, slots } = assignSlots(lifetimes);
      expect(slotOf).toEqual(referenceSlots(lifetimes));
      expect(overlapsShareNoSlot(lifetimes, slotOf)).toBe(true);
      for (const l of lifetimes) expect(slots[slotOf.get(l.key)!]!.bytes).toBeGreaterThanOrEqual(l.bytes);
    }
  });

  it('scales to a 100 000-tensor schedule (a deep chain alive until its backward pass)', () => {
    const steps = 100_000;
    const lifetimes = Array.from({ length: steps }, (_, k) => life(`t${k}`, 64 + (k % 7), k, 2 * steps - k));
    const { slots } = assignSlots(lifetimes);
    expect(slots).toHaveLength(steps);
  });
});
