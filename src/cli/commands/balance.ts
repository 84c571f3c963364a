import { UNITS } from "../../core/units.js";
import type { Balance, BudgetDefinition } from "../../store/types.js";
import type { Command } from "../command.js";
import { CliFailure, exitOk } from "../errors.js";
import { formatTable, percent } from "../format.js";
import { writeJsonLine, writeLine } from "../io.js";
import { policySourceOption, redisOptions } from "../options.js";
import { parseEnumFlag, parseScopeFlag } from "../values.js";

export const balance: Command = {
  name: "balance",
  summary: "what is left: allocated, spent, held and remaining per budget",
  details:
    "With --scope, the budgets at and beneath that scope; without, every budget. Run-window budgets\nshow the instance of --run-id (or the shared instance of calls without a run id).",
  options: {
    scope: { type: "string", valueName: "SCOPE", description: "this scope and those beneath it" },
    unit: { type: "string", valueName: "UNIT", description: `only this unit: ${UNITS.join(" | ")}` },
    "run-id": { type: "string", valueName: "ID", description: "the run whose window to show, for run-window budgets" },
    json: { type: "boolean", description: "one JSON balance per line" },
    ...redisOptions,
    ...policySourceOption,
  },
  examples: ["tollgate balance --scope tenant:starter-co --redis redis://127.0.0.1:6379"],
  async run({ options, io, command }) {
    const unit =
      typeof options.unit === "string" ? parseEnumFlag("unit", options.unit, UNITS, command.name) : undefined;
    const scope = typeof options.scope === "string" ? parseScopeFlag("scope", options.scope, command.name) : undefined;
    const runId = typeof options["run-id"] === "string" ? options["run-id"] : undefined;
    const { openLedger, closeQuietly } = await import("../source.js");
    const { ledger, label } = await openLedger(io, options, command.name, { write: false });
    try {
      const budgets = (await ledger.listBudgets(scope ? { scope } : { allTenants: true })).filter(
        (budget) => !unit || budget.unit === unit,
      );
      if (budgets.length === 0) {
        throw new CliFailure(
          `No budgets${scope ? ` at or beneath ${scope}` : ""} in ${label}, so every action there is denied. Grant one with: tollgate budget set --scope SCOPE --limit N`,
        );
      }
      const balances: { budget: BudgetDefinition; balance: Balance | null }[] = [];
      for (const budget of budgets) {
        balances.push({ budget, balance: await ledger.getBalance({ scope: budget.scope, unit: budget.unit, runId }) });
      }
      if (options.json) {
        for (const { budget, balance } of balances)
          writeJsonLine(io.stdout, balance ?? { scope: budget.scope, unit: budget.unit });
        return exitOk;
      }
      const rows = balances.map(({ budget, balance }) => {
        const allocated = balance?.allocated ?? budget.limit;
        const used = allocated - (balance?.remaining ?? allocated);
        return [
          budget.scope,
          budget.unit,
          allocated,
          balance?.spent ?? 0,
          balance?.reserved ?? 0,
          balance?.debt ?? 0,
          balance?.remaining ?? allocated,
          allocated === 0 ? "denied" : percent(used, allocated),
        ];
      });
      writeLine(
        io.stdout,
        formatTable(["SCOPE", "UNIT", "ALLOCATED", "SPENT", "HELD", "DEBT", "REMAINING", "USED"], rows),
      );
      return exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};
