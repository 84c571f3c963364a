import { ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableConfig } from "@langchain/core/runnables";
// Types only: the middleware object is built without loading `langchain`, so importing tollgate
// never requires the optional peer (see agentMiddlewareBrand).
import type { AgentMiddleware, WrapModelCallHook, WrapToolCallHook } from "langchain";
import { ValidationError, type ValidationIssue } from "../../core/errors.js";
import { isTier } from "../../core/tiers.js";
import { type ToolRule, validateToolRules } from "../../core/tool-rules.js";
import { isAmount } from "../../core/units.js";
import type { Ledger } from "../../ledger/ledger.js";
import {
  type ActionSpec,
  actualOf,
  type ResolvedAction,
  resolveAction,
  validateActionSpec,
} from "../shared/action-spec.js";
import {
  type ApprovalDecisionType,
  alreadyRunAnswer,
  approvalDecisionTypes,
  approvalRequestOf,
  approverDefault,
  recordRefusal,
  refusal,
} from "../shared/approval.js";
import {
  type RememberMode,
  rememberedApprovalActor,
  reserveOnRememberedGrant,
  runOnApprovalGrant,
} from "../shared/approval-grants.js";
import { reserveAction, resultOfToolOutput } from "../shared/charge.js";
import { type ResolvedBinding, type SubjectSource, withReservedCall } from "../shared/context.js";
import { type DenialStatus, denialMessage, newDenial, type TollgateDenial } from "../shared/denial.js";
import type { DefaultToolCharge } from "./callback-handler.js";
import {
  bindingOfRuntime,
  configOfRuntime,
  decideOffers,
  type RuntimeLike,
  specOfTool,
  type ToolCharging,
  type ToolLike,
  type WithheldTool,
  withheldNote,
} from "./middleware-charges.js";
import { askForApproval, deniedContent } from "./middleware-denial.js";

export type OnDeny = "error-message" | "interrupt";

export interface TollgateMiddlewareOptions {
  /** Else read from the run: `context.tollgate` or `configurable.tollgate`. */
  ledger?: Ledger;
  /** Who acts: a subject, or a function of the run's config. Else read from the run like the ledger. */
  subject?: SubjectSource;
  /** The run for `run`-window budgets; defaults to the thread id. */
  runId?: string;
  /** Charges for tools by name glob or tag, for tools known only at run time (MCP servers). */
  rules?: ToolRule[];
  /** Per-tool charges by tool name; these win over a guardTool's own spec and over rules. */
  tools?: Record<string, ActionSpec>;
  /** The charge for a tool nothing names. Default: `execution` at its default points (fail closed). */
  defaultTool?: DefaultToolCharge;
  /**
   * What a denied call becomes: an error ToolMessage naming the reason (default), or an approval
   * interrupt in langchain's human-in-the-loop format (needs a checkpointer). Either way the tool
   * does not run unless a human approves it; an approved call is charged to an approval grant with
   * the approver as the audit actor, like humanApprovalFallback's.
   */
  onDeny?: OnDeny;
  /** The decisions a reviewer may take in interrupt mode. Default: approve, edit, reject. */
  allowedDecisions?: ApprovalDecisionType[];
  /** How approvals are remembered unless the decision says: once (default), for the run, always. */
  remember?: RememberMode;
  /** The approver recorded as the audit actor when a decision names none. Default "human-approver". */
  approver?: string | ((config: RunnableConfig | undefined) => string);
  /** Tell the model, in the system prompt, which tools were withheld and why. Default true. */
  explainWithheld?: boolean;
  /** Called when settling a hold fails after the tool ran; the tool's result is kept. Default: a warning. */
  onSettleError?: (error: unknown, reservationId: string) => void;
}

/** langchain marks middleware with this global symbol (`Symbol.for`), the same on every copy of the package. */
const agentMiddlewareBrand = Symbol.for("AgentMiddleware");

type ModelCallRequest = Parameters<WrapModelCallHook>[0];
type ModelCallHandler = Parameters<WrapModelCallHook>[1];
type ToolCallRequest = Parameters<WrapToolCallHook>[0];
type ToolCallHandler = Parameters<WrapToolCallHook>[1];
type OfferedTool = ModelCallRequest["tools"][number];

