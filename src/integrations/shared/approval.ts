import type { ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { ReasonCode } from "../../core/decision.js";
import { ValidationError } from "../../core/errors.js";
import type { Subject } from "../../core/scope.js";
import { isAmount } from "../../core/units.js";
import type { Ledger } from "../../ledger/ledger.js";
import { type RememberMode, rememberModes } from "./approval-grants.js";
import { type DenialStatus, denialMessage, describeDenial, type TollgateDenial } from "./denial.js";

// The interrupt payload and the resume value follow langchain v1's human-in-the-loop format
// (HITLRequest / HITLResponse), declared here structurally so neither integration needs the
// `langchain` package for them. Tollgate's extras are optional fields a generic client ignores.
// Both the LangGraph approval fallback and the createAgent middleware ask and answer with these.

export type ApprovalDecisionType = "approve" | "edit" | "reject";

export const approvalDecisionTypes: readonly ApprovalDecisionType[] = ["approve", "edit", "reject"];
/** The audit actor of an approval when neither the decision nor the options name one. */
export const approverDefault = "human-approver";

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
export interface ApprovalExtras {
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

/**
 * Whether a denial is put to a reviewer. An approval is charged to a grant in the same ledger, so
 * when the ledger cannot be reached (LEDGER_UNAVAILABLE) no approval could be charged: that denial
 * is final, answered without asking anyone (fail closed, and no one decides for nothing).
 */
export function isApprovable(denial: TollgateDenial): boolean {
  return denial.reasonCode !== "LEDGER_UNAVAILABLE";
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
    if (decision.remember !== undefined && !(rememberModes as readonly string[]).includes(decision.remember)) {
      throw fail(`${at}.remember`, "must be once, run or always");
    }
    if (decision.grantAmount !== undefined && !isAmount(decision.grantAmount)) {
      throw fail(`${at}.grantAmount`, "must be a non-negative safe integer");
    }
    if (decision.approver !== undefined && (typeof decision.approver !== "string" || decision.approver.length === 0)) {
      throw fail(`${at}.approver`, "must be a non-empty string");
    }
  });
  return decisions as ApprovalDecision[];
}

/** A denial resolved by a reviewer (or by the lack of one), and the message that now answers its tool call. */
export interface ApprovalResolution {
  denial: TollgateDenial;
  message: ToolMessage;
}

/** Not run after all: rejected, timed out, or approved without room. The denial message says why and who. */
export function refusal(
  denial: TollgateDenial,
  status: DenialStatus,
  reasonCode: ReasonCode,
  approver: string,
  why: string,
): ApprovalResolution {
  const resolved: TollgateDenial = { ...denial, status, reasonCode, detail: why, resolvedBy: approver };
  const content = `Not run: ${describeDenial(resolved)}. Do not retry it.`;
  return { denial: resolved, message: denialMessage(resolved, content) };
}

/**
 * Puts a refusal in the audit log with who refused: it spends nothing, so without this the ledger
 * would never know a person said no (or that nobody answered in time).
 */
export async function recordRefusal(
  binding: { ledger: Ledger; subject: Subject; runId?: string },
  resolved: TollgateDenial,
): Promise<void> {
  await binding.ledger.recordApproval({
    subject: { ...binding.subject, toolset: resolved.toolset },
    action: { name: resolved.toolName, tier: resolved.tier },
    unit: resolved.unit,
    outcome: resolved.status === "timed-out" ? "timed-out" : "rejected",
    runId: binding.runId,
    actor: resolved.resolvedBy,
    detail: resolved.detail,
  });
}

/** A replayed approval: the action ran (and was charged) the first time, so it is not run again. */
export function alreadyRunAnswer(denial: TollgateDenial, status: DenialStatus, approver: string): ApprovalResolution {
  const resolved: TollgateDenial = {
    ...denial,
    status,
    resolvedBy: approver,
    detail: "already run after an earlier approval",
  };
  const content = `${denial.toolName} already ran once after an earlier approval; it was not run again.`;
  return { denial: resolved, message: denialMessage(resolved, content) };
}
