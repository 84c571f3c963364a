import type { ToolCall } from "@langchain/core/messages/tool";
import type { ActionSpec } from "./action-spec.js";
import { resolveAction } from "./action-spec.js";
import {
  type ApprovalDecision,
  type ApprovalResolution,
  alreadyRunAnswer,
  recordRefusal,
  refusal,
} from "./approval.js";
import { type RememberMode, runOnApprovalGrant } from "./approval-grants.js";
import type { ResolvedBinding } from "./context.js";
import type { DenialStatus, TollgateDenial } from "./denial.js";
import type { ChargeableTool, Gate, Hold } from "./gate.js";

/** One reviewer's answer to one denied call, as both the approval fallback and the middleware apply it. */
export interface ApprovalRun<T> {
  gate: Gate;
  binding: ResolvedBinding;
  denial: TollgateDenial;
  /** The denied call, with its id. */
  call: ToolCall;
  decision: ApprovalDecision;
  approver: string;
  /** How approvals are remembered when the decision does not say. */
  remember: RememberMode;
  /** Answers arriving later than this after the denial are APPROVAL_TIMEOUT. */
  approvalTimeoutMs?: number;
  nowMs: number;
  /** The tool a call names, if the adapter has it. */
  toolOf(name: string): ChargeableTool | undefined;
  /** Runs the (possibly edited) call on its hold; the gate settles the hold. */
  run(call: ToolCall, hold: Hold): Promise<T>;
}

export type ApprovalOutcome<T> =
  | { kind: "ran"; value: T; status: DenialStatus }
  | { kind: "answered"; resolution: ApprovalResolution };

/**
 * Applies a reviewer's decision: a late answer is APPROVAL_TIMEOUT, a reject is APPROVAL_REJECTED
 * (both audited with who refused, since they spend nothing); an approve or edit runs the call once
 * on an approval grant with the approver as audit actor; a replayed resume finds the first charge
 * and runs nothing.
 */
export async function applyApproval<T>(request: ApprovalRun<T>): Promise<ApprovalOutcome<T>> {
  const { gate, binding, denial, decision, approver } = request;
  const refused = async (resolution: ApprovalResolution): Promise<ApprovalOutcome<T>> => {
    await recordRefusal(binding, resolution.denial);
    return { kind: "answered", resolution };
  };
  if (request.approvalTimeoutMs !== undefined && request.nowMs - denial.atMs > request.approvalTimeoutMs) {
    return refused(refusal(denial, "timed-out", "APPROVAL_TIMEOUT", approver, "no approval within the time allowed"));
  }
  if (decision.type === "reject") {
    return refused(
      refusal(denial, "rejected", "APPROVAL_REJECTED", approver, decision.message ?? "rejected by a reviewer"),
    );
  }
  const edited = decision.type === "edit" ? decision.editedAction : undefined;
  const call: ToolCall = {
    ...request.call,
    name: edited?.name ?? request.call.name,
    args: edited?.args ?? request.call.args,
  };
  const status: DenialStatus = edited ? "edited" : "approved";
  const tool = request.toolOf(call.name);
  if (!tool) {
    return {
      kind: "answered",
      resolution: refusal(denial, "failed", "TOOL_NOT_ALLOWED", approver, `${call.name} is not one of the tools here`),
    };
  }
  const spec = specForApproval(gate, binding, tool, call, denial);
  if (!spec) {
    return {
      kind: "answered",
      resolution: refusal(denial, "failed", "TOOL_NOT_COVERED", approver, `nothing says how ${call.name} is charged`),
    };
  }
  const charge = await runOnApprovalGrant(
    binding.ledger,
    {
      mode: decision.remember ?? request.remember,
      subject: binding.subject,
      action: resolveAction(spec, call.name, call.args),
      runId: binding.runId,
      toolCallId: request.call.id ?? "",
      grantAmount: decision.grantAmount,
      approver,
    },
    (action, reservationId) =>
      request.run(call, {
        reservationId,
        spec,
        action,
        args: call.args,
        actor: approver,
        call: { name: call.name, id: call.id },
      }),
  );
  if (charge.kind === "already-run")
    return { kind: "answered", resolution: alreadyRunAnswer(denial, status, approver) };
  if (charge.kind === "denied") {
    return {
      kind: "answered",
      resolution: refusal(
        { ...denial, deniedScope: charge.deniedScope },
        "failed",
        charge.reasonCode,
        approver,
        "approved, but the approval grant or the tenant budget has no room",
      ),
    };
  }
  return { kind: "ran", value: charge.value, status };
}

/**
 * The charge of an approved call: the gate's, from the tool itself; else, for the very call that
 * was denied, what its denial recorded (the node that denied it knew the charge).
 */
function specForApproval(
  gate: Gate,
  binding: ResolvedBinding,
  tool: ChargeableTool,
  call: ToolCall,
  denial: TollgateDenial,
): ActionSpec | undefined {
  const charge = gate.chargeOf(tool, call.name, binding.ledger);
  if (charge.covered) return charge.spec;
  if (call.name !== denial.toolName || denial.reasonCode === "TOOL_NOT_COVERED") return undefined;
  return { tier: denial.tier, toolset: denial.toolset, estimate: denial.estimate, unit: denial.unit };
}
