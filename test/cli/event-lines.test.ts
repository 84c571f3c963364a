import { describe, expect, it } from "vitest";
import { verifyEventLines } from "../../src/cli/event-lines.js";
import { emptyChainHead, linkEvent } from "../../src/evidence/chain.js";
import type { AuditEvent } from "../../src/store/types.js";

const eventOf = (seq: number, scope = "tenant:acme/toolset:mail"): AuditEvent => ({
  seq,
  atMs: 1_700_000_000_000 + seq,
  type: "reserve",
  scope,
  unit: "RISK_POINTS",
  estimate: 2,
  decision: "ALLOW",
});

function chainOf(tenant: string, events: AuditEvent[]) {
  let head = emptyChainHead;
  return events.map((event) => {
    const record = linkEvent(tenant, head, event as unknown as Record<string, unknown>);
    head = { seq: record.seq, hash: record.hash };
    return record;
  });
}

describe("verifyEventLines", () => {
  const events = [eventOf(3), eventOf(5), eventOf(8, "tenant:beta")];
  const records = [...chainOf("tenant:acme", events.slice(0, 2)), ...chainOf("tenant:beta", events.slice(2))];

  it("passes lines that are the events their tenant's records carry, whatever their key order", () => {
    const reordered = Object.fromEntries(Object.entries(events[1]).reverse()) as unknown as AuditEvent;
    const lines = [events[0], reordered, events[2]].map((event, index) => ({ line: index + 1, event }));
    expect(verifyEventLines(lines, records)).toEqual({ checked: 3, problems: [], problemCount: 0 });
  });

  it("names a line that differs, one no record covers, and one of another tenant's seq", () => {
    const lines = [
      { line: 1, event: { ...events[0], estimate: 9 } },
      { line: 2, event: eventOf(4) },
      // Seq 8 is beta's: the same seq under acme is not covered.
      { line: 3, event: eventOf(8) },
      { line: 4, event: events[1] },
    ];
    const verified = verifyEventLines(lines, records);
    expect(verified.problemCount).toBe(3);
    expect(verified.problems.map(({ line, kind }) => [line, kind])).toEqual([
      [1, "differs_from_chain"],
      [2, "not_in_chain"],
      [3, "not_in_chain"],
    ]);
  });

  it("with no chain at all, nothing vouches for any line", () => {
    expect(verifyEventLines([{ line: 1, event: events[0] }], []).problemCount).toBe(1);
  });
});
