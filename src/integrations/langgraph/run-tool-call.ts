import { isBaseMessage, ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableToolLike } from "@langchain/core/runnables";
import type { DynamicTool, StructuredToolInterface } from "@langchain/core/tools";
import {
  type Command,
  isCommand,
  isGraphBubbleUp,
  isGraphDrained,
  type LangGraphRunnableConfig,
} from "@langchain/langgraph";

export type NodeTool = StructuredToolInterface | DynamicTool | RunnableToolLike;

export type ToolCallOutcome =
  | { ok: true; message: ToolMessage; raw: unknown }
  | { ok: true; command: Command; raw: unknown }
  | { ok: false; message: ToolMessage; error: unknown };

/**
 * Runs one tool call the way LangGraph's ToolNode does (same runtime: state, context, store,
 * writer), but tells a thrown error apart from a result, so the caller can release instead of
 * commit. Interrupts and other graph bubble-ups are rethrown: they are control flow, not failures.
 */
export async function runToolCall(
  tool: NodeTool,
  call: ToolCall,
  config: LangGraphRunnableConfig,
  state: unknown,
  handleToolErrors: boolean,
): Promise<ToolCallOutcome> {
  const runtime = {
    ...config,
    state,
    toolCallId: call.id ?? "",
    config,
    context: config.context,
    store: config.store ?? null,
    writer: config.writer ?? config.configurable?.writer ?? null,
  };
  try {
    const output = await tool.invoke({ ...call, type: "tool_call" }, runtime as never);
    if (isCommand(output)) return { ok: true, command: output, raw: output };
    if (isBaseMessage(output) && output.getType() === "tool")
      return { ok: true, message: output as ToolMessage, raw: output };
    return {
      ok: true,
      raw: output,
      message: new ToolMessage({
        status: "success",
        name: tool.name,
        content: typeof output === "string" ? output : JSON.stringify(output),
        tool_call_id: call.id ?? "",
      }),
    };
  } catch (error) {
    if (isGraphBubbleUp(error) || isGraphDrained(error) || !handleToolErrors) throw error;
    return {
      ok: false,
      error,
      message: new ToolMessage({
        status: "error",
        content: `Error: ${(error as Error)?.message ?? String(error)}\n Please fix your mistakes.`,
        name: call.name,
        tool_call_id: call.id ?? "",
      }),
    };
  }
}
