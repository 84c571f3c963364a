import { type Band, disabledTiersAt, sortTiers } from "./narrowing.js";
import type { Tier } from "./tiers.js";

export const DECISIONS = ["ALLOW", "ALLOW_WITH_CAPS", "DENY"] as const;
export type Decision = (typeof DECISIONS)[number];

/** Why an action was denied. Stable: integrations and dashboards match on these. */
export const REASON_CODES = [
  "BUDGET_EXCEEDED",
  "BUDGET_NOT_FOUND",
  "DEBT_OUTSTANDING",
  "TIER_DISABLED",
  "TOOL_NOT_ALLOWED",
  "TOOL_NOT_COVERED",
  "LEDGER_UNAVAILABLE",
  "APPROVAL_REJECTED",
  "APPROVAL_TIMEOUT",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** What the agent may still do. Names follow the Cycles protocol's caps object where they overlap. */
export interface Caps {
  disabledTiers: Tier[];
  toolAllowlist?: string[];
  toolDenylist?: string[];
  maxStepsRemaining?: number;
  maxTokens?: number;
  cooldownMs?: number;
}

/** One budget as the decision sees it: its definition plus the counters of its current window. */
export interface BudgetView {
  scope: string;
  allocated: number;
  spent: number;
  reserved: number;
  debt: number;
  narrowing: Band[] | null;
}

export interface Evaluation {
  decision: Decision;
  reasonCode?: ReasonCode;
  /** The scope whose budget caused a denial. */
  deniedScope?: string;
  caps?: Caps;
}

/** Shared, frozen: an ALLOW carries nothing else, so it need not be built per call. */
const allow: Evaluation = Object.freeze({ decision: "ALLOW" });

export function remainingOf(budget: Omit<BudgetView, "scope" | "narrowing">): number {
  return budget.allocated - budget.spent - budget.reserved - budget.debt;
}

/**
 * The decision rule, pure. `budgets` are the budgeted scopes on the action's path in the action's
 * unit, outermost first. The caller holds `estimate` on all of them iff the answer is not DENY.
 */
export function evaluate(budgets: readonly BudgetView[], tier: Tier, estimate: number): Evaluation {
  if (budgets.length === 0) return { decision: "DENY", reasonCode: "BUDGET_NOT_FOUND" };
  for (const budget of budgets) {
    // A zero budget is a revoked grant: always DENY, even for a free action.
    if (budget.allocated === 0) return { decision: "DENY", reasonCode: "BUDGET_EXCEEDED", deniedScope: budget.scope };
    if (budget.debt > 0) return { decision: "DENY", reasonCode: "DEBT_OUTSTANDING", deniedScope: budget.scope };
    // An exhausted budget takes nothing new, not even a free action: its later actual could not be charged.
    const remaining = remainingOf(budget);
    if (remaining <= 0 || remaining < estimate)
      return { decision: "DENY", reasonCode: "BUDGET_EXCEEDED", deniedScope: budget.scope };
  }
  // Without narrowing anywhere on the path there are no caps to compute (the common case).
  if (budgets.every((budget) => budget.narrowing === null)) return allow;
  for (const budget of budgets) {
    const used = budget.spent + budget.reserved + budget.debt;
    if (disabledTiersAt(budget.narrowing, used, budget.allocated).includes(tier)) {
      return {
        decision: "DENY",
        reasonCode: "TIER_DISABLED",
        deniedScope: budget.scope,
        caps: { disabledTiers: capsAfter(budgets, 0) },
      };
    }
  }
  const disabledTiers = capsAfter(budgets, estimate);
  if (disabledTiers.length === 0) return allow;
  return { decision: "ALLOW_WITH_CAPS", caps: { disabledTiers } };
}

/** Union of the tiers disabled on every budget once `extra` more is held on each. */
export function capsAfter(budgets: readonly BudgetView[], extra: number): Tier[] {
  const disabled = new Set<Tier>();
  for (const budget of budgets) {
    const used = budget.spent + budget.reserved + budget.debt + extra;
    for (const tier of disabledTiersAt(budget.narrowing, used, budget.allocated)) disabled.add(tier);
  }
  return sortTiers(disabled);
}
