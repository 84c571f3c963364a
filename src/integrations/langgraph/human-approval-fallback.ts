import type { BaseMessage, ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableConfig } from "@langchain/core/runnables";
import { Command, interrupt, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { ValidationError } from "../../core/errors.js";
import { resolveAction, specForTool, type ToolChargeOptions, validateActionSpec } from "../shared/action-spec.js";
import {
  type ApprovalDecision,
  type ApprovalDecisionType,
  alreadyRunAnswer,
  approvalDecisionTypes,
  approvalRequestOf,
  approverDefault,
  parseApprovalResponse,
  recordRefusal,
  refusal,
} from "../shared/approval.js";
import { type RememberMode, runOnApprovalGrant } from "../shared/approval-grants.js";
import { commitActual, resultOfToolOutput } from "../shared/charge.js";
import { type ResolvedBinding, resolveBinding, type TollgateBinding, withReservedCall } from "../shared/context.js";
import { type DenialStatus, deniedMessageId, type TollgateDenial } from "../shared/denial.js";
import { pendingDenials } from "./denial-messages.js";
import { type NodeTool, runToolCall } from "./run-tool-call.js";
import type { TollgateStateUpdate } from "./state.js";

export interface HumanApprovalFallbackOptions extends TollgateBinding, ToolChargeOptions {
  /** The tools approved actions run with (the tool node's tools). */
  tools: NodeTool[];
  /** Where the agent carries on. Default "agent". */
  next?: string;
  /** Decisions a reviewer may make. Default approve, edit, reject. */
  allowedDecisions?: ApprovalDecisionType[];
  /** How long after the denial an answer still counts; later ones deny with APPROVAL_TIMEOUT. */
  approvalTimeoutMs?: number;
  /** How approvals are remembered unless the decision says: once (default), run, always. */
  remember?: RememberMode;
  /** The approver recorded as the audit actor when a decision names none. */
  approver?: string | ((config: RunnableConfig | undefined) => string);
  handleToolErrors?: boolean;
}

/**
 * A fallback node that asks a person about the denied calls of the latest turn, with one
 * `interrupt()` in langchain v1's human-in-the-loop format, and resumes with
 * `new Command({ resume: { decisions: [...] } })`:
 *
 * - approve / edit: the action (edited: with the edited name and arguments) runs once, charged to
 *   an approval grant with the approver as the audit actor (see approval-grants.ts); its result
 *   replaces the denial message in place.
 * - reject: the denial message is rewritten with APPROVAL_REJECTED and the reviewer's message.
 * - an answer arriving after `approvalTimeoutMs` (counted from the denial): APPROVAL_TIMEOUT.
 *
 * Nothing with a side effect happens before the interrupt, so the node's re-run on resume repeats
 * no work; the approved reservation carries an idempotency key derived from the run and the tool
 * call id, so a replayed resume (time travel, a retried node) finds the first reservation and
 * does not run the action again.
 *
 * `graph.addNode("escalate", humanApprovalFallback({ ledger, tools }), { ends: ["agent"] })`
 */
export function humanApprovalFallback(options: HumanApprovalFallbackOptions) {
  validateOptions(options);
  const next = options.next ?? "agent";
  const allowedDecisions = options.allowedDecisions ?? [...approvalDecisionTypes];
  return async function humanApprovalNode(state: { messages: BaseMessage[] }, config?: LangGraphRunnableConfig) {
    const pending = pendingDenials(state.messages);
    if (pending.length === 0) return new Command({ goto: next });
    const answer = interrupt(approvalRequestOf(pending, allowedDecisions, options.approvalTimeoutMs));
    const decisions = parseApprovalResponse(answer, pending.length, allowedDecisions);
    const binding = resolveBinding(options, config, "humanApprovalFallback");
    const nowMs = Date.now();
    const messages: BaseMessage[] = [];
    const commands: Command[] = [];
    const denials: TollgateDenial[] = [];
    // In call order, one at a time: approvals draw on shared grants, so order decides who fits.
    for (const [index, { denial, call }] of pending.entries()) {
      const decision = decisions[index];
      const approver = decision.approver ?? approverOf(options, config);
      let result: Resolution;
      if (options.approvalTimeoutMs !== undefined && nowMs - denial.atMs > options.approvalTimeoutMs) {
        result = refusal(denial, "timed-out", "APPROVAL_TIMEOUT", approver, "no approval within the time allowed");
      } else if (decision.type === "reject") {
        result = refusal(
          denial,
          "rejected",
          "APPROVAL_REJECTED",
          approver,
          decision.message ?? "rejected by a reviewer",
        );
      } else {
        result = await runApproved({ options, binding, config, state, denial, call, decision, approver });
      }
      if (result.denial.status === "rejected" || result.denial.status === "timed-out") {
        await recordRefusal(binding, result.denial);
      }
      denials.push(result.denial);
      if (result.command) commands.push(result.command);
      if (result.message) messages.push(result.message);
    }
    const tollgate: TollgateStateUpdate = { denials };
    const routing = new Command({ update: { messages, tollgate }, goto: next });
    return commands.length > 0 ? [...commands, routing] : routing;
  };
}

interface Resolution {
  denial: TollgateDenial;
  message?: ToolMessage;
  command?: Command;
}

interface ApprovedRun {
  options: HumanApprovalFallbackOptions;
  binding: ResolvedBinding;
  config: LangGraphRunnableConfig | undefined;
  state: unknown;
  denial: TollgateDenial;
  call: ToolCall;
  decision: Extract<ApprovalDecision, { type: "approve" | "edit" }>;
  approver: string;
}

async function runApproved(request: ApprovedRun): Promise<Resolution> {
  const { options, binding, denial, decision, approver } = request;
  const edited = decision.type === "edit" ? decision.editedAction : undefined;
  const call: ToolCall = {
    ...request.call,
    name: edited?.name ?? request.call.name,
    args: edited?.args ?? request.call.args,
  };
  const status: DenialStatus = edited ? "edited" : "approved";
  const tool = options.tools.find((candidate) => candidate.name === call.name);
  if (!tool) {
    return refusal(
      denial,
      "failed",
      "TOOL_NOT_ALLOWED",
      approver,
      `${call.name} is not one of the approval node's tools`,
    );
  }
  const spec = specForTool(tool as { name: string; tags?: string[] }, options);
  const toolCallId = call.id as string;
  const charge = await runOnApprovalGrant(
    binding.ledger,
    {
      mode: decision.remember ?? options.remember ?? "once",
      subject: binding.subject,
      action: resolveAction(spec, call.name, call.args),
      runId: binding.runId,
      toolCallId,
      grantAmount: decision.grantAmount,
      approver,
    },
    (action, reservationId) => runCharged(request, tool, call, spec, action, reservationId),
  );
  if (charge.kind === "already-run") return alreadyRunAnswer(denial, status, approver);
  if (charge.kind === "denied") {
    return refusal(
      { ...denial, deniedScope: charge.deniedScope },
      "failed",
      charge.reasonCode,
      approver,
      "approved, but the approval grant or the tenant budget has no room",
    );
  }
  const outcome = charge.value;
  const resolved: TollgateDenial = { ...denial, status: outcome.ok ? status : "failed", resolvedBy: approver };
  if ("command" in outcome) return { denial: resolved, command: outcome.command };
  // Same id as the denial message: the messages reducer replaces it, one answer per tool call.
  outcome.message.id = deniedMessageId(toolCallId);
  return { denial: resolved, message: outcome.message };
}

async function runCharged(
  request: ApprovedRun,
  tool: NodeTool,
  call: ToolCall,
  spec: ReturnType<typeof specForTool>,
  action: ReturnType<typeof resolveAction>,
  reservationId: string | undefined,
) {
  const { binding, approver } = request;
  let settled = false;
  try {
    const marked = withReservedCall(request.config, tool.name, call.id) as LangGraphRunnableConfig;
    const outcome = await runToolCall(tool, call, marked, request.state, request.options.handleToolErrors ?? true);
    if (reservationId) {
      if (outcome.ok) {
        const result = "command" in outcome ? outcome.raw : resultOfToolOutput(outcome.message);
        await commitActual(binding.ledger, reservationId, spec, call.args, result, action, approver);
      } else {
        await binding.ledger.release(reservationId, { reason: "the approved tool threw" });
      }
    }
    settled = true;
    return outcome;
  } finally {
    if (!settled && reservationId) await binding.ledger.release(reservationId, { reason: "interrupted" });
  }
}

function approverOf(options: HumanApprovalFallbackOptions, config: RunnableConfig | undefined): string {
  if (typeof options.approver === "function") return options.approver(config);
  return options.approver ?? approverDefault;
}

function validateOptions(options: HumanApprovalFallbackOptions): void {
  if (options === null || typeof options !== "object") {
    throw new ValidationError([{ code: "invalid_type", path: "options", message: "must be an object" }]);
  }
  if (!Array.isArray(options.tools)) {
    throw new ValidationError([
      { code: "invalid_type", path: "tools", message: "must be the tools approved actions run with" },
    ]);
  }
  const timeoutMs = options.approvalTimeoutMs;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new ValidationError([
      { code: "invalid_value", path: "approvalTimeoutMs", message: "must be a positive integer" },
    ]);
  }
  for (const [name, spec] of Object.entries(options.toolSpecs ?? {})) validateActionSpec(spec, `toolSpecs.${name}`);
}
