import { describe, expect, it } from "vitest";
import { chainEventOf } from "../../../src/store/redis/audit-reader.js";

// Stream entries as lua/prelude.ts appendAudit writes them: the event each reads back as.
const head = [
  "t",
  "commit",
  "s",
  "1733146000",
  "u",
  "123456",
  "f",
  '"scope":"tenant:acme/agent:a1","unit":"RISK_POINTS"',
];

describe("audit stream entries", () => {
  it("reads the head field: type and time, and a reservation's estimate, decision or amount and id", () => {
    const fragment = ["f", '"scope":"tenant:acme/agent:a1","unit":"RISK_POINTS"'];
    const commit = chainEventOf("0-7", ["H", "commit 1733146000 123456 3 2 acme:r-1", ...fragment]);
    // The same event as written before the head field, a field per value.
    const spread = chainEventOf("0-7", [...head, "$reservationId", "acme:r-1", "#estimate", "3", "#amount", "2"]);
    expect(commit).toEqual(spread);
    expect(commit).toMatchObject({ seq: 7, atMs: 1733146000123, type: "commit", estimate: 3, amount: 2 });
    const reserve = chainEventOf("0-8", ["H", "reserve 1733146000 123456 5 ALLOW acme:r-2", ...fragment]);
    expect(reserve).toMatchObject({ type: "reserve", estimate: 5, decision: "ALLOW", reservationId: "acme:r-2" });
    // A reserve that holds nothing has no reservation id.
    const denied = chainEventOf("0-9", ["H", "reserve 1733146000 123456 5 DENY ", "$reasonCode", "BUDGET_EXCEEDED"]);
    expect(denied).toEqual({
      seq: 9,
      atMs: 1733146000123,
      type: "reserve",
      estimate: 5,
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
    });
    // Events that are no reservation's carry the type and time only.
    expect(chainEventOf("0-1", ["H", "budget.set 1733146000 123456", ...fragment])).toEqual({
      seq: 1,
      atMs: 1733146000123,
      type: "budget.set",
      scope: "tenant:acme/agent:a1",
      unit: "RISK_POINTS",
    });
  });

  it("reads the balances packed in one field", () => {
    const event = chainEventOf("0-7", [...head, "#amount", "2", "B", "tenant:acme 100 98;tenant:acme/agent:a1 10 8"]);
    expect(event).toEqual({
      seq: 7,
      atMs: 1733146000123,
      type: "commit",
      scope: "tenant:acme/agent:a1",
      unit: "RISK_POINTS",
      amount: 2,
      balances: [
        { scope: "tenant:acme", allocated: 100, remaining: 98 },
        { scope: "tenant:acme/agent:a1", allocated: 10, remaining: 8 },
      ],
    });
  });

  it("reads entries written before packing (a field per value) as the same event", () => {
    const packed = chainEventOf("0-7", [...head, "B", "tenant:acme 100 98;tenant:acme/agent:a1 10 -3"]);
    const spread = chainEventOf("0-7", [
      ...head,
      ...["b", "tenant:acme", "a", "100", "r", "98", "b", "tenant:acme/agent:a1", "a", "10", "r", "-3"],
    ]);
    expect(spread).toEqual(packed);
    expect(chainEventOf("0-2", [...head, "B", ""]).balances).toEqual([]);
    expect(chainEventOf("0-2", [...head, "b", ""]).balances).toEqual([]);
  });

  it("reads the counters field as the balances it stands for: remaining = allocated - spent - reserved - debt", () => {
    const counters = chainEventOf("0-7", [
      ...head,
      "#amount",
      "2",
      "C",
      "tenant:acme 100 2:0:0;tenant:acme/agent:a1 10 2:1:0;tenant:acme/toolset:x 20 20:0:3",
    ]);
    expect(counters.balances).toEqual([
      { scope: "tenant:acme", allocated: 100, remaining: 98 },
      { scope: "tenant:acme/agent:a1", allocated: 10, remaining: 7 },
      { scope: "tenant:acme/toolset:x", allocated: 20, remaining: -3 },
    ]);
    // The same event as the field of entries before it, which carried remaining itself.
    const remaining = chainEventOf("0-7", [...head, "#amount", "2", "B", "tenant:acme 100 98"]);
    expect(chainEventOf("0-7", [...head, "#amount", "2", "C", "tenant:acme 100 1:1:0"])).toEqual(remaining);
    // Exact at the largest amounts: the same doubles, in the same order, as the script's arithmetic.
    const max = Number.MAX_SAFE_INTEGER;
    expect(chainEventOf("0-1", [...head, "C", `tenant:acme ${max} ${max}:0:0`]).balances?.[0].remaining).toBe(0);
    expect(chainEventOf("0-1", [...head, "C", `tenant:acme ${max} 1:2:3`]).balances?.[0].remaining).toBe(max - 6);
  });

  it("reads malformed counters as a NaN remaining", () => {
    for (const counters of ["1:2", "1:2:3:4", "::", "a:0:0", "-1:0:0", "1:0:0 "]) {
      expect(chainEventOf("0-1", [...head, "C", `tenant:acme 100 ${counters}`]).balances, counters).toEqual([
        { scope: "tenant:acme", allocated: 100, remaining: Number.NaN },
      ]);
    }
  });

  it("reads a malformed packed item as NaN amounts, so the chain's hash shows the edit", () => {
    const event = chainEventOf("0-3", [...head, "B", "tenant:acme 100;x"]);
    expect(event.balances).toEqual([
      { scope: "tenant:acme 100", allocated: Number.NaN, remaining: Number.NaN },
      { scope: "x", allocated: Number.NaN, remaining: Number.NaN },
    ]);
  });
});