/**
 * Runtime permissions for langchain's `createAgent`. Before each model call the model is offered
 * only the tools the ledger would allow now (a dry run per tool: tiers disabled by caps and spent
 * toolsets drop out). Each tool call is then enforced: reserve, run, commit; release if it throws.
 * A DENY never runs the tool. Parallel tool calls each reserve atomically, so a budget for five
 * emails lets exactly five of six through.
 */
export function tollgateMiddleware(options: TollgateMiddlewareOptions = {}): AgentMiddleware {
  const charging: ToolCharging = {
    toolSpecs: options.tools,
    rules: validateToolRules(options.rules ?? []),
    defaultTool: options.defaultTool,
  };
  validateOptions(options);
  const explicit = { ledger: options.ledger, subject: options.subject, runId: options.runId };
  const onDeny = options.onDeny ?? "error-message";
  const allowedDecisions = options.allowedDecisions ?? [...approvalDecisionTypes];
  const explainWithheld = options.explainWithheld ?? true;
  const onSettleError = options.onSettleError ?? warnSettleError;

  async function tollgateWrapModelCall(request: ModelCallRequest, handler: ModelCallHandler) {
    const binding = bindingOfRuntime(explicit, request.runtime);
    // Shadow mode decides and audits but never blocks: nothing is withheld either.
    if (binding.ledger.mode === "shadow") return handler(request);
    const named = request.tools.filter(isNamedTool);
    if (named.length === 0) return handler(request);
    const responses = await decideOffers(binding.ledger, binding, named, charging);
    const withheld: WithheldTool[] = [];
    named.forEach((tool, index) => {
      const response = responses[index];
      if (response.decision === "DENY")
        withheld.push({ name: tool.name, reasonCode: response.reasonCode ?? "BUDGET_EXCEEDED" });
    });
    if (withheld.length === 0) return handler(request);
    const withheldNames = new Set(withheld.map((tool) => tool.name));
    // Server-side tools run at the provider, beyond any budget: they are passed through untouched.
    const tools = request.tools.filter((tool) => !isNamedTool(tool) || !withheldNames.has(tool.name));
    return handler({
      ...request,
      tools,
      toolChoice: toolChoiceAfter(request.toolChoice, tools, withheldNames),
      ...(explainWithheld ? { systemPrompt: appendNote(request.systemPrompt, withheldNote(withheld)) } : {}),
    });
  }

  async function tollgateWrapToolCall(request: ToolCallRequest, handler: ToolCallHandler) {
    const binding = bindingOfRuntime(explicit, request.runtime);
    const toolCall = request.toolCall;
    const spec = specOfTool({ name: toolCall.name, tags: toolTags(request.tool) }, charging);
    const action = resolveAction(spec, toolCall.name, toolCall.args);
    const response = await reserveAction(binding.ledger, binding.subject, action, binding.runId);
    if (response.decision !== "DENY") return runHeld(request, handler, binding, spec, action, response.reservationId);
    // A standing approval (a run or always grant) pays for what the agent's own budgets deny.
    if (response.reasonCode !== "LEDGER_UNAVAILABLE") {
      const granted = await reserveOnRememberedGrant(binding.ledger, binding.subject, action, binding.runId);
      if (granted) {
        const { reservationId } = granted.response;
        return runHeld(request, handler, binding, spec, granted.action, reservationId, rememberedApprovalActor);
      }
    }
    const reasonCode = response.reasonCode ?? "BUDGET_EXCEEDED";
    if (onDeny === "error-message") {
      const denial = newDenial(toolCall, action, reasonCode, response.deniedScope, "denied");
      return denialMessage(denial, deniedContent(denial));
    }
    return runIfApproved(request, handler, binding, newDenial(toolCall, action, reasonCode, response.deniedScope));
  }

  /**
   * Runs the tool on its hold: commit what it spent (with `actor` in the audit log when an approval
   * pays), release if it threw or answered with an error.
   */
  async function runHeld(
    request: ToolCallRequest,
    handler: ToolCallHandler,
    binding: ResolvedBinding,
    spec: ActionSpec,
    action: ResolvedAction,
    reservationId: string | undefined,
    actor?: string,
  ) {
    let settled = false;
    try {
      const result = await handler(markedAsReserved(request));
      settled = true;
      if (reservationId) {
        await settleAfterRun(binding.ledger, reservationId, result, actor, () =>
          actualOf(spec, request.toolCall.args, resultOfToolOutput(result), action.estimate),
        ).catch((error: unknown) => onSettleError(error, reservationId));
      }
      return result;
    } finally {
      // An unfinished reservation is always released: the tool threw, so nothing was spent.
      if (!settled && reservationId) {
        await binding.ledger
          .release(reservationId, { reason: "the tool threw" })
          .catch((error: unknown) => onSettleError(error, reservationId));
      }
    }
  }

  /**
   * Interrupt mode: a human decides, as with humanApprovalFallback. Approved (or edited) calls run
   * once, charged to an approval grant with the approver as the audit actor (see
   * shared/approval-grants.ts); a replayed resume finds the first charge and does not run the
   * tool again. A rejected call is answered with APPROVAL_REJECTED and the reviewer's reason.
   */
  async function runIfApproved(
    request: ToolCallRequest,
    handler: ToolCallHandler,
    binding: ResolvedBinding,
    denial: TollgateDenial,
  ) {
    const toolCall = request.toolCall;
    const decision = await askForApproval(
      approvalRequestOf([{ denial, call: toolCall }], allowedDecisions, undefined),
      allowedDecisions,
    );
    const approver = decision.approver ?? approverOf(options, request.runtime);
    if (decision.type === "reject") {
      const why = decision.message ?? "rejected by a reviewer";
      const refused = refusal(denial, "rejected", "APPROVAL_REJECTED", approver, why);
      await recordRefusal(binding, refused.denial);
      return refused.message;
    }
    const status: DenialStatus = decision.type === "edit" ? "edited" : "approved";
    const call: ToolCall =
      decision.type === "edit"
        ? { ...toolCall, name: decision.editedAction.name, args: decision.editedAction.args }
        : toolCall;
    // An edit may name another tool: the tool node then finds it by name, and it is charged by its name.
    const sameTool = call.name === toolCall.name;
    const spec = specOfTool({ name: call.name, tags: sameTool ? toolTags(request.tool) : undefined }, charging);
    const approved: ToolCallRequest =
      call === toolCall ? request : { ...request, toolCall: call, tool: sameTool ? request.tool : undefined };
    const charge = await runOnApprovalGrant(
      binding.ledger,
      {
        mode: decision.remember ?? options.remember ?? "once",
        subject: binding.subject,
        action: resolveAction(spec, call.name, call.args),
        runId: binding.runId,
        // The model's id for the call; with the run id it keys the charge, so a replay is recognised.
        toolCallId: toolCall.id ?? "",
        grantAmount: decision.grantAmount,
        approver,
      },
      (action, reservationId) => runHeld(approved, handler, binding, spec, action, reservationId, approver),
    );
    if (charge.kind === "ran") return charge.value;
    if (charge.kind === "already-run") return alreadyRunAnswer(denial, status, approver).message;
    return refusal(
      { ...denial, deniedScope: charge.deniedScope },
      "failed",
      charge.reasonCode,
      approver,
      "approved, but the approval grant or the tenant budget has no room",
    ).message;
  }

  const middleware = {
    [agentMiddlewareBrand]: true,
    name: "TollgateMiddleware",
    wrapModelCall: tollgateWrapModelCall,
    wrapToolCall: tollgateWrapToolCall,
  };
  return middleware as unknown as AgentMiddleware;
}

