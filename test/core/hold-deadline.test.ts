import { describe, expect, it } from "vitest";
import { holdDeadlineMs, holdDeadlineSlotMs } from "../../src/core/hold-deadline.js";

describe("a hold's deadline", () => {
  it.each([
    // grace → slot (the largest power of two at most a quarter of the grace, at least 1 ms)
    [0, 1],
    [3, 1],
    [8, 2],
    [1_000, 128],
    [5_000, 1_024],
  ])("grace %i ms → slot %i ms", (graceMs, slotMs) => {
    expect(holdDeadlineSlotMs(graceMs)).toBe(slotMs);
  });

  it("lies between TTL + three quarters of the grace and TTL + grace", () => {
    for (const graceMs of [0, 1, 7, 1_000, 5_000, 65_537]) {
      for (let expiresAtMs = 1_700_000_000_000; expiresAtMs < 1_700_000_000_000 + 5_000; expiresAtMs += 97) {
        const deadline = holdDeadlineMs(expiresAtMs, graceMs);
        expect(deadline).toBeLessThanOrEqual(expiresAtMs + graceMs);
        expect(deadline).toBeGreaterThanOrEqual(expiresAtMs + graceMs - Math.floor(graceMs / 4));
        expect(deadline % holdDeadlineSlotMs(graceMs)).toBe(0);
      }
    }
    expect(holdDeadlineMs(1_000, 0)).toBe(1_000);
  });
});
