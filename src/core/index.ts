// The pure domain, no I/O: for tools that want the rules without a ledger.

export type { BudgetView, Caps, Decision, Evaluation, ReasonCode } from "./decision.js";
export { capsAfter, evaluate, remainingOf } from "./decision.js";
export type { ErrorCode, ValidationIssue } from "./errors.js";
export {
  IdempotencyConflictError,
  InvariantError,
  isTransient,
  LedgerUnavailableError,
  OverageError,
  PeerDependencyError,
  ReservationStateError,
  StoreReplyError,
  TollgateError,
  ValidationError,
} from "./errors.js";
export type { Band, NarrowingSetting } from "./narrowing.js";
export { disabledTiersAt, progressiveBands, resolveNarrowing } from "./narrowing.js";
export type { ScopeLevel, Subject } from "./scope.js";
export { applicableScopes, parseScopeId, SCOPE_LEVELS, scopeIdOf } from "./scope.js";
export type { ActionClass, Tier } from "./tiers.js";
export { riskPointsByTierDefault, riskPointsDefault, TIERS, tierOfActionClass, tierRank } from "./tiers.js";
export type { ResolvedToolRule, ToolRule } from "./tool-rules.js";
export { resolveToolRule, toolsetFromName, validateToolRules } from "./tool-rules.js";
export type { Unit } from "./units.js";
export { UNITS } from "./units.js";
export type { BudgetWindow } from "./windows.js";
export { WINDOWS, windowInstanceOf } from "./windows.js";
