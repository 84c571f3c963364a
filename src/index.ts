// The public surface, listed explicitly: what is exported here is a decision, not an accident.

export type { Caps, Decision, ReasonCode } from "./core/decision.js";
export { evaluate } from "./core/decision.js";
export type { ErrorCode, ValidationIssue } from "./core/errors.js";
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
} from "./core/errors.js";
export type { Band, NarrowingSetting } from "./core/narrowing.js";
export { progressiveBands } from "./core/narrowing.js";
export type { Policy, PolicyBudget, PolicyDocument, PolicyFallbacks, PolicyIssue, PolicyMode } from "./core/policy.js";
// Policy files (operators grant and revoke actions without a code change).
export {
  approvalGrantToolsetPrefixes,
  fallbackFor,
  isApprovalGrantScope,
  PolicyError,
  parsePolicy,
} from "./core/policy.js";
export type {
  AuditQuery,
  BalanceQuery,
  CommitInput,
  ExtendInput,
  OveragePolicy,
  RecordApprovalInput,
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
export type { ResolvedToolRule, ToolRule } from "./core/tool-rules.js";
export { resolveToolRule, toolsetFromName, validateToolRules } from "./core/tool-rules.js";
export type { Unit } from "./core/units.js";
export { UNITS } from "./core/units.js";
export type { BudgetWindow } from "./core/windows.js";
export { WINDOWS } from "./core/windows.js";
export type { BudgetExceededDetails, DeniedAction } from "./integrations/errors.js";
// Integrations: LangChain (guard, guardTool, callback handler, createAgent middleware).
export { BudgetExceededError } from "./integrations/errors.js";
export type {
  DefaultToolCharge,
  GuardedFunction,
  GuardSpec,
  GuardToolSpec,
  ModelCallEstimateInput,
  OnDeny,
  TokensEstimate,
  TollgateCallbackHandlerOptions,
  TollgateMiddlewareOptions,
  UsdMicrocentsPerToken,
} from "./integrations/langchain/index.js";
export {
  GuardedTool,
  guard,
  guardTool,
  TollgateCallbackHandler,
  tollgateMiddleware,
} from "./integrations/langchain/index.js";
export type {
  AgentMode,
  ApprovalActionRequest,
  ApprovalDecision,
  ApprovalDecisionType,
  ApprovalRequest,
  ApprovalResponse,
  ApprovalReviewConfig,
  BoundChatModel,
  DenialArtifact,
  DenialStatus,
  FallbackTarget,
  HumanApprovalFallbackOptions,
  NodeTool,
  PermissionedToolNodeOptions,
  PermittedModelNodeOptions,
  PermittedToolsOptions,
  ReadOnlyFallbackOptions,
  RememberMode,
  TollgateDenial,
  TollgateState,
  TollgateStateUpdate,
} from "./integrations/langgraph/index.js";
// Integrations: LangGraph (the permissioned tool node, tool binding on caps, fallback nodes).
export {
  bindPermittedTools,
  denialOf,
  deniedMessageId,
  deniedMessageIdPrefix,
  fallbackNodes,
  humanApprovalFallback,
  PermissionedToolNode,
  pendingDenials,
  permittedModelNode,
  permittedTools,
  readOnlyFallback,
  rememberedCallsDefault,
  TollgateAnnotation,
  tollgateStateDefault,
  tollgateStateReducer,
} from "./integrations/langgraph/index.js";
export type { ActionSpec, ToolChargeOptions } from "./integrations/shared/action-spec.js";
export type { SubjectSource, TollgateBinding } from "./integrations/shared/context.js";
export type {
  CreateLedgerOptions,
  Ledger,
  LedgerMode,
  LedgerOptions,
  ReserveResponse,
  SettleResponse,
} from "./ledger/index.js";
export { createLedger, StoreLedger } from "./ledger/index.js";
export type { BudgetAdmin, PolicyChange, PolicyPlan } from "./ledger/policy.js";
export { applyPolicy, loadPolicyFile, PolicyApplyError, parsePolicyText, planPolicy } from "./ledger/policy.js";
export { telemetryAttributes } from "./ledger/telemetry.js";
export type { KeyvStoreOptions } from "./store/keyv-store.js";
export { KeyvSingleProcessStore } from "./store/keyv-store.js";
export type { RedisStoreOptions } from "./store/redis/index.js";
// The distributed store (its Redis client is an optional peer, loaded only when used).
export { createRedisStore, RedisLedgerStore, RedisUnavailableError } from "./store/redis/index.js";
export type {
  AuditEvent,
  AuditEventType,
  Balance,
  BudgetDefinition,
  LedgerStore,
  ReservationRecord,
  ReservationStatus,
} from "./store/types.js";
