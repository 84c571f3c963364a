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

  it("reads a malformed packed item as NaN amounts, so the chain's hash shows the edit", () => {
    const event = chainEventOf("0-3", [...head, "B", "tenant:acme 100;x"]);
    expect(event.balances).toEqual([
      { scope: "tenant:acme 100", allocated: Number.NaN, remaining: Number.NaN },
      { scope: "x", allocated: Number.NaN, remaining: Number.NaN },
    ]);
  });
});
