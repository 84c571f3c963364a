// The public surface, listed explicitly: what is exported here is a decision, not an accident.

export type { Caps, Decision, ReasonCode } from "./core/decision.js";
export { evaluate } from "./core/decision.js";
export type { ErrorCode, ValidationIssue } from "./core/errors.js";
export {
  IdempotencyConflictError,
  InvariantError,
  LedgerUnavailableError,
  OverageError,
  PeerDependencyError,
  ReservationStateError,
  TollgateError,
  ValidationError,
} from "./core/errors.js";
export type { Band, NarrowingSetting } from "./core/narrowing.js";
export { progressiveBands } from "./core/narrowing.js";
export type {
  AuditQuery,
  BalanceQuery,
  CommitInput,
  ExtendInput,
  OveragePolicy,
  ReleaseInput,
  RemoveBudgetInput,
  RepayDebtInput,
  ReserveInput,
  SetBudgetInput,
} from "./core/schemas.js";
export type { ScopeLevel, Subject } from "./core/scope.js";
export { applicableScopes, parseScopeId, SCOPE_LEVELS, scopeIdOf } from "./core/scope.js";
export type { ActionClass, Tier } from "./core/tiers.js";
export { riskPointsByTierDefault, riskPointsDefault, TIERS, tierOfActionClass, tierRank } from "./core/tiers.js";
export type { Unit } from "./core/units.js";
export { UNITS } from "./core/units.js";
export type { BudgetWindow } from "./core/windows.js";
export { WINDOWS } from "./core/windows.js";
export type {
  CreateLedgerOptions,
  Ledger,
  LedgerMode,
  LedgerOptions,
  ReserveResponse,
  SettleResponse,
} from "./ledger/index.js";
export { createLedger, StoreLedger } from "./ledger/index.js";
export type { KeyvStoreOptions } from "./store/keyv-store.js";
export { KeyvSingleProcessStore } from "./store/keyv-store.js";
export type {
  AuditEvent,
  AuditEventType,
  Balance,
  BudgetDefinition,
  LedgerStore,
  ReservationRecord,
  ReservationStatus,
} from "./store/types.js";
