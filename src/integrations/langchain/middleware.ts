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
import type { Ledger, ReserveResponse } from "../../ledger/ledger.js";
import {
  type ActionSpec,
  actualOf,
  type ResolvedAction,
  resolveAction,
  validateActionSpec,
} from "../shared/action-spec.js";
import { type ResolvedBinding, type SubjectSource, withReservedCall } from "../shared/context.js";
import type { DefaultToolCharge } from "./callback-handler.js";
import {
  bindingOfRuntime,
  decideOffers,
  reserveArgsOf,
  specOfTool,
  type ToolCharging,
  type ToolLike,
  type WithheldTool,
  withheldNote,
} from "./middleware-charges.js";
import {
  type ApprovalDecisionType,
  approvalRequestOf,
  askForApproval,
  deniedToolMessage,
  rejectedToolMessage,
} from "./middleware-denial.js";

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
   * does not run unless a human approves it.
   */
  onDeny?: OnDeny;
  /** The decisions a reviewer may take in interrupt mode. Default: approve, edit, reject. */
  allowedDecisions?: ApprovalDecisionType[];
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
  const allowedDecisions = options.allowedDecisions ?? ["approve", "edit", "reject"];
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
    const tool = isNamedTool(request.tool) ? request.tool : undefined;
    const spec = specOfTool({ name: toolCall.name, tags: tool?.tags }, charging);
    const action = resolveAction(spec, toolCall.name, toolCall.args);
    const response = await binding.ledger.reserve(reserveArgsOf(binding.subject, action, binding.runId));
    if (response.decision !== "DENY") return runHeld(request, handler, binding, spec, action, response);
    if (onDeny === "error-message") return deniedToolMessage(toolCall, action, response);
    return runIfApproved(request, handler, action, response);
  }

  /** Runs the tool on its hold: commit what it spent, release if it threw or answered with an error. */
  async function runHeld(
    request: ToolCallRequest,
    handler: ToolCallHandler,
    binding: ResolvedBinding,
    spec: ActionSpec,
    action: ResolvedAction,
    response: ReserveResponse,
  ) {
    const reservationId = response.reservationId;
    let settled = false;
    try {
      const result = await handler(markedAsReserved(request));
      settled = true;
      if (reservationId) {
        await settleAfterRun(binding.ledger, reservationId, result, () =>
          actualOf(spec, request.toolCall.args, resultForActual(result), action.estimate),
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

  /** Interrupt mode: a human decides. Approved (or edited) calls run once, unbudgeted: the approval is the grant. */
  async function runIfApproved(
    request: ToolCallRequest,
    handler: ToolCallHandler,
    action: ResolvedAction,
    response: ReserveResponse,
  ) {
    const toolCall = request.toolCall;
    const decision = await askForApproval(approvalRequestOf(toolCall, action, response, allowedDecisions));
    if (decision.type === "reject") return rejectedToolMessage(toolCall, decision.message);
    if (decision.type === "approve") return handler(markedAsReserved(request));
    const edited: ToolCall = { ...toolCall, name: decision.editedAction.name, args: decision.editedAction.args };
    // An edit may name another tool: the tool node then finds it by name.
    const tool = edited.name === toolCall.name ? request.tool : undefined;
    return handler(markedAsReserved({ ...request, toolCall: edited, tool }));
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

async function settleAfterRun(ledger: Ledger, reservationId: string, result: unknown, actual: () => number) {
  // A tool node answers a missing tool (or an inner layer's refusal) with an error message: nothing ran.
  if (ToolMessage.isInstance(result) && result.status === "error") {
    await ledger.release(reservationId, { reason: "the tool answered with an error" });
    return;
  }
  await ledger.commit(reservationId, { actual: actual() });
}

/** What a spec's `actual(args, result)` sees: a ToolMessage is reduced to its artifact or content. */
function resultForActual(result: unknown): unknown {
  if (ToolMessage.isInstance(result)) return result.artifact ?? result.content;
  return result;
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
    if (!["approve", "edit", "reject"].includes(decision)) {
      issues.push({
        code: "invalid_value",
        path: `allowedDecisions.${index}`,
        message: "must be approve, edit or reject",
      });
    }
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
