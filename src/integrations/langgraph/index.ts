// The LangGraph integration's public surface, listed explicitly. The denial record, the approval
// request and decision types and approval grants are shared with the createAgent middleware
// (../shared/): one type per name, whichever integration a caller comes from.

export type { FallbackRoutes, FallbackTarget } from "../../core/policy.js";
export { fallbackNodes } from "../../core/policy.js";
export type {
  ApprovalActionRequest,
  ApprovalDecision,
  ApprovalDecisionType,
  ApprovalRequest,
  ApprovalResponse,
  ApprovalReviewConfig,
} from "../shared/approval.js";
export type { RememberMode } from "../shared/approval-grants.js";
export { rememberedCallsDefault } from "../shared/approval-grants.js";
export type { DenialArtifact, DenialStatus, TollgateDenial } from "../shared/denial.js";
export { denialOf, deniedMessageId, deniedMessageIdPrefix } from "../shared/denial.js";
export { pendingDenials } from "./denial-messages.js";
export type { HumanApprovalFallbackOptions } from "./human-approval-fallback.js";
export { humanApprovalFallback } from "./human-approval-fallback.js";
export type { PermissionedToolNodeOptions } from "./permissioned-tool-node.js";
export { PermissionedToolNode } from "./permissioned-tool-node.js";
export type { BoundChatModel, PermittedModelNodeOptions, PermittedToolsOptions } from "./permitted-tools.js";
export { bindPermittedTools, permittedModelNode, permittedTools } from "./permitted-tools.js";
export type { ReadOnlyFallbackOptions } from "./read-only-fallback.js";
export { readOnlyFallback } from "./read-only-fallback.js";
export type { NodeTool } from "./run-tool-call.js";
export type { AgentMode, TollgateState, TollgateStateUpdate } from "./state.js";
export { TollgateAgentState, TollgateAnnotation, tollgateStateDefault, tollgateStateReducer } from "./state.js";
