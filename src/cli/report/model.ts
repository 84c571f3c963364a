import type { Decision, ReasonCode } from "../../core/decision.js";
import type { Band } from "../../core/narrowing.js";
import type { Unit } from "../../core/units.js";
import type { BudgetWindow } from "../../core/windows.js";
import type { AuditEvent, BudgetDefinition } from "../../store/types.js";

/** What the report shows, computed from the audit log; rendering is separate and pure. */

export const reportScopesMax = 60;
export const reportPointsPerSeriesMax = 1_500;
export const reportDeniedRowsMax = 500;
export const reportApprovalRowsMax = 500;

export interface ReportInput {
  events: readonly AuditEvent[];
  /** Budget definitions, for the narrowing bands and windows; scopes without one get no bands. */
  budgets?: readonly BudgetDefinition[];
  title?: string;
  /** Where the events came from, shown in the header ("redis ...", "run.jsonl"). */
  source?: string;
  generatedAtMs?: number;
}

export interface UtilizationPoint {
  atMs: number;
  /** (allocated - remaining) / allocated after the event: the share of the budget used or held. */
  utilization: number;
  remaining: number;
  allocated: number;
  /** This event was denied because of this very budget. */
  deniedHere: boolean;
  tool?: string;
}

export interface ScopeSeries {
  scope: string;
  unit: Unit;
  window?: BudgetWindow;
  bands: Band[] | null;
  points: UtilizationPoint[];
  denials: number;
  peakUtilization: number;
  /** How many points were dropped to keep the chart light (denials are always kept). */
  pointsDropped: number;
}

export interface ToolDecisions {
  tool: string;
  allow: number;
  allowWithCaps: number;
  deny: number;
  /** Shadow mode: allowed, but enforcement would have denied. */
  wouldDeny: number;
}

export interface DeniedRow {
  atMs: number;
  scope: string;
  tool: string;
  tier: string;
  estimate?: number;
  reason: ReasonCode | "UNKNOWN";
  deniedScope?: string;
  /** Recorded in shadow mode: the action ran; enforcement would have denied it. */
  shadow: boolean;
  runId?: string;
}

export interface ApprovalRow {
  atMs: number;
  scope: string;
  tool: string;
  actor?: string;
  outcome: "approved" | "rejected" | "timed out";
  decision?: Decision;
}

export interface ReportModel {
  title: string;
  source?: string;
  generatedAtMs: number;
  fromMs: number;
  toMs: number;
  eventCount: number;
  totals: {
    decisions: number;
    allow: number;
    allowWithCaps: number;
    deny: number;
    wouldDeny: number;
    settlements: number;
  };
  series: ScopeSeries[];
  seriesOmitted: string[];
  tools: ToolDecisions[];
  denied: DeniedRow[];
  deniedOmitted: number;
  approvals: ApprovalRow[];
  approvalsOmitted: number;
}

