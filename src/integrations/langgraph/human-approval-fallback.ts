import type { BaseMessage, ToolMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { Command, interrupt, isCommand, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import {
  type ApprovalDecisionType,
  approvalDecisionTypes,
  approvalRequestOf,
  approverDefault,
  isApprovable,
  parseApprovalResponse,
} from "../shared/approval.js";
import { type RememberMode, rememberModes } from "../shared/approval-grants.js";
import { applyApproval } from "../shared/approval-run.js";
import { withReservedCall } from "../shared/context.js";
import { denialMessage, deniedMessageId, type TollgateDenial } from "../shared/denial.js";
import { adapterOptionsSchema, functionSchema, Gate, type GateOptions, parseAdapterOptions } from "../shared/gate.js";
import { pendingDenials } from "./denial-messages.js";
import { type NodeTool, ToolCallRunner } from "./run-tool-call.js";
import type { TollgateStateUpdate } from "./state.js";

export interface HumanApprovalFallbackOptions extends GateOptions {
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

export const approvalToolsMax = 1_000;

/** The approval options both the fallback and the createAgent middleware take. */
export const approvalOptionsShape = {
  allowedDecisions: z
    .array(z.enum(approvalDecisionTypes as [ApprovalDecisionType, ...ApprovalDecisionType[]]))
    .min(1)
    .optional(),
  approvalTimeoutMs: z.number().int().positive("must be a positive integer").optional(),
  remember: z.enum(rememberModes, { error: `must be one of ${rememberModes.join(", ")}` }).optional(),
  approver: z
    .union([z.string().min(1).max(128), functionSchema<(config: RunnableConfig | undefined) => string>()], {
      error: "must be a name or a function of the config",
    })
    .optional(),
};

const optionsSchema = adapterOptionsSchema({
  tools: z
    .array(
      z.custom<NodeTool>(
        (tool) => typeof tool === "object" && tool !== null && typeof (tool as NodeTool).name === "string",
        "must be a tool",
      ),
      { error: "must be the tools approved actions run with" },
    )
    .max(approvalToolsMax),
  next: z.string().min(1).max(128).optional(),
  handleToolErrors: z.boolean().optional(),
  ...approvalOptionsShape,
});

/** The approver of a decision that names none. */
export function approverOf(
  approver: HumanApprovalFallbackOptions["approver"],
  config: RunnableConfig | undefined,
): string {
  if (typeof approver === "function") return approver(config);
  return approver ?? approverDefault;
}

/**
 * A fallback node that asks a person about the denied calls of the latest turn, with one
 * `interrupt()` in langchain v1's human-in-the-loop format, and resumes with
 * `new Command({ resume: { decisions: [...] } })`, one decision per denied call, in call order:
 *
 * - approve / edit: the action (edited: with the edited name and arguments) runs once, charged to
 *   an approval grant with the approver as the audit actor (see approval-grants.ts); its result
 *   replaces the denial message in place.
 * - reject: the denial message is rewritten with APPROVAL_REJECTED and the reviewer's message.
 * - an answer arriving after `approvalTimeoutMs` (counted from the denial): APPROVAL_TIMEOUT.
 * - a denial no approval could be charged for (LEDGER_UNAVAILABLE) is not asked about: it is
 *   answered as final, as the createAgent middleware answers it.
 *
 * The subject, run id and charge come from the denial the tool node recorded, so
 * `humanApprovalFallback({ ledger, tools })` needs nothing else. Nothing with a side effect happens
 * before the interrupt, so the node's re-run on resume repeats no work; the approved reservation
 * carries an idempotency key of the run and tool call, so a replayed resume (time travel, a
 * retried node) does not run the action again.
 *
 * `graph.addNode("escalate", humanApprovalFallback({ ledger, tools }), { ends: ["agent"] })`
 */
export function humanApprovalFallback(options: HumanApprovalFallbackOptions) {
  const parsed = parseAdapterOptions(optionsSchema, options);
  const gate = new Gate(parsed, "humanApprovalFallback");
  const tools = [...parsed.tools];
  const runner = new ToolCallRunner(tools, { handleToolErrors: parsed.handleToolErrors });
  const next = parsed.next ?? "agent";
  const allowedDecisions = parsed.allowedDecisions ?? [...approvalDecisionTypes];
  return async function humanApprovalNode(state: { messages: BaseMessage[] }, config?: LangGraphRunnableConfig) {
    const denied = pendingDenials(state.messages);
    if (denied.length === 0) return new Command({ goto: next });
    // What no approval could be charged for is answered as final, without asking anyone.
    const denials: TollgateDenial[] = denied
      .filter(({ denial }) => !isApprovable(denial))
      .map(({ denial }) => ({ ...denial, status: "denied" }));
    const messages: BaseMessage[] = denials.map((denial) => denialMessage(denial));
    const pending = denied.filter(({ denial }) => isApprovable(denial));
    if (pending.length === 0) return new Command({ update: { messages, tollgate: { denials } }, goto: next });
    const answer = interrupt(approvalRequestOf(pending, allowedDecisions, parsed.approvalTimeoutMs));
    const decisions = parseApprovalResponse(answer, pending.length, allowedDecisions);
    const nowMs = Date.now();
    const commands: Command[] = [];
    // In call order, one at a time: approvals draw on shared grants, so order decides who fits.
    for (const [index, { denial, call }] of pending.entries()) {
      const decision = decisions[index];
      const binding = gate.bind(config, denial);
      const approver = decision.approver ?? approverOf(parsed.approver, config);
      const outcome = await applyApproval({
        gate,
        binding,
        denial,
        call,
        decision,
        approver,
        remember: parsed.remember ?? "once",
        approvalTimeoutMs: parsed.approvalTimeoutMs,
        nowMs,
        toolOf: (name) => tools.find((tool) => tool.name === name),
        run: (approved, hold) => {
          const marked = withReservedCall(config, approved.name, approved.id) as LangGraphRunnableConfig;
          return gate.runHeld(binding.ledger, hold, () => runner.runOne(approved, marked, state));
        },
      });
      if (outcome.kind === "answered") {
        denials.push(outcome.resolution.denial);
        messages.push(outcome.resolution.message);
        continue;
      }
      const result = outcome.value;
      const failed = !isCommand(result) && (result as ToolMessage).status === "error";
      denials.push({ ...denial, status: failed ? "failed" : outcome.status, resolvedBy: approver });
      if (isCommand(result)) commands.push(result);
      else {
        // Same id as the denial message: the messages reducer replaces it, one answer per tool call.
        (result as ToolMessage).id = deniedMessageId(call.id as string);
        messages.push(result as ToolMessage);
      }
    }
    const tollgate: TollgateStateUpdate = { denials };
    const routing = new Command({ update: { messages, tollgate }, goto: next });
    return commands.length > 0 ? [...commands, routing] : routing;
  };
}
