import type { ToolCall } from "@langchain/core/messages/tool";
import { ValidationError } from "../../core/errors.js";
import { isAmount } from "../../core/units.js";
import type { RememberMode } from "./approval-grants.js";
import { describeDenial } from "./denial-messages.js";
import type { TollgateDenial } from "./state.js";

// The interrupt payload and the resume value follow langchain v1's human-in-the-loop format
// (HITLRequest / HITLResponse), declared here structurally so the LangGraph integration does not
// need the `langchain` package. Tollgate's extras are optional fields a generic client ignores.

export type ApprovalDecisionType = "approve" | "edit" | "reject";

export interface ApprovalActionRequest {
  name: string;
  args: Record<string, unknown>;
  description?: string;
}

export interface ApprovalReviewConfig {
  actionName: string;
  allowedDecisions: ApprovalDecisionType[];
  argsSchema?: Record<string, unknown>;
}

/** What `interrupt()` raises: a HITLRequest plus the denials behind it. */
export interface ApprovalRequest {
  actionRequests: ApprovalActionRequest[];
  reviewConfigs: ApprovalReviewConfig[];
  tollgate: { denials: TollgateDenial[]; expiresAtMs?: number };
}

/** Extras tollgate reads on approve and edit: how long to remember, how much to grant, who approved. */
interface ApprovalExtras {
  /** once (default), for the run, or always: see approval-grants.ts. */
  remember?: RememberMode;
  /** Units a remembered grant holds; defaults to a few calls' worth. */
  grantAmount?: number;
  /** Who approved, written to the audit log as the actor. */
  approver?: string;
}

export type ApprovalDecision =
  | ({ type: "approve" } & ApprovalExtras)
  | ({ type: "edit"; editedAction: { name: string; args: Record<string, unknown> } } & ApprovalExtras)
  | { type: "reject"; message?: string; approver?: string };

/** The resume value: `new Command({ resume: { decisions: [...] } })`, one decision per action request, in order. */
export interface ApprovalResponse {
  decisions: ApprovalDecision[];
}

export function approvalRequestOf(
  pending: readonly { denial: TollgateDenial; call: ToolCall }[],
  allowedDecisions: ApprovalDecisionType[],
  approvalTimeoutMs: number | undefined,
): ApprovalRequest {
  const denials = pending.map(({ denial }) => denial);
  const names = [...new Set(pending.map(({ call }) => call.name))];
  const oldestMs = Math.min(...denials.map((denial) => denial.atMs));
  return {
    actionRequests: pending.map(({ denial, call }) => ({
      name: call.name,
      args: call.args,
      description: `${describeDenial(denial)}. Approve to run it anyway, charged to an approval grant.`,
    })),
    reviewConfigs: names.map((actionName) => ({ actionName, allowedDecisions: [...allowedDecisions] })),
    tollgate: approvalTimeoutMs === undefined ? { denials } : { denials, expiresAtMs: oldestMs + approvalTimeoutMs },
  };
}

const rememberModes: readonly string[] = ["once", "run", "always"];

/** Checks the resume value against the request; a malformed answer names the bad field. */
export function parseApprovalResponse(
  value: unknown,
  count: number,
  allowedDecisions: readonly ApprovalDecisionType[],
): ApprovalDecision[] {
  const fail = (path: string, message: string) => new ValidationError([{ code: "invalid_value", path, message }]);
  const decisions = (value as { decisions?: unknown } | null)?.decisions;
  if (!Array.isArray(decisions)) throw fail("decisions", "resume with { decisions: [...] }, one per action request");
  if (decisions.length !== count) throw fail("decisions", `expected ${count} decision(s), got ${decisions.length}`);
  decisions.forEach((decision: Partial<ApprovalDecision & ApprovalExtras> | null, index) => {
    const at = `decisions.${index}`;
    if (!decision || !allowedDecisions.includes(decision.type as ApprovalDecisionType)) {
      throw fail(`${at}.type`, `must be one of ${allowedDecisions.join(", ")}`);
    }
    if (decision.type === "edit") {
      const edited = (decision as { editedAction?: { name?: unknown; args?: unknown } }).editedAction;
      if (!edited || typeof edited.name !== "string" || typeof edited.args !== "object" || edited.args === null) {
        throw fail(`${at}.editedAction`, "must be { name, args }");
      }
    }
    if (decision.remember !== undefined && !rememberModes.includes(decision.remember)) {
      throw fail(`${at}.remember`, "must be once, run or always");
    }
    if (decision.grantAmount !== undefined && !isAmount(decision.grantAmount)) {
      throw fail(`${at}.grantAmount`, "must be a non-negative safe integer");
    }
  });
  return decisions as ApprovalDecision[];
}