export function buildReportModel(input: ReportInput): ReportModel {
  const events = [...input.events].sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
  const definitions = new Map((input.budgets ?? []).map((budget) => [`${budget.scope}|${budget.unit}`, budget]));
  const series = new Map<string, ScopeSeries>();
  const tools = new Map<string, ToolDecisions>();
  const denied: DeniedRow[] = [];
  const approvals: ApprovalRow[] = [];
  const totals = { decisions: 0, allow: 0, allowWithCaps: 0, deny: 0, wouldDeny: 0, settlements: 0 };

  for (const event of events) {
    if (event.type === "reserve") {
      totals.decisions++;
      const tool = event.action?.name ?? "(unnamed)";
      const counts = tools.get(tool) ?? { tool, allow: 0, allowWithCaps: 0, deny: 0, wouldDeny: 0 };
      tools.set(tool, counts);
      if (event.decision === "DENY") {
        totals.deny++;
        counts.deny++;
      } else if (event.shadow?.decision === "DENY") {
        totals.wouldDeny++;
        counts.wouldDeny++;
      } else if (event.decision === "ALLOW_WITH_CAPS") {
        totals.allowWithCaps++;
        counts.allowWithCaps++;
      } else {
        totals.allow++;
        counts.allow++;
      }
      const deniedBy = event.decision === "DENY" ? event : event.shadow?.decision === "DENY" ? event.shadow : undefined;
      if (deniedBy) {
        denied.push({
          atMs: event.atMs,
          scope: event.scope,
          tool,
          tier: event.action?.tier ?? "?",
          estimate: event.estimate,
          reason: deniedBy.reasonCode ?? "UNKNOWN",
          deniedScope: deniedBy.deniedScope,
          shadow: deniedBy !== event,
          runId: event.runId,
        });
      }
      const approval = approvalOf(event, tool);
      if (approval) approvals.push(approval);
    } else if (event.type === "commit" || event.type === "release" || event.type === "expire") {
      totals.settlements++;
    }
    for (const balance of event.balances ?? []) {
      const key = `${balance.scope}|${event.unit}`;
      let entry = series.get(key);
      if (!entry) {
        const definition = definitions.get(key);
        entry = {
          scope: balance.scope,
          unit: event.unit,
          window: definition?.window,
          bands: definition?.narrowing ?? null,
          points: [],
          denials: 0,
          peakUtilization: 0,
          pointsDropped: 0,
        };
        series.set(key, entry);
      }
      const deniedHere =
        event.type === "reserve" &&
        (event.decision === "DENY" ? event.deniedScope : event.shadow?.deniedScope) === balance.scope;
      const utilization = balance.allocated > 0 ? (balance.allocated - balance.remaining) / balance.allocated : 1;
      entry.points.push({
        atMs: event.atMs,
        utilization,
        remaining: balance.remaining,
        allocated: balance.allocated,
        deniedHere,
        tool: event.action?.name,
      });
      if (deniedHere) entry.denials++;
      entry.peakUtilization = Math.max(entry.peakUtilization, utilization);
    }
  }

  // The busiest scopes get charts; the rest are named so nothing disappears silently.
  const ranked = [...series.values()].sort(
    (a, b) => b.points.length - a.points.length || a.scope.localeCompare(b.scope),
  );
  const charted = ranked
    .slice(0, reportScopesMax)
    .sort((a, b) => a.scope.localeCompare(b.scope) || a.unit.localeCompare(b.unit));
  for (const entry of charted) thinPoints(entry);
  const first = events[0]?.atMs ?? input.generatedAtMs ?? Date.now();
  const last = events[events.length - 1]?.atMs ?? first;
  return {
    title: input.title ?? "tollgate report",
    source: input.source,
    generatedAtMs: input.generatedAtMs ?? Date.now(),
    fromMs: first,
    toMs: last,
    eventCount: events.length,
    totals,
    series: charted,
    seriesOmitted: ranked.slice(reportScopesMax).map((entry) => entry.scope),
    tools: [...tools.values()].sort((a, b) => total(b) - total(a) || a.tool.localeCompare(b.tool)),
    denied: denied.slice(-reportDeniedRowsMax),
    deniedOmitted: Math.max(0, denied.length - reportDeniedRowsMax),
    approvals: approvals.slice(-reportApprovalRowsMax),
    approvalsOmitted: Math.max(0, approvals.length - reportApprovalRowsMax),
  };
}

/**
 * An approval shows in the log as a reservation made on an approver's behalf (`actor` set), or as
 * a denial whose reason is an approval rejected or timed out.
 */
function approvalOf(event: AuditEvent, tool: string): ApprovalRow | undefined {
  const base = { atMs: event.atMs, scope: event.scope, tool, actor: event.actor, decision: event.decision };
  if (event.reasonCode === "APPROVAL_REJECTED") return { ...base, outcome: "rejected" };
  if (event.reasonCode === "APPROVAL_TIMEOUT") return { ...base, outcome: "timed out" };
  if (event.actor && event.decision !== "DENY") return { ...base, outcome: "approved" };
  return undefined;
}

export function total(counts: ToolDecisions): number {
  return counts.allow + counts.allowWithCaps + counts.deny + counts.wouldDeny;
}

/** Keeps every denial and an even spread of the rest, so long runs stay light to render. */
function thinPoints(entry: ScopeSeries): void {
  if (entry.points.length <= reportPointsPerSeriesMax) return;
  const step = entry.points.length / reportPointsPerSeriesMax;
  const kept = entry.points.filter(
    (point, index) =>
      point.deniedHere ||
      index === entry.points.length - 1 ||
      Math.floor(index / step) !== Math.floor((index - 1) / step),
  );
  entry.pointsDropped = entry.points.length - kept.length;
  entry.points = kept;
}
