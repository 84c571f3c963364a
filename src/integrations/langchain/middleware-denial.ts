import { PeerDependencyError } from "../../core/errors.js";
import {
  type ApprovalDecision,
  type ApprovalDecisionType,
  type ApprovalRequest,
  parseApprovalResponse,
} from "../shared/approval.js";

// The denial record, its ToolMessage and the approval request/decision types are the LangGraph
// integration's too (../shared/): a transcript or a review UI reads both integrations the same way.
/**
 * Pauses the run for a human (a checkpointer is required) and returns their decision for this one
 * call. The resume value is checked like the approval fallback's: `{ decisions: [decision] }`.
 */
export async function askForApproval(
  request: ApprovalRequest,
  allowedDecisions: readonly ApprovalDecisionType[],
): Promise<ApprovalDecision> {
  let interrupt: (value: ApprovalRequest) => unknown;
  try {
    ({ interrupt } = await import("@langchain/langgraph"));
  } catch (error) {
    throw new PeerDependencyError("@langchain/langgraph", 'tollgateMiddleware({ onDeny: "interrupt" })', {
      cause: error,
    });
  }
  const [decision] = parseApprovalResponse(interrupt(request), 1, allowedDecisions);
  return decision;
}
