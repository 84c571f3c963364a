import { policyLeaseWaitMsDefault, policyLeaseWaitMsMax } from "../../core/limits.js";
import type { Policy, PolicyBudget } from "../../core/policy.js";
import type { PolicyChange, PolicyPlan } from "../../ledger/policy.js";
import type { Command, CommandContext } from "../command.js";
import { exitOk, UsageError } from "../errors.js";
import { narrowingLabel } from "../format.js";
import { writeJsonLine, writeLine } from "../io.js";
import { redisOptions, redisUrlEnv, redisUrlOf, userPath } from "../options.js";
import { Progress } from "../progress.js";
import { parseAmountFlag } from "../values.js";

const fileArgument = [{ name: "FILE", description: "the policy file (.yaml, .yml or .json)", required: true }];

// The ledger, zod and yaml load only when a command runs, so --help answers at once.
const ledgerPolicy = () => import("../../ledger/policy.js");
const source = () => import("../source.js");

async function loadArgument(context: CommandContext): Promise<Policy> {
  const { loadPolicyFile } = await ledgerPolicy();
  return loadPolicyFile(userPath(context.io, context.positionals[0]));
}

export const policyCheck: Command = {
  name: "policy check",
  summary: "validate a policy file without touching any store",
  positionals: fileArgument,
  options: { json: { type: "boolean", description: "print the resolved policy as JSON" } },
  examples: ["tollgate policy check examples/policies/per-tenant.policy.yaml"],
  async run(context) {
    const policy = await loadArgument(context);
    if (context.options.json) {
      writeJsonLine(context.io.stdout, policy, 2);
      return exitOk;
    }
    const fallbackCount =
      Object.keys(policy.fallbacks.tiers ?? {}).length + Object.keys(policy.fallbacks.tools ?? {}).length;
    writeLine(
      context.io.stdout,
      `${context.positionals[0]} is valid: ${policy.budgets.length} budget(s) owning ${policy.owns.join(", ") || "no scopes"}; ${policy.toolRules.length} tool rule(s); ${fallbackCount + (policy.fallbacks.default ? 1 : 0)} fallback route(s); mode ${policy.mode ?? "(the ledger's own, enforce by default)"}.`,
    );
    return exitOk;
  },
};

