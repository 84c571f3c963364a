// The public surface, listed explicitly: what a user writes, each name shown in the README. The
// domain helpers, store classes and policy functions live on subpaths (tollgate/core,
// tollgate/ledger, tollgate/policy, tollgate/redis, tollgate/langgraph, tollgate/langchain).

// The ledger.
export type { Caps, Decision, ReasonCode } from "./core/decision.js";
export type { ErrorCode, ValidationIssue } from "./core/errors.js";
export { TollgateError, ValidationError } from "./core/errors.js";
export type { FallbackRoutes, FallbackTarget } from "./core/policy.js";
export type { ReserveInput, SetBudgetInput } from "./core/schemas.js";
export type { Subject } from "./core/scope.js";
export type { Tier } from "./core/tiers.js";
export type { ToolAnnotations } from "./core/tool-annotations.js";
export type { ToolRule } from "./core/tool-rules.js";
export type { Unit } from "./core/units.js";
export type { BudgetExceededDetails } from "./integrations/errors.js";
export { BudgetExceededError } from "./integrations/errors.js";
// LangChain: guard, guardTool, the callback handler, createAgent middleware.
export type {
  GuardSpec,
  GuardToolSpec,
  TollgateCallbackHandlerOptions,
  TollgateMiddlewareOptions,
} from "./integrations/langchain/index.js";
export { guard, guardTool, TollgateCallbackHandler, tollgateMiddleware } from "./integrations/langchain/index.js";
// LangGraph: the permissioned tool node, tool binding on caps, fallback nodes, the state channel.
export type {
  ApprovalDecision,
  ApprovalRequest,
  ApprovalResponse,
  HumanApprovalFallbackOptions,
  PermissionedToolNodeOptions,
  PermittedToolsOptions,
  RememberMode,
  TollgateDenial,
  TollgateState,
} from "./integrations/langgraph/index.js";
export {
  bindPermittedTools,
  denialOf,
  fallbackNodes,
  humanApprovalFallback,
  PermissionedToolNode,
  permittedModelNode,
  permittedTools,
  readOnlyFallback,
  TollgateAgentState,
  TollgateAnnotation,
} from "./integrations/langgraph/index.js";
export type { ActionSpec } from "./integrations/shared/action-spec.js";
export type { DefaultToolCharge, GateOptions } from "./integrations/shared/gate.js";
export type {
  AllowResponse,
  CreateLedgerOptions,
  DenyResponse,
  Ledger,
  ReserveResponse,
} from "./ledger/index.js";
export { createLedger } from "./ledger/index.js";
export type { AuditEvent, Balance } from "./store/types.js";
