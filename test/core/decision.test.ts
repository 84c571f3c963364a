import { describe, expect, it } from "vitest";
import { type BudgetView, evaluate } from "../../src/core/decision.js";
import { progressiveBands, resolveNarrowing } from "../../src/core/narrowing.js";

const budget = (used: number, allocated = 100, narrowing = resolveNarrowing("progressive")): BudgetView => ({
  scope: "tenant:acme",
  allocated,
  spent: used,
  reserved: 0,
  debt: 0,
  narrowing,
});

describe("evaluate", () => {
  it("picks the band from the utilization before the action and caps from the one after", () => {
    expect(evaluate([budget(0)], "execution", 49)).toEqual({ decision: "ALLOW" });
    expect(evaluate([budget(0)], "execution", 50)).toEqual({
      decision: "ALLOW_WITH_CAPS",
      caps: { disabledTiers: ["write-external", "mutation", "execution"] },
    });
    expect(evaluate([budget(50)], "write-external", 1)).toMatchObject({
      decision: "DENY",
      reasonCode: "TIER_DISABLED",
    });
    expect(evaluate([budget(79)], "write-local", 1).caps?.disabledTiers).toEqual([
      "write-local",
      "write-external",
      "mutation",
      "execution",
    ]);
    expect(evaluate([budget(80)], "write-local", 1)).toMatchObject({ decision: "DENY", reasonCode: "TIER_DISABLED" });
    expect(evaluate([budget(99)], "read", 1).caps?.disabledTiers).toContain("read");
    // Fully used is exhausted: denied on capacity before any band is looked at.
    expect(evaluate([budget(100)], "read", 0)).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_EXCEEDED" });
  });

  it("an exhausted budget denies an estimate of 0; one with room allows it", () => {
    const plain = (used: number, allocated = 100) => ({ ...budget(used), allocated, narrowing: null });
    expect(evaluate([plain(100)], "read", 0)).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_EXCEEDED" });
    expect(evaluate([plain(50, 40)], "read", 0)).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_EXCEEDED" });
    expect(evaluate([plain(99)], "read", 0)).toEqual({ decision: "ALLOW" });
    expect(evaluate([plain(99)], "read", 1)).toEqual({ decision: "ALLOW" });
  });

  it("checks capacity before tiers, and names the scope that denied", () => {
    const tight = { ...budget(95), scope: "tenant:acme/toolset:x" };
    expect(evaluate([budget(0), tight], "read", 10)).toMatchObject({
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
      deniedScope: "tenant:acme/toolset:x",
    });
  });

  it("denies with no budget, with a zero budget and with debt", () => {
    expect(evaluate([], "read", 0)).toEqual({ decision: "DENY", reasonCode: "BUDGET_NOT_FOUND" });
    expect(evaluate([budget(0, 0, null)], "read", 0)).toMatchObject({ reasonCode: "BUDGET_EXCEEDED" });
    expect(evaluate([{ ...budget(0, 100, null), debt: 1 }], "read", 0)).toMatchObject({
      reasonCode: "DEBT_OUTSTANDING",
    });
  });

  it("keeps the preset's four bands", () => {
    expect(progressiveBands.map((band) => band.from)).toEqual([0, 0.5, 0.8, 1]);
  });
});
