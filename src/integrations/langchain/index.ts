// The LangChain integration's public surface, listed explicitly.

export type { BudgetExceededDetails, DeniedAction } from "../errors.js";
export { BudgetExceededError } from "../errors.js";
export type { ActionSpec } from "../shared/action-spec.js";
// Shared with the LangGraph integration: the same types and the same denial record in both.
export type {
  ApprovalActionRequest,
  ApprovalDecision,
  ApprovalDecisionType,
  ApprovalRequest,
  ApprovalResponse,
  ApprovalReviewConfig,
} from "../shared/approval.js";
export type { RememberMode } from "../shared/approval-grants.js";
export type { DenialArtifact, DenialStatus, TollgateDenial } from "../shared/denial.js";
export { denialOf, deniedMessageId, deniedMessageIdPrefix } from "../shared/denial.js";
export type { DefaultToolCharge, GateOptions } from "../shared/gate.js";
export type { TollgateCallbackHandlerOptions } from "./callback-handler.js";
export { TollgateCallbackHandler } from "./callback-handler.js";
export type { ModelCallEstimateInput, TokensEstimate, UsdMicrocentsPerToken } from "./callback-metering.js";
export type { GuardedFunction, GuardSpec } from "./guard.js";
export { guard } from "./guard.js";
export type { GuardToolSpec } from "./guard-tool.js";
export { GuardedTool, guardTool } from "./guard-tool.js";
export type { OnDeny, TollgateMiddlewareOptions } from "./middleware.js";
export { tollgateMiddleware } from "./middleware.js";
