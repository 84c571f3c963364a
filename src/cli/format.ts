import type { Band } from "../core/narrowing.js";
import type { AuditEvent, BudgetDefinition } from "../store/types.js";
import { terminalText } from "./io.js";

/** `2026-11-24 20:28:27.123Z`: sortable, UTC, and the same on every operator's machine. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ");
}

/** Left-aligned columns separated by two spaces; numbers right-aligned. Every cell is shown through terminalText. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => terminalText(String(cell))))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === "number"));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function describeNarrowing(bands: Band[] | null): string {
  if (bands === null) return "none";
  return bands.map((band) => `${Math.round(band.from * 100)}%:${band.disabledTiers.length}`).join(" ");
}

export function budgetRow(budget: BudgetDefinition): (string | number)[] {
  return [
    budget.scope,
    budget.unit,
    budget.limit,
    budget.window,
    narrowingLabel(budget.narrowing),
    budget.overdraftLimit,
  ];
}

/** "progressive" when the bands are the default preset, else a compact list. */
export function narrowingLabel(bands: Band[] | null): string {
  if (bands === null) return "none";
  const progressive = "0%:0 50%:3 80%:4 100%:5";
  const described = describeNarrowing(bands);
  return described === progressive ? "progressive" : `bands ${described}`;
}

/**
 * One audit event as one line an operator can scan: when, what, answer, why, where. The names in it
 * are the caller's, so the line goes through terminalText: a line break or an escape sequence in a
 * tool name, actor or run id is shown, never obeyed.
 */
export function formatEvent(event: AuditEvent): string {
  const parts = [formatTime(event.atMs)];
  switch (event.type) {
    case "reserve": {
      parts.push(event.decision ?? "?");
      if (event.reasonCode) parts.push(event.reasonCode);
      parts.push(event.scope);
      if (event.action) parts.push(`${event.action.name} (${event.action.tier})`);
      if (event.estimate !== undefined) parts.push(`est ${event.estimate}`);
      if (event.deniedScope && event.deniedScope !== event.scope) parts.push(`denied at ${event.deniedScope}`);
      if (event.caps?.disabledTiers.length) parts.push(`caps: no ${event.caps.disabledTiers.join(",")}`);
      if (event.shadow) {
        parts.push(
          `[shadow: would ${event.shadow.decision}${event.shadow.reasonCode ? ` ${event.shadow.reasonCode}` : ""}]`,
        );
      }
      const least = leastRemaining(event);
      if (least !== undefined) parts.push(`remaining ${least}`);
      if (event.actor) parts.push(`by ${event.actor}`);
      break;
    }
    case "commit":
    case "release":
    case "expire":
      parts.push(event.type.toUpperCase(), event.scope);
      if (event.action) parts.push(event.action.name);
      if (event.amount !== undefined) parts.push(`${event.type === "commit" ? "charged" : "returned"} ${event.amount}`);
      break;
    case "budget.set":
      parts.push("BUDGET SET", event.scope, `${event.amount ?? "?"} ${event.unit}`);
      break;
    case "budget.remove":
      parts.push("BUDGET REMOVED", event.scope, event.unit);
      break;
    default:
      parts.push(event.type.toUpperCase(), event.scope);
      if (event.amount !== undefined) parts.push(String(event.amount));
  }
  if (event.runId) parts.push(`run ${event.runId}`);
  return terminalText(parts.join("  "));
}

export function leastRemaining(event: AuditEvent): number | undefined {
  if (!event.balances || event.balances.length === 0) return undefined;
  return Math.min(...event.balances.map((balance) => balance.remaining));
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? "0.0%" : `${((part / whole) * 100).toFixed(1)}%`;
}
