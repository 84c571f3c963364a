import type { Caps, Decision, ReasonCode } from "../core/decision.js";
import { TollgateError } from "../core/errors.js";
import type { Tier } from "../core/tiers.js";
import type { Unit } from "../core/units.js";
import type { Balance } from "../store/types.js";

/** The action a denial was about, as the ledger saw it. */
export interface DeniedAction {
  name: string;
  tier: Tier;
  kind?: string;
  toolset: string;
  estimate: number;
  unit: Unit;
}

export interface BudgetExceededDetails {
  decision: Decision;
  reasonCode: ReasonCode;
  deniedScope?: string;
  caps?: Caps;
  balances: Balance[];
  action: DeniedAction;
}

/**
 * Thrown by guard() and guardTool() on DENY: the guarded function never ran. Everywhere else a DENY
 * is a value; a wrapped function has no other way to say "not run", so here it is an error that
 * carries the whole decision (`instanceof BudgetExceededError` or `code === "BUDGET_EXCEEDED"`).
 */
export class BudgetExceededError extends TollgateError {
  readonly decision: Decision;
  readonly reasonCode: ReasonCode;
  readonly deniedScope?: string;
  readonly caps?: Caps;
  readonly balances: Balance[];
  readonly action: DeniedAction;

  constructor(details: BudgetExceededDetails) {
    const where = details.deniedScope ? ` at ${details.deniedScope}` : "";
    super(
      "BUDGET_EXCEEDED",
      `${details.action.name} (${details.action.tier}, ${details.action.estimate} ${details.action.unit}) was denied: ${details.reasonCode}${where}`,
    );
    this.decision = details.decision;
    this.reasonCode = details.reasonCode;
    this.deniedScope = details.deniedScope;
    this.caps = details.caps;
    this.balances = details.balances;
    this.action = details.action;
  }
}
