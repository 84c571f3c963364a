import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableConfig } from "@langchain/core/runnables";
// Types only: the middleware object is built without loading `langchain`, so importing tollgate
// never requires the optional peer (see agentMiddlewareBrand).
import type { AgentMiddleware, WrapModelCallHook, WrapToolCallHook } from "langchain";
import { z } from "zod";
import type { ReasonCode } from "../../core/decision.js";
import { approvalOptionsShape, approverOf } from "../langgraph/human-approval-fallback.js";
import { resolveAction } from "../shared/action-spec.js";
import {
  type ApprovalDecisionType,
  approvalDecisionTypes,
  approvalRequestOf,
  isApprovable,
} from "../shared/approval.js";
import type { RememberMode } from "../shared/approval-grants.js";
import { applyApproval } from "../shared/approval-run.js";
import { withReservedCall } from "../shared/context.js";
import { denialMessage, type TollgateDenial } from "../shared/denial.js";
import {
  adapterOptionsSchema,
  type ChargeableTool,
  Gate,
  type GateOptions,
  parseAdapterOptions,
} from "../shared/gate.js";
import { toolCallIdOf } from "../shared/run-config.js";
import { configOfRuntime, withheldNote } from "./middleware-charges.js";
import { askForApproval } from "./middleware-denial.js";

export type OnDeny = "error-message" | "interrupt";

export interface TollgateMiddlewareOptions extends GateOptions {
  /**
   * What a denied call becomes: an error ToolMessage naming the reason (default), or an approval
   * interrupt in langchain's human-in-the-loop format (needs a checkpointer). Either way the tool
   * does not run unless a human approves it; an approved call is charged to an approval grant with
   * the approver as the audit actor, like humanApprovalFallback's.
   */
  onDeny?: OnDeny;
  /** The decisions a reviewer may take in interrupt mode. Default: approve, edit, reject. */
  allowedDecisions?: ApprovalDecisionType[];
  /** Interrupt mode: answers arriving later than this after the denial deny with APPROVAL_TIMEOUT. */
  approvalTimeoutMs?: number;
  /** How approvals are remembered unless the decision says: once (default), for the run, always. */
  remember?: RememberMode;
  /** The approver recorded as the audit actor when a decision names none. Default "human-approver". */
  approver?: string | ((config: RunnableConfig | undefined) => string);
  /** Tell the model, in the system prompt, which tools were withheld and why. Default true. */
  explainWithheld?: boolean;
}

const optionsSchema = adapterOptionsSchema({
  onDeny: z.enum(["error-message", "interrupt"], { error: 'must be "error-message" or "interrupt"' }).optional(),
  explainWithheld: z.boolean().optional(),
  ...approvalOptionsShape,
});

/** langchain marks middleware with this global symbol (`Symbol.for`), the same on every copy of the package. */
const agentMiddlewareBrand = Symbol.for("AgentMiddleware");

/**
 * When each denied call was first put to a reviewer, for the approval timeout: the interrupt
 * re-runs the call on resume, and langchain gives a middleware nowhere durable to keep it. Held in
 * this process, bounded; a resume in another process counts from when that process first saw it.
 */
export const approvalRequestsRememberedMax = 10_000;

type ModelCallRequest = Parameters<WrapModelCallHook>[0];
type ModelCallHandler = Parameters<WrapModelCallHook>[1];
type ToolCallRequest = Parameters<WrapToolCallHook>[0];
type ToolCallHandler = Parameters<WrapToolCallHook>[1];
type OfferedTool = ModelCallRequest["tools"][number];

/**
 * Runtime permissions for langchain's `createAgent`. Before each model call the model is offered
 * only the tools the ledger would allow now (the gate's dry run per tool: tiers disabled by caps,
 * spent toolsets and tools nothing charges drop out). Each tool call is then enforced by the gate:
 * reserve, run, settle once. A DENY never runs the tool. Parallel tool calls each reserve
 * atomically, so a budget for five emails lets exactly five of six through. Tools wrapped by
 * guardTool are charged by their own spec, once.
 */