export const policyDiff: Command = {
  name: "policy diff",
  summary: "show what `policy apply` would change, changing nothing",
  details:
    "Against the live store (--redis), or against another policy file (--policy OLD_FILE) to review an edit.\nBudgets beneath a scope the file owns (its tenants, or `owns:`) that the file does not list are shown as removals.",
  positionals: fileArgument,
  options: {
    json: { type: "boolean", description: "the plan as JSON" },
    ...redisOptions,
    policy: { type: "string", valueName: "OLD_FILE", description: "compare with what this other policy file grants" },
  },
  examples: [
    "tollgate policy diff tollgate.policy.yaml --redis redis://127.0.0.1:6379",
    "tollgate policy diff new.policy.yaml --policy tollgate.policy.yaml",
  ],
  async run(context) {
    const { io, options, command } = context;
    const policy = await loadArgument(context);
    const { planPolicy } = await ledgerPolicy();
    const { openLedger, closeQuietly } = await source();
    const { ledger, label } = await openLedger(io, options, command.name, { write: false });
    try {
      const plan = await planPolicy(ledger, policy);
      if (options.json) {
        writeJsonLine(io.stdout, plan);
        return exitOk;
      }
      printPlan(context, plan, label);
      if (plan.changes.length > 0 && typeof options.policy !== "string") {
        writeLine(
          io.stdout,
          `Apply with: tollgate policy apply ${context.positionals[0]}${options.redis ? ` --redis ${options.redis}` : ""}`,
        );
      }
      return exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};

export const policyApply: Command = {
  name: "policy apply",
  summary: "make the live store grant exactly what a policy file says (whole or not at all)",
  details:
    "Validates the whole file first; then adds, changes and finally removes budgets. If the store fails\npart-way, the changes already made are rolled back, but for budgets already removed (added back, they\nwould start from no spend: they stay removed, and the error names them). Applying the same file twice changes nothing.\nTwo applies at once take turns (a lease on the store); one that waits over 60 s fails, changing nothing.\nThe file's mode, tool rules and fallbacks take effect in agents that load it: createLedger({ policy }).",
  positionals: fileArgument,
  options: {
    "dry-run": { type: "boolean", description: "plan only (same as `policy diff`)" },
    "wait-ms": {
      type: "string",
      valueName: "MS",
      description: `how long to wait while another apply holds the store (default ${policyLeaseWaitMsDefault}; 0: fail at once)`,
    },
    ...redisOptions,
  },
  examples: ["tollgate policy apply tollgate.policy.yaml --redis redis://127.0.0.1:6379"],
  async run(context) {
    const { io, options, command } = context;
    const policy = await loadArgument(context);
    if (redisUrlOf(options, io) === undefined) {
      throw new UsageError(
        `policy apply writes to the live store: give --redis URL (or set $${redisUrlEnv}). To preview against another file, use: tollgate policy diff FILE --policy OLD_FILE`,
        command.name,
      );
    }
    const leaseWaitMs =
      typeof options["wait-ms"] === "string" ? parseAmountFlag("wait-ms", options["wait-ms"], command.name) : undefined;
    if (leaseWaitMs !== undefined && leaseWaitMs > policyLeaseWaitMsMax) {
      throw new UsageError(`--wait-ms must be at most ${policyLeaseWaitMsMax}`, command.name);
    }
    const { planPolicy, applyPolicy } = await ledgerPolicy();
    const { openLedger, closeQuietly } = await source();
    const { ledger, label } = await openLedger(io, options, command.name, { write: true });
    try {
      if (options["dry-run"]) {
        printPlan(context, await planPolicy(ledger, policy), label);
        return exitOk;
      }
      const progress = new Progress(io.stderr, "Applying policy:");
      const result = await applyPolicy(ledger, policy, {
        onProgress: ({ done, total }) => progress.update(done, total),
        leaseWaitMs,
      });
      progress.done();
      for (const change of result.applied) writeLine(io.stdout, changeLine(change));
      writeLine(
        io.stdout,
        result.applied.length === 0
          ? `Nothing to change: ${label} already grants what ${context.positionals[0]} says (${result.unchanged} budget(s)).`
          : `Applied ${result.applied.length} change(s) to ${label}; ${result.unchanged} budget(s) were already right.`,
      );
      return exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};

function printPlan(context: CommandContext, plan: PolicyPlan, label: string): void {
  const { io } = context;
  for (const change of plan.changes) writeLine(io.stdout, changeLine(change));
  const counts = { add: 0, change: 0, remove: 0 };
  for (const change of plan.changes) counts[change.kind]++;
  writeLine(
    io.stdout,
    plan.changes.length === 0
      ? `No changes: ${label} already grants what ${context.positionals[0]} says (${plan.unchanged} budget(s)).`
      : `${counts.add} to add, ${counts.change} to change, ${counts.remove} to remove, ${plan.unchanged} unchanged (compared with ${label}).`,
  );
}

export function changeLine(change: PolicyChange): string {
  switch (change.kind) {
    case "add":
      return `+ ${change.after.scope}  ${budgetText(change.after)}`;
    case "remove":
      return `- ${change.before.scope}  ${budgetText(change.before)}`;
    case "change":
      return `~ ${change.after.scope}  ${change.after.unit}  ${change.fields
        .map((field) => `${field} ${fieldText(change.before, field)} -> ${fieldText(change.after, field)}`)
        .join(", ")}`;
  }
}

function budgetText(budget: PolicyBudget): string {
  return `${budget.unit}  limit ${budget.limit}  window ${budget.window}  narrowing ${narrowingLabel(budget.narrowing)}${budget.overdraftLimit ? `  overdraft ${budget.overdraftLimit}` : ""}`;
}

function fieldText(budget: PolicyBudget, field: keyof PolicyBudget): string {
  return field === "narrowing" ? narrowingLabel(budget.narrowing) : String(budget[field]);
}
