import { describe, expect, it } from "vitest";
import { AuditExportError, parseAuditExport } from "../../src/cli/audit-file.js";
import type { AuditEvent } from "../../src/store/types.js";

const event: AuditEvent = {
  seq: 1,
  atMs: Date.UTC(2026, 10, 24, 9),
  type: "reserve",
  scope: "tenant:a/toolset:x",
  unit: "RISK_POINTS",
  action: { name: "send_email", tier: "write-external" },
  estimate: 20,
  decision: "ALLOW",
  balances: [{ scope: "tenant:a/toolset:x", allocated: 100, remaining: 80 }],
};
const budget = {
  scope: "tenant:a/toolset:x",
  unit: "RISK_POINTS",
  limit: 100,
  window: "lifetime",
  narrowing: [
    { from: 0, disabledTiers: [] },
    { from: 0.5, disabledTiers: ["execution"] },
  ],
  overdraftLimit: 0,
  updatedAtMs: 1,
};

function refusal(lines: unknown[]): AuditExportError {
  const text = lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n");
  try {
    parseAuditExport(text, "run.jsonl");
  } catch (error) {
    expect(error).toBeInstanceOf(AuditExportError);
    return error as AuditExportError;
  }
  throw new Error("expected the export to be refused");
}

describe("reading an audit export", () => {
  it("takes well-formed events and budgets as they are", () => {
    const exported = parseAuditExport(`${JSON.stringify({ budget })}\n${JSON.stringify(event)}\n`, "run.jsonl");
    expect(exported).toEqual({ budgets: [budget], events: [event] });
  });

  it.each<[string, unknown, string]>([
    ["markup in estimate", { ...event, estimate: "<meta http-equiv=refresh content=0;url=x>" }, "estimate"],
    [
      "markup in balances.allocated",
      { ...event, balances: [{ ...event.balances?.[0], allocated: "<script>" }] },
      "balances.0.allocated",
    ],
    ["a fraction", { ...event, amount: 1.5 }, "amount"],
    ["a negative seq", { ...event, seq: -1 }, "seq"],
    ["an unsafe integer", { ...event, atMs: 2 ** 53 }, "atMs"],
    ["an unknown decision", { ...event, decision: "<b>ALLOW</b>" }, "decision"],
    ["an unknown reason", { ...event, reasonCode: "PWNED" }, "reasonCode"],
    ["a tier that is not one", { ...event, action: { name: "x", tier: "<i>" } }, "action.tier"],
    ["a scope that is not one", { ...event, scope: "tenant:<script>" }, "scope"],
    ["an overlong tool name", { ...event, action: { name: "x".repeat(129), tier: "read" } }, "action.name"],
    ["a field the ledger does not write", { ...event, html: "<script>" }, ""],
    ["a caps tier that is not one", { ...event, caps: { disabledTiers: ["<x>"] } }, "caps.disabledTiers.0"],
  ])("refuses %s, naming the line and the field", (_, bad, path) => {
    const error = refusal([event, bad]);
    expect(error.file).toBe("run.jsonl");
    expect(error.line).toBe(2);
    expect(error.issues[0].path).toBe(path);
    expect(error.message).toMatch(new RegExp(`^run\\.jsonl:2: ${path ? `${path.replace(/\./g, "\\.")}: ` : ""}`));
  });

  it("refuses a budget line with a bad band or an unknown field, naming the field", () => {
    expect(
      refusal([{ budget: { ...budget, narrowing: [{ from: '0.5" onload="x', disabledTiers: [] }] } }]).issues[0].path,
    ).toBe("budget.narrowing.0.from");
    expect(refusal([{ budget: { ...budget, narrowing: [{ from: 2, disabledTiers: [] }] } }]).message).toBe(
      "run.jsonl:1: budget.narrowing.0.from: must be a number from 0 to 1",
    );
    expect(refusal([{ budget: { ...budget, limit: -1 } }]).issues[0].path).toBe("budget.limit");
    expect(refusal([{ budget, extra: 1 }]).message).toBe("run.jsonl:1: unknown field(s): extra");
  });

  it("says a line is not JSON, and names at most a few fields of a very bad line", () => {
    expect(refusal(["{not json"]).message).toMatch(/^run\.jsonl:1: not a JSON line/);
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, index) => [`field${index}`, "<x>"]));
    const error = refusal([{ seq: "a", atMs: "b", type: "c", scope: "d", unit: "e", ...many }]);
    expect(error.issues.length).toBeLessThanOrEqual(10);
  });
});
