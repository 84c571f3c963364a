// The LangChain integration's public surface, listed explicitly.

export type { BudgetExceededDetails, DeniedAction } from "../errors.js";
export { BudgetExceededError } from "../errors.js";
export type { ActionSpec, ToolChargeOptions } from "../shared/action-spec.js";
export type { DefaultToolCharge, TollgateCallbackHandlerOptions } from "./callback-handler.js";
export { TollgateCallbackHandler } from "./callback-handler.js";
export type { ModelCallEstimateInput, TokensEstimate, UsdMicrocentsPerToken } from "./callback-metering.js";
export type { GuardedFunction, GuardSpec } from "./guard.js";
export { guard } from "./guard.js";
export type { GuardToolSpec } from "./guard-tool.js";
export { GuardedTool, guardTool } from "./guard-tool.js";
export type { OnDeny, TollgateMiddlewareOptions } from "./middleware.js";
export { tollgateMiddleware } from "./middleware.js";
export type {
  ApprovalDecision,
  ApprovalDecisionType,
  ApprovalRequest,
  DenialArtifact,
} from "./middleware-denial.js";
