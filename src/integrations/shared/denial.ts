import { type BaseMessage, ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { ReasonCode } from "../../core/decision.js";
import type { Subject } from "../../core/scope.js";
import type { Tier } from "../../core/tiers.js";
import { toolsetFromName } from "../../core/tool-rules.js";
import { type Unit, unitDefault } from "../../core/units.js";
import type { ResolvedAction } from "./action-spec.js";

/**
 * What became of a denied tool call. `pending`: a fallback node will decide (the tool node's
 * denials); `denied`: final, answered with the denial and nothing more (the createAgent
 * middleware's error-message mode); the rest: how a fallback or a reviewer resolved it.
 */
export type DenialStatus =
  | "pending"
  | "denied"
  | "approved"
  | "edited"
  | "rejected"
  | "timed-out"
  | "read-only"
  | "failed";

/** One denied tool call, as written to graph state and to the denial ToolMessage's artifact. */
export interface TollgateDenial {
  toolCallId: string;
  toolName: string;
  args: Record<string, unknown>;
  tier: Tier;
  toolset: string;
  estimate: number;
  unit: Unit;
  reasonCode: ReasonCode;
  deniedScope?: string;
  /** Why, in words, when the reason code alone does not say (TOOL_NOT_ALLOWED: "not offered to the model"). */
  detail?: string;
  /** When the call was denied (ms since the epoch); approval timeouts count from here. */
  atMs: number;
  status: DenialStatus;
  /** Who resolved it (an approver), when a person did. */
  resolvedBy?: string;
  /** Who was denied, and in which run: an approval is charged to the same tenant and run. */
  subject?: Subject;
  runId?: string;
}

/** A fresh denial record for a tool call; without a resolved action the call is described as `execution`. */
export function newDenial(
  call: ToolCall,
  action: ResolvedAction | undefined,
  reasonCode: ReasonCode,
  deniedScope: string | undefined,
  status: DenialStatus = "pending",
): TollgateDenial {
  return {
    toolCallId: call.id ?? "",
    toolName: call.name,
    args: call.args,
    tier: action?.tier ?? "execution",
    toolset: action?.toolset ?? toolsetFromName(call.name),
    estimate: action?.estimate ?? 0,
    unit: action?.unit ?? unitDefault,
    reasonCode,
    ...(deniedScope ? { deniedScope } : {}),
    atMs: Date.now(),
    status,
  };
}

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

/** The denial a message carries, if it is a tollgate denial message (from any integration). */
export function denialOf(message: BaseMessage): TollgateDenial | undefined {
  if (!ToolMessage.isInstance(message)) return undefined;
  if (!message.id?.startsWith(deniedMessageIdPrefix)) return undefined;
  const artifact = message.artifact as Partial<DenialArtifact> | undefined;
  return artifact?.tollgateDenial;
}
