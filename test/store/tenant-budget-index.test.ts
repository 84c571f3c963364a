import { describe, expect, it } from "vitest";
import { applicableScopes } from "../../src/core/scope.js";
import { shapeOf, TenantBudgetIndex } from "../../src/store/tenant-budget-index.js";
import type { BudgetDefinition } from "../../src/store/types.js";

const budget = (scope: string): BudgetDefinition => ({
  scope,
  unit: "RISK_POINTS",
  limit: 1,
  window: "lifetime",
  narrowing: null,
  overdraftLimit: 0,
  updatedAtMs: 0,
});

describe("TenantBudgetIndex", () => {
  const subject = "tenant:acme/workspace:w/app:a/workflow:f/agent:r/toolset:t";
  const all = applicableScopes(subject);

  it("finds exactly the applicable budgets, in the same order as applicableScopes", () => {
    const index = new TenantBudgetIndex();
    // Every applicable scope, a sibling that must not match, and another tenant's budget.
    for (const scope of [...all].reverse()) index.set(budget(scope));
    index.set(budget("tenant:acme/agent:other"));
    index.set(budget("tenant:other/toolset:t"));
    expect(index.applicable(subject, "RISK_POINTS").map((found) => found.scope)).toEqual(all);
    expect(index.applicable(subject, "TOKENS")).toEqual([]);
  });

  it("forgets a shape when its last budget goes", () => {
    const index = new TenantBudgetIndex();
    index.set(budget("tenant:acme/toolset:t"));
    index.set(budget("tenant:acme/toolset:u"));
    expect(index.delete("tenant:acme/toolset:t", "RISK_POINTS")?.scope).toBe("tenant:acme/toolset:t");
    expect(index.applicable("tenant:acme/toolset:u", "RISK_POINTS").map((found) => found.scope)).toEqual([
      "tenant:acme/toolset:u",
    ]);
    expect(index.delete("tenant:acme/toolset:u", "RISK_POINTS")).toBeDefined();
    expect(index.delete("tenant:acme/toolset:u", "RISK_POINTS")).toBeUndefined();
    expect(index.applicable("tenant:acme/toolset:u", "RISK_POINTS")).toEqual([]);
  });

  it("answers from its cache until that tenant's budgets change, and then afresh", () => {
    const index = new TenantBudgetIndex();
    const path = "tenant:acme/agent:r/toolset:t";
    index.set(budget("tenant:acme"));
    expect(index.applicable(path, "RISK_POINTS").map((found) => found.scope)).toEqual(["tenant:acme"]);
    index.set(budget("tenant:acme/toolset:t"));
    expect(index.applicable(path, "RISK_POINTS").map((found) => found.scope)).toEqual([
      "tenant:acme",
      "tenant:acme/toolset:t",
    ]);
    const replacement = { ...budget("tenant:acme/toolset:t"), limit: 7 };
    index.set(replacement);
    expect(index.applicable(path, "RISK_POINTS")[1]).toBe(replacement);
    index.delete("tenant:acme", "RISK_POINTS");
    expect(index.applicable(path, "RISK_POINTS")).toEqual([replacement]);
    // Another tenant's change leaves this one's answer alone; a unit is answered on its own.
    index.set(budget("tenant:other"));
    expect(index.applicable(path, "TOKENS")).toEqual([]);
    expect(index.applicable(path, "RISK_POINTS")).toEqual([replacement]);
    index.delete("tenant:acme/toolset:t", "RISK_POINTS");
    expect(index.applicable(path, "RISK_POINTS")).toEqual([]);
  });

  it("describes a scope's levels as bits", () => {
    expect(shapeOf("tenant:acme")).toBe(0);
    expect(shapeOf("tenant:acme/workspace:w/toolset:t")).toBe(0b10001);
  });

  it("keeps nothing per path: many tenants and paths are answered right, and a tenant that went and came back afresh", () => {
    const index = new TenantBudgetIndex();
    const tenants = 20_000;
    for (let i = 0; i < tenants; i++) index.set(budget(`tenant:t${i}/toolset:t`));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < tenants; i += 997) {
        expect(index.applicable(`tenant:t${i}/toolset:t`, "RISK_POINTS").map((found) => found.scope)).toEqual([
          `tenant:t${i}/toolset:t`,
        ]);
      }
    }
    index.applicable("tenant:t1/toolset:t", "RISK_POINTS");
    index.delete("tenant:t1/toolset:t", "RISK_POINTS");
    expect(index.applicable("tenant:t1/toolset:t", "RISK_POINTS")).toEqual([]);
    index.set(budget("tenant:t1"));
    expect(index.applicable("tenant:t1/toolset:t", "RISK_POINTS").map((found) => found.scope)).toEqual(["tenant:t1"]);
  });

  it("matches a shape's budget exactly: no prefix, no longer value, no other level, across one and several budgets", () => {
    const index = new TenantBudgetIndex();
    const scopes = (path: string) => index.applicable(path, "RISK_POINTS").map((found) => found.scope);
    index.set(budget("tenant:acme/toolset:te"));
    expect(scopes("tenant:acme/toolset:t")).toEqual([]);
    expect(scopes("tenant:acme/toolset:tee")).toEqual([]);
    expect(scopes("tenant:acme/agent:te")).toEqual([]);
    expect(scopes("tenant:acme/agent:x/toolset:te")).toEqual(["tenant:acme/toolset:te"]);
    expect(scopes("tenant:acme2/toolset:te")).toEqual([]);
    // A second budget of the same shape, then a replacement of one, then a removal.
    index.set(budget("tenant:acme/toolset:t"));
    expect(scopes("tenant:acme/toolset:t")).toEqual(["tenant:acme/toolset:t"]);
    expect(scopes("tenant:acme/toolset:te")).toEqual(["tenant:acme/toolset:te"]);
    const replacement = { ...budget("tenant:acme/toolset:t"), limit: 9 };
    expect(index.set(replacement)?.limit).toBe(1);
    expect(index.applicable("tenant:acme/toolset:t", "RISK_POINTS")).toEqual([replacement]);
    index.delete("tenant:acme/toolset:te", "RISK_POINTS");
    expect(scopes("tenant:acme/toolset:te")).toEqual([]);
    expect(index.applicable("tenant:acme/toolset:t", "RISK_POINTS")).toEqual([replacement]);
    const single = { ...budget("tenant:acme/toolset:t"), limit: 3 };
    index.set(single);
    expect(index.applicable("tenant:acme/toolset:t", "RISK_POINTS")).toEqual([single]);
    // Two levels in one shape: both segments must match, in order (fewer levels list first).
    index.set(budget("tenant:acme/workspace:w/agent:r"));
    expect(scopes("tenant:acme/workspace:w/app:a/agent:r/toolset:t")).toEqual([
      "tenant:acme/toolset:t",
      "tenant:acme/workspace:w/agent:r",
    ]);
    expect(scopes("tenant:acme/workspace:w/agent:rr")).toEqual([]);
    expect(scopes("tenant:acme/workspace:ww/agent:r")).toEqual([]);
    expect(index.size).toBe(2);
  });
});
