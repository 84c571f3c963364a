import { rename, writeFile } from "node:fs/promises";
import { auditQueryLimitMax } from "../../core/limits.js";
import type { Ledger } from "../../ledger/ledger.js";
import { renderReportHtml } from "./html.js";
import type { ReportInput } from "./model.js";

export { renderModel, renderReportHtml } from "./html.js";
export { buildReportModel, type ReportInput, type ReportModel } from "./model.js";

/** Writes the report whole (a temporary file renamed into place), so a browser never opens half of one. */
export async function writeReportFile(file: string, input: ReportInput): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, renderReportHtml(input));
  await rename(temporary, file);
}

/** For demos and tests: the report of everything a ledger has audited, with its budgets' bands. */
export async function writeLedgerReport(
  ledger: Ledger,
  file: string,
  options: { title?: string; scope?: string } = {},
) {
  const events = await ledger.audit({ scope: options.scope, limit: auditQueryLimitMax });
  const budgets = await ledger.listBudgets(options.scope ? { scope: options.scope } : { allTenants: true });
  await writeReportFile(file, { events, budgets, title: options.title });
  return { events: events.length, budgets: budgets.length };
}
