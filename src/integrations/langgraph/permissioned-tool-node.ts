import type { BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { Command, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { ToolNode } from "@langchain/langgraph/prebuilt";
import type { Caps } from "../../core/decision.js";
import { ValidationError } from "../../core/errors.js";
import { sortTiers } from "../../core/narrowing.js";
import type { Tier } from "../../core/tiers.js";
import { validateToolRules } from "../../core/tool-rules.js";
import type { ReserveResponse } from "../../ledger/ledger.js";
import {
  type ActionSpec,
  type ResolvedAction,
  resolveAction,
  specForTool,
  type ToolChargeOptions,
  validateActionSpec,
} from "../shared/action-spec.js";
import { rememberedApprovalActor, reserveOnRememberedGrant } from "../shared/approval-grants.js";
import { commitActual, reserveAction, resultOfToolOutput } from "../shared/charge.js";
import { type ResolvedBinding, resolveBinding, type TollgateBinding, withReservedCall } from "../shared/context.js";
import { denialMessage, newDenial, type TollgateDenial } from "../shared/denial.js";
import { callIdOf, unansweredToolCalls } from "./denial-messages.js";
import { type FallbackTarget, fallbackFor, validateFallback } from "./fallback-routes.js";
import { type NodeTool, runToolCall } from "./run-tool-call.js";
import { type TollgateState, tollgateStateOf } from "./state.js";

export interface PermissionedToolNodeOptions extends TollgateBinding, ToolChargeOptions {
  /** The node denied calls go to (or one per tool / tier). Declare it in `addNode(..., { ends })`. */
  fallback: FallbackTarget;
  /** Where the graph goes when nothing was denied. Default "agent". */
  next?: string;
  name?: string;
  tags?: string[];
  /** Like ToolNode: a tool that throws becomes an error ToolMessage (its hold is released). Default true. */
  handleToolErrors?: boolean;
}

/** Tool calls one step may carry; more is a model gone wrong, denied rather than run. */
export const toolCallsPerStepMax = 128;

type CallPlan =
  | {
      kind: "allowed";
      call: ToolCall;
      tool: NodeTool;
      spec: ActionSpec;
      action: ResolvedAction;
      response: ReserveResponse;
      /** Set when a standing approval grant pays: the audit actor of the commit too. */
      actor?: string;
    }
  | { kind: "denied"; denial: TollgateDenial; caps?: Caps };

/**
 * A drop-in for LangGraph's ToolNode that asks the ledger before any tool runs. The tool calls of
 * the last AI message are decided one by one, in order (six 20-point emails on a 100-point budget:
 * five run, the sixth is denied); the allowed ones run in parallel, each committed on success and
 * released on error; every denied call is answered by an error ToolMessage with a stable id
 * (`tollgate-denied-<toolCallId>`). Caps and denials go to the `tollgate` state channel, and the
 * node routes with a Command: to the fallback when anything was denied, else to `next`, never both.
 *
 * Use it without a static edge out of it: `graph.addNode("tools", node, { ends: ["agent", "escalate"] })`.
 * A call to a tool not in the list, not offered to the model, or outside read-only mode is denied
 * with TOOL_NOT_ALLOWED. Tools wrapped by guardTool are charged once, by this node.
 */
export class PermissionedToolNode extends ToolNode {
  readonly options: PermissionedToolNodeOptions;
  readonly next: string;

  constructor(tools: NodeTool[], options: PermissionedToolNodeOptions) {
    if (!Array.isArray(tools)) {
      throw new ValidationError([{ code: "invalid_type", path: "tools", message: "must be an array of tools" }]);
    }
    if (options === null || typeof options !== "object") {
      throw new ValidationError([{ code: "invalid_type", path: "options", message: "must be an object" }]);
    }
    validateFallback(options.fallback);
    for (const [name, spec] of Object.entries(options.toolSpecs ?? {})) validateActionSpec(spec, `toolSpecs.${name}`);
    if (options.rules) validateToolRules(options.rules);
    super(tools, { name: options.name ?? "tools", tags: options.tags, handleToolErrors: options.handleToolErrors });
    this.options = options;
    this.next = options.next ?? "agent";
  }

  // biome-ignore lint/suspicious/noExplicitAny: ToolNode's run returns its state type
  protected override async run(input: unknown, config: LangGraphRunnableConfig): Promise<any> {
    const { calls, state } = callsOf(input);
    if (calls.length === 0) return new Command({ goto: this.next });
    const binding = resolveBinding(this.options, config, "PermissionedToolNode");
    const tollgate = tollgateStateOf(state);
    const plans: CallPlan[] = [];
    for (const [index, call] of calls.entries()) {
      const withId = { ...call, id: callIdOf(call, index) };
      plans.push(
        index >= toolCallsPerStepMax
          ? { kind: "denied", denial: this.notAllowed(withId, undefined, "too many tool calls in one step") }
          : await this.decide(withId, binding, tollgate),
      );
    }
    const results = await Promise.allSettled(
      plans.map((plan) => (plan.kind === "allowed" ? this.execute(plan, binding, config, state) : undefined)),
    );
    // Every hold is settled by now; a graph interrupt from a tool is rethrown once all are.
    const failure = results.find((result) => result.status === "rejected");
    if (failure) throw (failure as PromiseRejectedResult).reason;

    const messages: BaseMessage[] = [];
    const commands: Command[] = [];
    const denials: TollgateDenial[] = [];
    plans.forEach((plan, index) => {
      if (plan.kind === "denied") {
        denials.push(plan.denial);
        messages.push(denialMessage(plan.denial));
        return;
      }
      const outcome = (results[index] as PromiseFulfilledResult<Awaited<ReturnType<typeof this.execute>>>).value;
      if ("command" in outcome) commands.push(outcome.command);
      else messages.push(outcome.message);
    });
    const caps = this.capsOf(plans);
    // Write the channel only when something changed: every channel write is work for LangGraph.
    const capsChanged = caps !== undefined && !sameCaps(caps, tollgate?.caps ?? null);
    const written: Partial<TollgateState> | undefined =
      denials.length > 0 || capsChanged ? (capsChanged ? { caps, denials } : { denials }) : undefined;
    const update = written ? { messages, tollgate: written } : { messages };
    const routing = new Command({
      update,
      goto: denials.length > 0 ? fallbackFor(this.options.fallback, denials) : this.next,
    });
    return commands.length > 0 ? [...commands, routing] : routing;
  }

  private async decide(
    call: ToolCall,
    binding: ResolvedBinding,
    tollgate: TollgateState | undefined,
  ): Promise<CallPlan> {
    const tool = this.tools.find((candidate) => candidate.name === call.name);
    if (!tool) return { kind: "denied", denial: this.notAllowed(call, undefined, "not one of this node's tools") };
    const spec = specForTool(tool as { name: string; tags?: string[] }, this.options);
    const action = resolveAction(spec, call.name, call.args);
    if (tollgate?.offeredTools && !tollgate.offeredTools.includes(call.name)) {
      return { kind: "denied", denial: this.notAllowed(call, action, "not offered to the model") };
    }
    if (tollgate?.mode === "read-only" && action.tier !== "read") {
      return { kind: "denied", denial: this.notAllowed(call, action, "the run is in read-only mode") };
    }
    const response = await reserveAction(binding.ledger, binding.subject, action, binding.runId);
    if (response.decision !== "DENY") return { kind: "allowed", call, tool, spec, action, response };
    // A standing approval (a run or always grant) pays for what the agent's own budgets deny.
    if (response.reasonCode !== "LEDGER_UNAVAILABLE") {
      const granted = await reserveOnRememberedGrant(binding.ledger, binding.subject, action, binding.runId);
      if (granted) {
        const { action: grantAction, response: grantResponse } = granted;
        return {
          kind: "allowed",
          call,
          tool,
          spec,
          action: grantAction,
          response: grantResponse,
          actor: rememberedApprovalActor,
        };
      }
    }
    return {
      kind: "denied",
      denial: newDenial(call, action, response.reasonCode ?? "BUDGET_EXCEEDED", response.deniedScope),
      caps: response.caps ?? { disabledTiers: [] },
    };
  }

  private async execute(
    plan: Extract<CallPlan, { kind: "allowed" }>,
    binding: ResolvedBinding,
    config: LangGraphRunnableConfig,
    state: unknown,
  ) {
    const { call, tool, spec, action, response, actor } = plan;
    const reservationId = response.reservationId;
    let settled = false;
    try {
      // Marked as paid for, so a guardTool inside and the callback handler do not charge it again.
      const marked = withReservedCall(config, tool.name, call.id) as LangGraphRunnableConfig;
      const outcome = await runToolCall(tool, call, marked, state, this.handleToolErrors);
      if (reservationId) {
        if (outcome.ok) {
          const result = "command" in outcome ? outcome.raw : resultOfToolOutput(outcome.message);
          await commitActual(binding.ledger, reservationId, spec, call.args, result, action, actor);
        } else {
          await binding.ledger.release(reservationId, { reason: "the tool threw" });
        }
      }
      settled = true;
      return outcome;
    } finally {
      if (!settled && reservationId)
        await binding.ledger.release(reservationId, { reason: "the tool step was interrupted" });
    }
  }

  private notAllowed(call: ToolCall, action: ResolvedAction | undefined, why: string): TollgateDenial {
    return { ...newDenial(call, action, "TOOL_NOT_ALLOWED", undefined), detail: why };
  }

  /**
   * Caps after this step: the union of disabled tiers in the ledger's answers, and the node's tools
   * they rule out. Undefined (state left as it was) when the ledger was not asked at all.
   */
  private capsOf(plans: CallPlan[]): Caps | undefined {
    const answers = plans.map((plan) =>
      plan.kind === "allowed" ? (plan.response.caps ?? { disabledTiers: [] }) : plan.caps,
    );
    if (answers.every((caps) => caps === undefined)) return undefined;
    const disabled = new Set<Tier>(answers.flatMap((caps) => caps?.disabledTiers ?? []));
    const disabledTiers = sortTiers(disabled);
    const toolDenylist = this.tools
      .filter((tool) => disabled.has(specForTool(tool as { name: string; tags?: string[] }, this.options).tier))
      .map((tool) => tool.name);
    return toolDenylist.length > 0 ? { disabledTiers, toolDenylist } : { disabledTiers };
  }
}

/** Equal caps; "none recorded yet" equals caps that disable nothing. */
function sameCaps(a: Caps, b: Caps | null): boolean {
  if (!b) return a.disabledTiers.length === 0 && (a.toolDenylist?.length ?? 0) === 0;
  return sameList(a.disabledTiers, b.disabledTiers) && sameList(a.toolDenylist, b.toolDenylist);
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** The calls to run: one from a Send (`lg_tool_call`), else the unanswered calls of the last AI message. */
function callsOf(input: unknown): { calls: ToolCall[]; state: unknown } {
  if (input !== null && typeof input === "object" && "lg_tool_call" in input) {
    const { lg_tool_call: call, ...state } = input as { lg_tool_call: ToolCall };
    return { calls: [call], state };
  }
  const messages = (input as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) {
    throw new ValidationError([
      { code: "invalid_type", path: "state.messages", message: "PermissionedToolNode needs a state with messages" },
    ]);
  }
  return { calls: unansweredToolCalls(messages as BaseMessage[]), state: input };
}
