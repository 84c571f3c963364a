// The LangGraph integration's public surface, listed explicitly.

export type { RememberMode } from "./approval-grants.js";
export { rememberedCallsDefault } from "./approval-grants.js";
export type {
  ApprovalActionRequest,
  ApprovalDecision,
  ApprovalDecisionType,
  ApprovalRequest,
  ApprovalResponse,
  ApprovalReviewConfig,
} from "./approval-request.js";
export type { DenialArtifact } from "./denial-messages.js";
export { deniedMessageId, deniedMessageIdPrefix, pendingDenials } from "./denial-messages.js";
export type { FallbackTarget } from "./fallback-routes.js";
export { fallbackNodes } from "./fallback-routes.js";
export type { HumanApprovalFallbackOptions } from "./human-approval-fallback.js";
export { humanApprovalFallback } from "./human-approval-fallback.js";
export type { PermissionedToolNodeOptions } from "./permissioned-tool-node.js";
export { PermissionedToolNode } from "./permissioned-tool-node.js";
export type { BoundChatModel, PermittedModelNodeOptions, PermittedToolsOptions } from "./permitted-tools.js";
export { bindPermittedTools, permittedModelNode, permittedTools } from "./permitted-tools.js";
export type { ReadOnlyFallbackOptions } from "./read-only-fallback.js";
export { readOnlyFallback } from "./read-only-fallback.js";
export type { NodeTool } from "./run-tool-call.js";
export type { AgentMode, DenialStatus, TollgateDenial, TollgateState, TollgateStateUpdate } from "./state.js";
export { TollgateAnnotation, tollgateStateDefault, tollgateStateReducer } from "./state.js";
