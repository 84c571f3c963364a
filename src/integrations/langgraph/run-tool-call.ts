import type { ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableToolLike } from "@langchain/core/runnables";
import type { DynamicTool, StructuredToolInterface } from "@langchain/core/tools";
import type { Command, LangGraphRunnableConfig } from "@langchain/langgraph";
import { ToolNode } from "@langchain/langgraph/prebuilt";

export type NodeTool = StructuredToolInterface | DynamicTool | RunnableToolLike;

/**
 * Runs single tool calls exactly as LangGraph's ToolNode does (its own `runTool`: the runtime with
 * state, context, store and writer; a throw becomes an error ToolMessage; interrupts pass through),
 * for the places that run a tool outside the tool node's step (an approved call).
 */
export class ToolCallRunner extends ToolNode {
  runOne(call: ToolCall, config: LangGraphRunnableConfig, state: unknown): Promise<ToolMessage | Command> {
    return this.runTool(call, config, state);
  }
}
