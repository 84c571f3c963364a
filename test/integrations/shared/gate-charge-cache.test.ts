import { afterAll, describe, expect, it } from "vitest";
import { Gate } from "../../../src/integrations/shared/gate.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";

// A tool object is read once for its charge (per rule set): the gate charges every call of that
// tool the same way, and a caller's object that changes afterwards is not read again.

const ledger = createLedger({ sweepIntervalMs: 0 });
afterAll(() => ledger.close());

describe("Gate.chargeOf reads a tool object once", () => {
  it("keeps the charge it read, though the tool's annotations and tags change later", () => {
    const gate = new Gate({ rules: [{ tag: "billing", tier: "mutation", estimate: 30 }] }, "test");
    const lookup = { name: "lookup", tags: [] as string[], metadata: { annotations: { readOnlyHint: true } } };
    const first = gate.chargeOf(lookup, "lookup", ledger);
    expect(first).toMatchObject({ covered: true, source: "annotations", spec: { tier: "read", estimate: 5 } });
    lookup.metadata.annotations = { readOnlyHint: false };
    lookup.tags.push("billing");
    expect(gate.chargeOf(lookup, "lookup", ledger)).toBe(first);
    // Another object with what the first one now says is read afresh.
    const copy = { name: "lookup", tags: ["billing"], metadata: { annotations: { readOnlyHint: false } } };
    expect(gate.chargeOf(copy, "lookup", ledger)).toMatchObject({ source: "rule", spec: { tier: "mutation" } });
  });

  it("reads it again under another rule set (another ledger's policy)", async () => {
    const gate = new Gate({}, "test");
    const policyLedger = (match: string) =>
      ({
        ...ledger,
        policy: { toolRules: [{ match, tier: "write-local", estimate: 10 }] },
      }) as unknown as typeof ledger;
    const search = { name: "search" };
    expect(gate.chargeOf(search, "search", policyLedger("search"))).toMatchObject({ covered: true, source: "rule" });
    expect(gate.chargeOf(search, "search", policyLedger("other"))).toEqual({ covered: false });
  });
});
