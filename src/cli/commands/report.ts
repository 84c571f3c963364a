import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { auditQueryLimitMax } from "../../core/limits.js";
import { tenantScopeOf } from "../../core/scope.js";
import { filterAuditEvents } from "../../store/audit-filter.js";
import type { AuditEvent, AuditLookup, BudgetDefinition } from "../../store/types.js";
import { readAuditExport } from "../audit-file.js";
import type { Command } from "../command.js";
import { exitOk, UsageError } from "../errors.js";
import { writeLine } from "../io.js";
import { auditFileOption, redisOptions, userPath } from "../options.js";
import { Progress } from "../progress.js";
import { writeReportFile } from "../report/index.js";
import { parseScopeFlag, parseTimeFlag } from "../values.js";

export const report: Command = {
  name: "report",
  summary: "write one self-contained HTML report of a run from the audit log",
  details:
    "Per scope: budget utilization over time with the narrowing bands shaded; decisions per tool;\nthe denied actions with their reasons; approvals; and in shadow mode the denial rate enforcing would cause.\nThe file has no scripts and loads nothing from the network.",
  options: {
    out: { type: "string", valueName: "FILE", description: "where to write the HTML", required: true },
    scope: { type: "string", valueName: "SCOPE", description: "only this scope and those beneath it" },
    since: { type: "string", valueName: "TIME", description: "from this time: ISO, epoch ms, or ago (15m, 2h, 7d)" },
    until: { type: "string", valueName: "TIME", description: "up to this time (same forms)" },
    title: { type: "string", valueName: "TEXT", description: 'the report title (default "tollgate report")' },
    ...redisOptions,
    ...auditFileOption,
    policy: {
      type: "string",
      valueName: "FILE",
      description: "take budget definitions (narrowing bands) from this policy file",
    },
  },
  examples: [
    "tollgate report --from run.jsonl --out report.html",
    "tollgate report --redis redis://127.0.0.1:6379 --scope tenant:starter-co --since 1d --out starter.html",
  ],
  async run({ io, options, command }) {
    const nowMs = Date.now();
    const query: AuditLookup = { limit: auditQueryLimitMax };
    if (typeof options.scope === "string") query.scope = parseScopeFlag("scope", options.scope, command.name);
    if (typeof options.since === "string") query.sinceMs = parseTimeFlag("since", options.since, nowMs, command.name);
    if (typeof options.until === "string") query.untilMs = parseTimeFlag("until", options.until, nowMs, command.name);
    const from = typeof options.from === "string" ? options.from : undefined;
    const policyFile = typeof options.policy === "string" ? options.policy : undefined;
    const progress = new Progress(io.stderr, "Reading the audit log:");
    progress.update(0);
    let events: AuditEvent[];
    let budgets: BudgetDefinition[];
    let source: string;
    if (from !== undefined) {
      if (typeof options.redis === "string")
        throw new UsageError("give either --from (a file) or --redis (a store), not both", command.name);
      const exported = await readAuditExport(userPath(io, from));
      events = filterAuditEvents(exported.events, query);
      budgets = exported.budgets;
      source = from;
    } else {
      const { openLedger, closeQuietly } = await import("../source.js");
      const { ledger, label } = await openLedger(io, { ...options, policy: undefined }, command.name, {
        write: false,
      }).catch((error) => {
        if (error instanceof UsageError) {
          throw new UsageError(
            `${error.message.replace(/, or --policy FILE.*$/, "")}, or --from FILE for an audit export`,
            command.name,
          );
        }
        throw error;
      });
      try {
        events = await ledger.audit(query);
        budgets = await ledger.listBudgets(query.scope ? { scope: tenantScopeOf(query.scope) } : { allTenants: true });
        source = label;
      } finally {
        await closeQuietly(ledger);
      }
    }
    if (policyFile !== undefined) {
      const { openPolicyView } = await import("../source.js");
      const view = await openPolicyView(io, policyFile);
      const fromPolicy = await view.listBudgets({ allTenants: true });
      await view.close();
      const stated = new Set(fromPolicy.map((budget) => `${budget.scope}|${budget.unit}`));
      budgets = [...fromPolicy, ...budgets.filter((budget) => !stated.has(`${budget.scope}|${budget.unit}`))];
    }
    progress.update(events.length);
    progress.done();
    const out = options.out as string;
    const title = typeof options.title === "string" ? options.title : undefined;
    await writeReportFile(userPath(io, out), { events, budgets, title, source });
    const url = pathToFileURL(resolve(io.cwd, out)).href;
    writeLine(
      io.stdout,
      `Wrote ${out}: ${events.length} event(s), ${budgets.length} budget definition(s). Open it in a browser: ${url}`,
    );
    if (events.length === 0) {
      writeLine(
        io.stderr,
        "The audit log had no events for these filters; the report is empty. Widen --since or --scope.",
      );
    }
    return exitOk;
  },
};
