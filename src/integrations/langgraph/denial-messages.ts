import { type AIMessage, type BaseMessage, isAIMessage, ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { TollgateDenial } from "./state.js";

/**
 * Denial messages get a stable id, so a fallback can replace one in place (the messages reducer
 * replaces by id): the conversation keeps exactly one ToolMessage per tool call.
 */
export const deniedMessageIdPrefix = "tollgate-denied-";

export function deniedMessageId(toolCallId: string): string {
  return `${deniedMessageIdPrefix}${toolCallId}`;
}

/** The artifact a denial message carries: the denial itself, readable without the state channel. */
export interface DenialArtifact {
  tollgateDenial: TollgateDenial;
}

export function explainDenial(denial: TollgateDenial): string {
  return `Not run: ${describeDenial(denial)}. Do not retry it; continue without it or wait for a person to decide.`;
}

/** "send_email (write-external, 20 RISK_POINTS) was denied: BUDGET_EXCEEDED at tenant:acme/toolset:send-email" */
export function describeDenial(denial: TollgateDenial): string {
  const where = denial.deniedScope ? ` at ${denial.deniedScope}` : "";
  const why = denial.detail ? ` (${denial.detail})` : "";
  return `${denial.toolName} (${denial.tier}, ${denial.estimate} ${denial.unit}) was denied: ${denial.reasonCode}${where}${why}`;
}

/** An error ToolMessage answering a tool call, carrying its denial record. */
export function denialMessage(denial: TollgateDenial, content = explainDenial(denial)): ToolMessage {
  return new ToolMessage({
    id: deniedMessageId(denial.toolCallId),
    tool_call_id: denial.toolCallId,
    name: denial.toolName,
    status: "error",
    content,
    artifact: { tollgateDenial: denial } satisfies DenialArtifact,
  });
}

export function denialOf(message: BaseMessage): TollgateDenial | undefined {
  if (!ToolMessage.isInstance(message)) return undefined;
  if (!message.id?.startsWith(deniedMessageIdPrefix)) return undefined;
  const artifact = message.artifact as Partial<DenialArtifact> | undefined;
  return artifact?.tollgateDenial;
}

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

/** Tool calls of the latest AI message that no ToolMessage answers yet (a resumed node skips the rest). */
export function unansweredToolCalls(messages: readonly BaseMessage[]): ToolCall[] {
  const ai = lastAIMessage(messages);
  if (!ai?.tool_calls?.length) return [];
  const answered = new Set(
    messages
      .filter((message) => ToolMessage.isInstance(message))
      .map((message) => (message as ToolMessage).tool_call_id),
  );
  return ai.tool_calls
    .map((call, index) => ({ ...call, id: callIdOf(call, index) }))
    .filter((call) => !answered.has(call.id));
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
