import type { AuditEvent, BudgetDefinition } from "../../src/store/types.js";
import { sampleStartMs } from "./sample-run.js";

/**
 * Everything the report prints comes from the audit log, and any caller can name a tool: every
 * value lands escaped, strings and numbers alike (a store or an export could hold anything).
 */
export const markup = '<meta http-equiv="refresh" content="0;url=https://evil.example">';
export const script = "<script>alert(1)</script>";
export const quote = `x" onmouseover="alert(2)`;

export function hostileReportInput(): { events: AuditEvent[]; budgets: BudgetDefinition[]; title: string } {
  const scope = "tenant:a/toolset:x";
  const number = (text: string) => text as unknown as number;
  const events: AuditEvent[] = [
    {
      seq: 1,
      atMs: sampleStartMs,
      type: "reserve",
      scope,
      unit: "RISK_POINTS",
      action: { name: `send${script}`, tier: "write-external" },
      actor: quote,
      runId: `run'${script}`,
      estimate: number(markup),
      decision: "DENY",
      reasonCode: script as never,
      deniedScope: scope,
      balances: [{ scope, allocated: number(markup), remaining: number(`${markup}1`) }],
    },
    {
      seq: 2,
      atMs: sampleStartMs + 1_000,
      type: "reserve",
      scope,
      unit: "RISK_POINTS",
      action: { name: quote, tier: number(script) as never },
      actor: script,
      estimate: 5,
      decision: "ALLOW",
      balances: [{ scope, allocated: 100, remaining: 95 }],
    },
  ];
  const budgets: BudgetDefinition[] = [
    {
      scope,
      unit: "RISK_POINTS",
      limit: 100,
      window: "lifetime",
      narrowing: [
        { from: 0, disabledTiers: [] },
        { from: number(`0.5" onload="alert(3)`), disabledTiers: [script as never] },
      ],
      overdraftLimit: 0,
      updatedAtMs: sampleStartMs,
    },
  ];
  return { events, budgets, title: `${script}${quote}` };
}
