import { ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { PeerDependencyError, ValidationError } from "../../core/errors.js";
import type { ReserveResponse } from "../../ledger/ledger.js";
import type { ResolvedAction } from "../shared/action-spec.js";

/** Human-in-the-loop decisions, in the shape langchain's HITL middleware uses. */
export type ApprovalDecisionType = "approve" | "edit" | "reject";
export type ApprovalDecision =
  | { type: "approve" }
  | { type: "edit"; editedAction: { name: string; args: Record<string, unknown> } }
  | { type: "reject"; message?: string };

/** The interrupt payload: langchain's HITL request, so the same UI and resume code serve both. */
export interface ApprovalRequest {
  actionRequests: { name: string; args: Record<string, unknown>; description?: string }[];
  reviewConfigs: { actionName: string; allowedDecisions: ApprovalDecisionType[] }[];
}

/** What the denial carries along on the ToolMessage's artifact, for code reading the transcript. */
export interface DenialArtifact {
  tollgate: Pick<ReserveResponse, "decision" | "reasonCode" | "deniedScope" | "caps"> & { action: ResolvedAction };
}

function reasonText(response: ReserveResponse): string {
  const where = response.deniedScope ? ` at ${response.deniedScope}` : "";
  return `${response.reasonCode ?? "DENIED"}${where}`;
}

/** The DENY as the model sees it: an error ToolMessage naming the reason, and the tool never ran. */
export function deniedToolMessage(toolCall: ToolCall, action: ResolvedAction, response: ReserveResponse): ToolMessage {
  const artifact: DenialArtifact = {
    tollgate: {
      decision: response.decision,
      reasonCode: response.reasonCode,
      deniedScope: response.deniedScope,
      caps: response.caps,
      action,
    },
  };
  return new ToolMessage({
    content: `Not run: ${toolCall.name} (${action.tier}, ${action.estimate} ${action.unit}) was denied by runtime permissions: ${reasonText(response)}. Continue without it, or tell the user what could not be done.`,
    name: toolCall.name,
    tool_call_id: toolCall.id ?? "",
    status: "error",
    artifact,
  });
}

export function approvalRequestOf(
  toolCall: ToolCall,
  action: ResolvedAction,
  response: ReserveResponse,
  allowedDecisions: ApprovalDecisionType[],
): ApprovalRequest {
  const description = [
    `Runtime permissions denied this action (${reasonText(response)}); it runs only if approved.`,
    "",
    `Tool: ${toolCall.name} (${action.tier}, ${action.estimate} ${action.unit})`,
    `Args: ${JSON.stringify(toolCall.args, null, 2)}`,
  ].join("\n");
  return {
    actionRequests: [{ name: toolCall.name, args: toolCall.args, description }],
    reviewConfigs: [{ actionName: toolCall.name, allowedDecisions }],
  };
}

/** Pauses the run for a human (a checkpointer is required) and returns their decision for this call. */
export async function askForApproval(request: ApprovalRequest): Promise<ApprovalDecision> {
  let interrupt: (value: ApprovalRequest) => unknown;
  try {
    ({ interrupt } = await import("@langchain/langgraph"));
  } catch (error) {
    throw new PeerDependencyError("@langchain/langgraph", 'tollgateMiddleware({ onDeny: "interrupt" })', {
      cause: error,
    });
  }
  const resume = interrupt(request) as { decisions?: unknown } | undefined;
  const decision = Array.isArray(resume?.decisions) ? resume.decisions[0] : undefined;
  return validDecision(decision, request.reviewConfigs[0].allowedDecisions);
}

function validDecision(decision: unknown, allowed: ApprovalDecisionType[]): ApprovalDecision {
  const type = (decision as { type?: unknown } | undefined)?.type;
  if (typeof type !== "string" || !(allowed as string[]).includes(type)) {
    throw new ValidationError([
      {
        code: "invalid_value",
        path: "resume.decisions.0.type",
        message: `must be one of ${allowed.join(", ")} (resume with { decisions: [{ type: "approve" }] })`,
      },
    ]);
  }
  if (type === "edit") {
    const edited = (decision as { editedAction?: { name?: unknown; args?: unknown } }).editedAction;
    if (typeof edited?.name !== "string" || typeof edited.args !== "object" || edited.args === null) {
      throw new ValidationError([
        { code: "invalid_value", path: "resume.decisions.0.editedAction", message: "needs a name and an args object" },
      ]);
    }
  }
  return decision as ApprovalDecision;
}

export function rejectedToolMessage(toolCall: ToolCall, message: string | undefined): ToolMessage {
  return new ToolMessage({
    content: message ?? `Not run: a reviewer rejected ${toolCall.name} after runtime permissions denied it.`,
    name: toolCall.name,
    tool_call_id: toolCall.id ?? "",
    status: "error",
  });
}
