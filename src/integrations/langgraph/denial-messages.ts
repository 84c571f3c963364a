import { type AIMessage, type BaseMessage, isAIMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { denialOf, type TollgateDenial } from "../shared/denial.js";

// The denial record and its ToolMessage are shared with the createAgent middleware
// (../shared/denial.ts); what is here reads a LangGraph transcript for the tool node and fallbacks.

export function lastAIMessage(messages: readonly BaseMessage[]): AIMessage | undefined {
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index];
    if (isAIMessage(message)) return message;
  }
  return undefined;
}

/** A tool call's id, or a stable stand-in for calls a model sent without one. */
export function callIdOf(call: ToolCall, index: number): string {
  return call.id && call.id.length > 0 ? call.id : `call-${index}`;
}

/** Denials of the latest AI turn still waiting for a fallback, in tool-call order. */
export function pendingDenials(messages: readonly BaseMessage[]): { denial: TollgateDenial; call: ToolCall }[] {
  const ai = lastAIMessage(messages);
  if (!ai?.tool_calls?.length) return [];
  const byCallId = new Map<string, TollgateDenial>();
  for (const message of messages) {
    const denial = denialOf(message);
    if (denial) byCallId.set(denial.toolCallId, denial);
  }
  const pending: { denial: TollgateDenial; call: ToolCall }[] = [];
  ai.tool_calls.forEach((call, index) => {
    const denial = byCallId.get(callIdOf(call, index));
    if (denial?.status === "pending") pending.push({ denial, call: { ...call, id: callIdOf(call, index) } });
  });
  return pending;
}
