import { UNITS, type Unit } from "../../core/units.js";
import { WINDOWS } from "../../core/windows.js";
import type { Command, CommandContext } from "../command.js";
import { CliFailure, exitOk } from "../errors.js";
import { budgetRow, formatTable, narrowingLabel } from "../format.js";
import { writeJsonLine, writeLine } from "../io.js";
import { NARROWING_PRESETS_HINT, parseNarrowingFlag } from "../narrowing-flag.js";
import { policySourceOption, redisOptions } from "../options.js";
import { parseAmountFlag, parseEnumFlag, parseScopeFlag } from "../values.js";

const unitOption = {
  unit: { type: "string", valueName: "UNIT", description: `${UNITS.join(" | ")} (default RISK_POINTS)` },
} as const;

function unitOf(context: CommandContext): Unit | undefined {
  const text = context.options.unit;
  return typeof text === "string" ? parseEnumFlag("unit", text, UNITS, context.command.name) : undefined;
}

export const budgetSet: Command = {
  name: "budget set",
  summary: "grant an action: create or change the budget of a scope",
  details:
    "Changing a limit keeps what was already spent. A zero limit denies every action at the scope.\nIf a policy file owns this tenant, the next `tollgate policy apply` puts its own value back.",
  options: {
    scope: {
      type: "string",
      valueName: "SCOPE",
      description: "scope id, e.g. tenant:acme/toolset:send-email",
      required: true,
    },
    limit: { type: "string", valueName: "N", description: "the budget, a whole number >= 0", required: true },
    ...unitOption,
    window: { type: "string", valueName: "WINDOW", description: `${WINDOWS.join(" | ")} (default lifetime)` },
    narrowing: { type: "string", valueName: "SETTING", description: NARROWING_PRESETS_HINT },
    "overdraft-limit": { type: "string", valueName: "N", description: "debt allowed on overage (default 0)" },
    ...redisOptions,
  },
  examples: [
    "tollgate budget set --scope tenant:acme/toolset:send-email --limit 500 --narrowing progressive --redis redis://127.0.0.1:6379",
  ],
  async run(context) {
    const { options, io, command } = context;
    const limit = parseAmountFlag("limit", options.limit as string, command.name);
    const window =
      typeof options.window === "string" ? parseEnumFlag("window", options.window, WINDOWS, command.name) : undefined;
    const narrowing =
      typeof options.narrowing === "string" ? parseNarrowingFlag(options.narrowing, command.name) : undefined;
    const overdraftText = options["overdraft-limit"];
    const overdraftLimit =
      typeof overdraftText === "string" ? parseAmountFlag("overdraft-limit", overdraftText, command.name) : undefined;
    const unit = unitOf(context);
    parseScopeFlag("scope", options.scope as string, command.name);
    const { openLedger, closeQuietly } = await import("../source.js");
    const { ledger } = await openLedger(io, options, command.name, { write: true });
    try {
      const definition = await ledger.setBudget({
        scope: options.scope as string,
        limit,
        unit,
        window,
        narrowing,
        overdraftLimit,
      });
      writeLine(
        io.stdout,
        `Set ${definition.scope} to ${definition.limit} ${definition.unit} (window ${definition.window}, narrowing ${narrowingLabel(definition.narrowing)}).`,
      );
      return exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};

export const budgetRm: Command = {
  name: "budget rm",
  summary: "revoke an action: remove the budget of a scope (its counters go with it)",
  options: {
    scope: { type: "string", valueName: "SCOPE", description: "scope id of the budget to remove", required: true },
    ...unitOption,
    ...redisOptions,
  },
  examples: ["tollgate budget rm --scope tenant:starter-co/toolset:deploy --redis redis://127.0.0.1:6379"],
  async run(context) {
    const { options, io, command } = context;
    const unit = unitOf(context) ?? "RISK_POINTS";
    parseScopeFlag("scope", options.scope as string, command.name);
    const { openLedger, closeQuietly } = await import("../source.js");
    const { ledger } = await openLedger(io, options, command.name, { write: true });
    try {
      const { removed } = await ledger.removeBudget({ scope: options.scope as string, unit });
      if (!removed) {
        throw new CliFailure(
          `There is no ${unit} budget at ${options.scope}; nothing removed. See the budgets with: tollgate budget ls --scope ${String(options.scope).split("/")[0]}`,
        );
      }
      writeLine(
        io.stdout,
        `Removed the ${unit} budget at ${options.scope}. Actions that drew only on it are now denied.`,
      );
      return exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};

export const budgetLs: Command = {
  name: "budget ls",
  summary: "list budgets (all, or those at and beneath a scope)",
  options: {
    scope: { type: "string", valueName: "SCOPE", description: "only this scope and those beneath it" },
    ...unitOption,
    json: { type: "boolean", description: "one JSON budget definition per line" },
    ...redisOptions,
    ...policySourceOption,
  },
  examples: [
    "tollgate budget ls --scope tenant:acme --redis redis://127.0.0.1:6379",
    "tollgate budget ls --policy examples/policies/per-tenant.policy.yaml",
  ],
  async run(context) {
    const { options, io, command } = context;
    const unit = unitOf(context);
    if (typeof options.scope === "string") parseScopeFlag("scope", options.scope, command.name);
    const { openLedger, closeQuietly } = await import("../source.js");
    const { ledger, label } = await openLedger(io, options, command.name, { write: false });
    try {
      const scope = typeof options.scope === "string" ? options.scope : undefined;
      const budgets = (await ledger.listBudgets(scope ? { scope } : { allTenants: true })).filter(
        (budget) => !unit || budget.unit === unit,
      );
      if (options.json) {
        for (const budget of budgets) writeJsonLine(io.stdout, budget);
        return exitOk;
      }
      if (budgets.length === 0) {
        writeLine(
          io.stdout,
          `No budgets${scope ? ` at or beneath ${scope}` : ""} in ${label}. Every action there is denied.`,
        );
        return exitOk;
      }
      writeLine(
        io.stdout,
        formatTable(["SCOPE", "UNIT", "LIMIT", "WINDOW", "NARROWING", "OVERDRAFT"], budgets.map(budgetRow)),
      );
      return exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};
