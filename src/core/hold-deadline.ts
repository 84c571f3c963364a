/**
 * When an unsettled hold returns by itself: its TTL plus the grace, rounded down to a slot of the
 * grace's scale (the largest power of two at most a quarter of the grace, at least 1 ms). So a hold
 * lives at least its TTL plus three quarters of the grace, and at most TTL + grace.
 *
 * Why slots: holds that return in the same slot are one entry in the Redis store's per-slot sums, so
 * a call sees exactly what is free however many holds are overdue, at a cost bounded by the number of
 * overdue slots, not holds (see src/store/redis/README.md). Both stores use this rule, and the Lua
 * `deadlineOf` in src/store/redis/lua/prelude.ts mirrors it.
 */
export function holdDeadlineMs(expiresAtMs: number, graceMs: number): number {
  const slotMs = holdDeadlineSlotMs(graceMs);
  return Math.floor((expiresAtMs + graceMs) / slotMs) * slotMs;
}

export function holdDeadlineSlotMs(graceMs: number): number {
  let slotMs = 1;
  while (slotMs * 2 <= graceMs / 4) slotMs *= 2;
  return slotMs;
}