/** A client tool: a runnable with a name (server-side tools are plain provider specs). */
function isNamedTool(
  tool: unknown,
): tool is OfferedTool & ToolLike & { invoke: (input: unknown, config?: RunnableConfig) => Promise<unknown> } {
  return (
    typeof tool === "object" &&
    tool !== null &&
    typeof (tool as { name?: unknown }).name === "string" &&
    typeof (tool as { invoke?: unknown }).invoke === "function"
  );
}

function toolTags(tool: unknown): readonly string[] | undefined {
  return isNamedTool(tool) ? tool.tags : undefined;
}

/**
 * The request with its tool wrapped so the call's config says it is paid for: a guardTool or the
 * callback handler further in then stands aside (one reservation per tool call).
 */
function markedAsReserved(request: ToolCallRequest): ToolCallRequest {
  const tool = request.tool;
  if (!isNamedTool(tool)) return request;
  const { name, id } = request.toolCall;
  const marked = Object.create(tool, {
    invoke: {
      value: (input: unknown, config?: RunnableConfig) => tool.invoke(input, withReservedCall(config, name, id)),
    },
  });
  return { ...request, tool: marked };
}

async function settleAfterRun(
  ledger: Ledger,
  reservationId: string,
  result: unknown,
  actor: string | undefined,
  actual: () => number,
) {
  // A tool node answers a missing tool (or an inner layer's refusal) with an error message: nothing ran.
  if (ToolMessage.isInstance(result) && result.status === "error") {
    await ledger.release(reservationId, { reason: "the tool answered with an error" });
    return;
  }
  await ledger.commit(reservationId, { actual: actual(), ...(actor ? { actor } : {}) });
}

