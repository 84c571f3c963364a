import { describe, expect, it } from "vitest";
import { escapeHtml } from "../../src/cli/report/escape.js";
import { renderReportHtml } from "../../src/cli/report/html.js";
import { buildReportModel, reportPointsPerSeriesMax } from "../../src/cli/report/model.js";
import type { AuditEvent } from "../../src/store/types.js";
import { sampleRun, sampleStartMs } from "./sample-run.js";

describe("report model", () => {
  it("counts decisions per tool and lists denials with their reasons and approvals", async () => {
    const run = await sampleRun();
    await run.ledger.close();
    const model = buildReportModel({ events: run.events, budgets: run.budgets });
    expect(model.totals).toMatchObject({ decisions: 19, allow: 11, allowWithCaps: 2, deny: 6, wouldDeny: 0 });
    expect(model.tools).toEqual([
      { tool: "send_email", allow: 10, allowWithCaps: 1, deny: 3, wouldDeny: 0 },
      { tool: "deploy_service", allow: 1, allowWithCaps: 1, deny: 3, wouldDeny: 0 },
    ]);
    expect(model.denied.map((row) => row.reason)).toEqual([
      "BUDGET_EXCEEDED",
      "BUDGET_EXCEEDED",
      "BUDGET_EXCEEDED",
      "TIER_DISABLED",
      "TIER_DISABLED",
      "BUDGET_EXCEEDED",
    ]);
    expect(model.approvals).toEqual([
      expect.objectContaining({ outcome: "approved", actor: "alice@starter-co", tool: "send_email" }),
    ]);
    const deploy = model.series.find((series) => series.scope === "tenant:enterprise-corp/toolset:deploy");
    expect(deploy?.bands?.map((band) => band.from)).toEqual([0, 0.5, 0.8, 1]);
    expect(deploy?.denials).toBe(2);
    expect(deploy?.peakUtilization).toBe(0.5);
    expect(model.fromMs).toBeGreaterThan(sampleStartMs);
  });

  it("counts what shadow mode would have denied apart from real denials", async () => {
    const run = await sampleRun("shadow");
    await run.ledger.close();
    const model = buildReportModel({ events: run.events, budgets: run.budgets });
    expect(model.totals).toMatchObject({ decisions: 19, deny: 0, wouldDeny: 6 });
    expect(model.denied.every((row) => row.shadow)).toBe(true);
    const html = renderReportHtml({ events: run.events, budgets: run.budgets });
    expect(html).toContain("Shadow rollout: what enforcing would deny");
    expect(html).toContain("6 of 19 decisions (32%)");
  });

  it("thins long series but keeps every denial, and escapes what it prints", () => {
    const events: AuditEvent[] = [];
    for (let index = 0; index < reportPointsPerSeriesMax * 3; index++) {
      const denied = index % 1_000 === 999;
      events.push({
        seq: index + 1,
        atMs: sampleStartMs + index * 1_000,
        type: "reserve",
        scope: "tenant:a/toolset:x",
        unit: "RISK_POINTS",
        action: { name: '<img src=x onerror="alert(1)">', tier: "read" },
        decision: denied ? "DENY" : "ALLOW",
        reasonCode: denied ? "BUDGET_EXCEEDED" : undefined,
        deniedScope: denied ? "tenant:a/toolset:x" : undefined,
        balances: [{ scope: "tenant:a/toolset:x", allocated: 10_000, remaining: 10_000 - (index % 100) }],
      });
    }
    const model = buildReportModel({ events });
    const [series] = model.series;
    expect(series.points.length).toBeLessThanOrEqual(reportPointsPerSeriesMax + 10);
    expect(series.points.filter((point) => point.deniedHere)).toHaveLength(4);
    const html = renderReportHtml({ events });
    expect(html).not.toContain("<img");
    expect(html).toContain(escapeHtml('<img src=x onerror="alert(1)">'));
  });

  it("renders an empty log as a page that says so", () => {
    const html = renderReportHtml({ events: [], title: "Nothing yet" });
    expect(html).toContain("No decision in this log touched a budget.");
    expect(html).toContain("Nothing was denied.");
  });
});
