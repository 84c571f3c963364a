// The LangChain integration's public surface, listed explicitly.

export type { BudgetExceededDetails, DeniedAction } from "../errors.js";
export { BudgetExceededError } from "../errors.js";
export type { ActionSpec, ToolChargeOptions } from "../shared/action-spec.js";
export type { GuardedFunction, GuardSpec } from "./guard.js";
export { guard } from "./guard.js";
export type { GuardToolSpec } from "./guard-tool.js";
export { GuardedTool, guardTool } from "./guard-tool.js";