function approverOf(options: TollgateMiddlewareOptions, runtime: RuntimeLike | undefined): string {
  if (typeof options.approver === "function") return options.approver(configOfRuntime(runtime));
  return options.approver ?? approverDefault;
}

function toolChoiceAfter(
  toolChoice: ModelCallRequest["toolChoice"],
  tools: readonly OfferedTool[],
  withheld: ReadonlySet<string>,
): ModelCallRequest["toolChoice"] {
  if (typeof toolChoice === "object" && withheld.has(toolChoice.function.name)) return undefined;
  if (toolChoice === "required" && tools.length === 0) return undefined;
  return toolChoice;
}

function appendNote(systemPrompt: string | undefined, note: string): string {
  return systemPrompt ? `${systemPrompt}\n\n${note}` : note;
}

function warnSettleError(error: unknown, reservationId: string): void {
  const message = error instanceof Error ? error.message : String(error);
  console.warn(`tollgate: settling reservation ${reservationId} failed after the tool ran: ${message}`);
}

function validateOptions(options: TollgateMiddlewareOptions): void {
  const issues: ValidationIssue[] = [];
  if (options.onDeny !== undefined && options.onDeny !== "error-message" && options.onDeny !== "interrupt") {
    issues.push({ code: "invalid_value", path: "onDeny", message: 'must be "error-message" or "interrupt"' });
  }
  for (const [index, decision] of (options.allowedDecisions ?? []).entries()) {
    if (!approvalDecisionTypes.includes(decision)) {
      issues.push({
        code: "invalid_value",
        path: `allowedDecisions.${index}`,
        message: "must be approve, edit or reject",
      });
    }
  }
  if (options.remember !== undefined && !["once", "run", "always"].includes(options.remember)) {
    issues.push({ code: "invalid_value", path: "remember", message: "must be once, run or always" });
  }
  const approver = options.approver;
  if (
    approver !== undefined &&
    typeof approver !== "function" &&
    (typeof approver !== "string" || approver.length === 0)
  ) {
    issues.push({ code: "invalid_value", path: "approver", message: "must be a name or a function of the config" });
  }
  if (options.defaultTool !== undefined) {
    if (!isTier(options.defaultTool.tier)) {
      issues.push({ code: "invalid_value", path: "defaultTool.tier", message: "must be a tier" });
    }
    const estimate = options.defaultTool.estimate;
    if (estimate !== undefined && !isAmount(estimate)) {
      issues.push({ code: "invalid_value", path: "defaultTool.estimate", message: "must be a non-negative integer" });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  for (const [name, spec] of Object.entries(options.tools ?? {})) validateActionSpec(spec, `tools.${name}`);
}