export function tollgateMiddleware(options: TollgateMiddlewareOptions = {}): AgentMiddleware {
  const parsed = parseAdapterOptions(optionsSchema, options);
  const gate = new Gate(parsed, "tollgateMiddleware");
  const onDeny = parsed.onDeny ?? "error-message";
  const allowedDecisions = parsed.allowedDecisions ?? [...approvalDecisionTypes];
  const explainWithheld = parsed.explainWithheld ?? true;
  const firstAskedAtMs = new Map<string, number>();

  async function tollgateWrapModelCall(request: ModelCallRequest, handler: ModelCallHandler) {
    const binding = gate.bind(configOfRuntime(request.runtime));
    // Shadow mode decides and audits but never blocks: nothing is withheld either.
    if (binding.ledger.mode === "shadow") return handler(request);
    const named = request.tools.filter(isNamedTool);
    if (named.length === 0) return handler(request);
    const answers = await Promise.all(named.map((tool) => gate.wouldAdmit(binding, tool)));
    const withheld: { name: string; reasonCode: ReasonCode }[] = [];
    named.forEach((tool, index) => {
      const answer = answers[index];
      if (answer === "TOOL_NOT_COVERED") withheld.push({ name: tool.name, reasonCode: answer });
      else if (answer.decision === "DENY") withheld.push({ name: tool.name, reasonCode: answer.reasonCode });
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

  function tollgateWrapToolCall(request: ToolCallRequest, handler: ToolCallHandler) {
    // Not async (a throw still arrives as a rejection): the gate's step is the only promise layer.
    try {
      return enforce(request, handler);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function enforce(request: ToolCallRequest, handler: ToolCallHandler) {
    const config = configOfRuntime(request.runtime);
    const binding = gate.bind(config);
    const call = request.toolCall;
    const tool = isNamedTool(request.tool) ? request.tool : undefined;
    const charge = gate.chargeOf(tool, call.name, binding.ledger);
    const onDenied = (admission: { denial: TollgateDenial }) =>
      onDeny === "error-message" || !isApprovable(admission.denial)
        ? denialMessage({ ...admission.denial, status: "denied" })
        : runIfApproved(request, handler, config, admission.denial);
    if (!charge.covered) {
      return Promise.resolve(onDenied({ denial: gate.refuse(binding, call, undefined, "TOOL_NOT_COVERED") }));
    }
    return gate.runAction(
      binding,
      charge.spec,
      resolveAction(charge.spec, call.name, call.args),
      call,
      // A promise already (langchain's tool node handler is async), so this makes no new one.
      () => Promise.resolve(handler(markedAsReserved(request))),
      onDenied,
    );
  }

  /**
   * Interrupt mode: a person decides, as with humanApprovalFallback (one interrupt per denied call,
   * one decision in `{ decisions: [...] }`). Approved (or edited) calls run once, charged to an
   * approval grant with the approver as the audit actor; a replayed resume runs nothing again.
   */
  async function runIfApproved(
    request: ToolCallRequest,
    handler: ToolCallHandler,
    config: RunnableConfig,
    fresh: TollgateDenial,
  ) {
    const call = request.toolCall;
    const askedKey = `${fresh.runId ?? ""}\u0000${call.id ?? ""}`;
    const denial = { ...fresh, atMs: firstAsked(askedKey, fresh.atMs) };
    const decision = await askForApproval(
      approvalRequestOf([{ denial, call }], allowedDecisions, parsed.approvalTimeoutMs),
      allowedDecisions,
    );
    const binding = gate.bind(config, denial);
    const outcome = await applyApproval({
      gate,
      binding,
      denial,
      call,
      decision,
      approver: decision.approver ?? approverOf(parsed.approver, config),
      remember: parsed.remember ?? "once",
      approvalTimeoutMs: parsed.approvalTimeoutMs,
      nowMs: Date.now(),
      // An edit may name another tool: the agent's tool node then finds it by name.
      toolOf: (name) => (name === call.name ? ((request.tool as ChargeableTool | undefined) ?? { name }) : { name }),
      run: (approved: ToolCall, hold) => {
        const sameTool = approved.name === call.name;
        const next: ToolCallRequest =
          approved === call ? request : { ...request, toolCall: approved, tool: sameTool ? request.tool : undefined };
        return gate.runHeld(binding.ledger, hold, async () => handler(markedAsReserved(next)));
      },
    });
    firstAskedAtMs.delete(askedKey);
    return outcome.kind === "ran" ? outcome.value : outcome.resolution.message;
  }

  function firstAsked(key: string, nowMs: number): number {
    const known = firstAskedAtMs.get(key);
    if (known !== undefined) return known;
    if (firstAskedAtMs.size >= approvalRequestsRememberedMax) {
      firstAskedAtMs.delete(firstAskedAtMs.keys().next().value as string);
    }
    firstAskedAtMs.set(key, nowMs);
    return nowMs;
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
): tool is OfferedTool & ChargeableTool & { invoke: (input: unknown, config?: RunnableConfig) => Promise<unknown> } {
  return (
    typeof tool === "object" &&
    tool !== null &&
    typeof (tool as { name?: unknown }).name === "string" &&
    typeof (tool as { invoke?: unknown }).invoke === "function"
  );
}

/**
 * The request with its tool wrapped so the call's config says it is paid for: a guardTool or the
 * callback handler further in then stands aside (one reservation per tool call). One wrapper per
 * tool object, made once: it marks whichever call it is invoked with.
 */
function markedAsReserved(request: ToolCallRequest): ToolCallRequest {
  const tool = request.tool;
  if (!isNamedTool(tool)) return request;
  return { ...request, tool: markedToolOf(tool) as ToolCallRequest["tool"] };
}

type InvokableTool = ChargeableTool & { invoke: (input: unknown, config?: RunnableConfig) => Promise<unknown> };

const markedTools = new WeakMap<object, InvokableTool>();

function markedToolOf(tool: InvokableTool): InvokableTool {
  const known = markedTools.get(tool);
  if (known) return known;
  const name = tool.name;
  const marked = Object.create(tool, {
    invoke: {
      value: (input: unknown, config?: RunnableConfig) =>
        tool.invoke(input, withReservedCall(config, name, toolCallIdOf(input, config))),
    },
  }) as InvokableTool;
  markedTools.set(tool, marked);
  return marked;
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
