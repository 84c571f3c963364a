import type { BaseMessage, ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { Command, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { ToolNode } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import type { Caps } from "../../core/decision.js";
import { ValidationError } from "../../core/errors.js";
import { sortTiers } from "../../core/narrowing.js";
import { type FallbackTarget, fallbackTargetSchema } from "../../core/policy.js";
import type { Tier } from "../../core/tiers.js";
import { resolveAction } from "../shared/action-spec.js";
import type { ResolvedBinding } from "../shared/context.js";
import { withReservedCall } from "../shared/context.js";
import { denialMessage, type TollgateDenial } from "../shared/denial.js";
import { adapterOptionsSchema, Gate, type GateOptions, parseAdapterOptions } from "../shared/gate.js";
import { unansweredToolCalls } from "./denial-messages.js";
import { routeOfDenials } from "./fallback-routes.js";
import type { NodeTool } from "./run-tool-call.js";
import { type TollgateState, tollgateStateOf } from "./state.js";

export interface PermissionedToolNodeOptions extends GateOptions {
  /**
   * The node denied calls go to (or routes per tool / tier). Default: the ledger's policy
   * `fallbacks`. A denial nothing routes goes to `next` with its denial message. Declare every
   * target in `addNode(..., { ends })`.
   */
  fallback?: FallbackTarget;
  /** Where the graph goes when nothing was denied. Default "agent". */
  next?: string;
  name?: string;
  tags?: string[];
  /** Like ToolNode: a tool that throws becomes an error ToolMessage (its hold is released). Default true. */
  handleToolErrors?: boolean;
}

const nodeName = z.string().min(1).max(128);
const optionsSchema = adapterOptionsSchema({
  fallback: fallbackTargetSchema.optional(),
  next: nodeName.optional(),
  name: nodeName.optional(),
  tags: z.array(z.string()).max(64).optional(),
  handleToolErrors: z.boolean().optional(),
});

/** Tool calls one step may carry; more is a model gone wrong, denied rather than run. */
export const toolCallsPerStepMax = 128;

/** What one invocation of the node learns while its calls run: the gate's binding, denials and caps. */
interface Step {
  binding: ResolvedBinding;
  tollgate: TollgateState | undefined;
  /** The id each call of this step goes by (calls sent without an id get `call-<index>`). */
  ids: Map<ToolCall, string>;
  started: number;
  denials: { index: number; denial: TollgateDenial }[];
  /** The ledger's caps, one entry per call the ledger was asked about. */
  caps: Caps[];
}

/**
 * A drop-in for LangGraph's ToolNode that asks the ledger before any tool runs. It is ToolNode
 * itself with its `runTool` step gated, so Command and Send handling, error messages and the tool
 * runtime are LangGraph's own. The tool calls of the last AI message are reserved in call order
 * (six 20-point emails on a 100-point budget: five run, the sixth is denied); each allowed call
 * runs and settles once (commit on success, release on a throw or an error message); every denied
 * call is answered by an error ToolMessage with a stable id (`tollgate-denied-<toolCallId>`).
 * Caps and denials go to the `tollgate` state channel, and the node routes with a Command: to the
 * fallback when anything was denied, else to `next`, never both.
 *
 * `graph.addNode("tools", node, { ends: ["agent", "escalate"] })` — no static edge out of it. The
 * graph state needs the `tollgate` channel (TollgateAnnotation; a state without it is refused
 * before any tool runs). In `createReactAgent({ llm, tools: node, stateSchema: TollgateAgentState })`
 * the prebuilt graph has only "agent" and "tools" and a static edge tools → agent: denied calls go
 * back to the agent with their denial messages, and a fallback naming any other node is not run.
 * A call to a tool not in the list, not offered to the model, or outside read-only mode is denied
 * with TOOL_NOT_ALLOWED; a tool nothing charges, with TOOL_NOT_COVERED. Tools wrapped by guardTool
 * are charged once, by this node, by their own spec.
 */
export class PermissionedToolNode extends ToolNode {
  readonly next: string;
  private readonly gate: Gate;
  private readonly fallback: FallbackTarget | undefined;
  private readonly steps = new WeakMap<object, Step>();

  constructor(tools: NodeTool[], options: PermissionedToolNodeOptions) {
    if (!Array.isArray(tools)) {
      throw new ValidationError([{ code: "invalid_type", path: "tools", message: "must be an array of tools" }]);
    }
    const parsed = parseAdapterOptions(optionsSchema, options);
    super([...tools], { name: parsed.name ?? "tools", tags: parsed.tags, handleToolErrors: parsed.handleToolErrors });
    this.gate = new Gate(parsed, "PermissionedToolNode");
    this.fallback = parsed.fallback;
    this.next = parsed.next ?? "agent";
  }

  // biome-ignore lint/suspicious/noExplicitAny: ToolNode's run returns its state type
  protected override async run(input: unknown, config: LangGraphRunnableConfig): Promise<any> {
    const { calls, state, sent } = callsOf(input);
    if (calls.length === 0) return new Command({ goto: this.next });
    // A state without the channel would lose every denial record and mode switch without a word
    // (LangGraph drops writes to undeclared channels), so nothing runs. A Send carries the state
    // its sender chose, which says nothing about the graph's channels.
    if (!sent && tollgateStateOf(state) === undefined) throw missingChannelError();
    const ids = new Map<ToolCall, string>();
    for (const call of calls) ids.set(call.original, call.id);
    const step: Step = {
      binding: this.gate.bind(config),
      tollgate: tollgateStateOf(state),
      ids,
      started: 0,
      denials: [],
      caps: [],
    };
    // A config of this step's own, so each runTool finds the step it belongs to.
    const stepConfig = { ...config };
    this.steps.set(stepConfig, step);
    const output = await super.run(input, stepConfig);
    return this.routed(output, step);
  }

  protected override async runTool(
    call: ToolCall,
    config: LangGraphRunnableConfig,
    state: unknown,
  ): Promise<ToolMessage | Command> {
    const step = this.steps.get(config);
    if (!step) return super.runTool(call, config, state);
    // Numbered before the first await: ToolNode starts every call in order, so this is call order.
    const index = step.started++;
    const withId: ToolCall = { ...call, id: step.ids.get(call) ?? call.id ?? `call-${index}` };
    const denied = (denial: TollgateDenial) => {
      step.denials.push({ index, denial });
      return denialMessage(denial);
    };
    if (index >= toolCallsPerStepMax) return denied(this.notAllowed(step, withId, "too many tool calls in one step"));
    const tool = this.tools.find((candidate) => candidate.name === withId.name);
    if (!tool) return denied(this.notAllowed(step, withId, "not one of this node's tools"));
    const { ledger } = step.binding;
    const charge = this.gate.chargeOf(tool, withId.name, ledger);
    const tollgate = step.tollgate;
    if (tollgate?.offeredTools && !tollgate.offeredTools.includes(withId.name)) {
      return denied(this.notAllowed(step, withId, "not offered to the model", charge));
    }
    if (tollgate?.mode === "read-only" && (!charge.covered || charge.spec.tier !== "read")) {
      return denied(this.notAllowed(step, withId, "the run is in read-only mode", charge));
    }
    const admission = await this.gate.admit(step.binding, charge, withId);
    if (admission.kind === "denied") {
      if (admission.response) step.caps.push(admission.response.caps ?? { disabledTiers: [] });
      return denied(admission.denial);
    }
    step.caps.push(admission.response.caps ?? { disabledTiers: [] });
    // Marked as paid for, so a guardTool inside and the callback handler do not charge it again.
    const marked = withReservedCall(config, tool.name, withId.id) as LangGraphRunnableConfig;
    return this.gate.runHeld(ledger, admission.hold, () => super.runTool(withId, marked, state));
  }

  /** The step's output as one Command: the tool results, the channel update, and where to go. */
  private routed(output: unknown, step: Step): Command | unknown[] {
    const denials = step.denials.sort((a, b) => a.index - b.index).map((entry) => entry.denial);
    const caps = this.capsOf(step);
    // Write the channel only when something changed: every channel write is work for LangGraph.
    const capsChanged = caps !== undefined && !sameCaps(caps, step.tollgate?.caps ?? null);
    const written: Partial<TollgateState> | undefined =
      denials.length > 0 || capsChanged ? (capsChanged ? { caps, denials } : { denials }) : undefined;
    const fallback = this.fallback ?? step.binding.ledger.policy?.fallbacks;
    const goto = denials.length > 0 ? (routeOfDenials(fallback, denials) ?? this.next) : this.next;
    if (!Array.isArray(output)) {
      const messages = (output as { messages: BaseMessage[] }).messages;
      return new Command({ update: written ? { messages, tollgate: written } : { messages }, goto });
    }
    // Some tool returned a Command: ToolNode's merged outputs stand as they are, routing comes last.
    return [...output, new Command({ update: written ? { tollgate: written } : {}, goto })];
  }

  private notAllowed(step: Step, call: ToolCall, why: string, charge?: ReturnType<Gate["chargeOf"]>): TollgateDenial {
    const action = charge?.covered ? safeAction(charge.spec, call) : undefined;
    return this.gate.refuse(step.binding, call, action, "TOOL_NOT_ALLOWED", why);
  }

  /**
   * Caps after this step: the union of disabled tiers in the ledger's answers, and the node's tools
   * they rule out. Undefined (state left as it was) when the ledger was not asked at all.
   */
  private capsOf(step: Step): Caps | undefined {
    if (step.caps.length === 0) return undefined;
    const disabled = new Set<Tier>(step.caps.flatMap((caps) => caps.disabledTiers));
    const disabledTiers = sortTiers(disabled);
    if (disabled.size === 0) return { disabledTiers };
    const toolDenylist = this.tools
      .filter((tool) => {
        const charge = this.gate.chargeOf(tool, tool.name, step.binding.ledger);
        return charge.covered && disabled.has(charge.spec.tier);
      })
      .map((tool) => tool.name);
    return toolDenylist.length > 0 ? { disabledTiers, toolDenylist } : { disabledTiers };
  }
}

/** The action of a call for its denial record; an estimate that throws is recorded as the tier's default. */
function safeAction(spec: Parameters<typeof resolveAction>[0], call: ToolCall) {
  try {
    return resolveAction(spec, call.name, call.args);
  } catch {
    return resolveAction({ ...spec, estimate: undefined }, call.name, call.args);
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

/** The graph runs this node with a state that has no `tollgate` channel: name the one-line fix. */
function missingChannelError(): ValidationError {
  return new ValidationError([
    {
      code: "invalid_type",
      path: "state.tollgate",
      message:
        "PermissionedToolNode needs the tollgate state channel, or its denial records and read-only mode are lost: " +
        "createReactAgent({ llm, tools: node, stateSchema: TollgateAgentState }), or add ...TollgateAnnotation.spec " +
        "to your Annotation.Root",
    },
  ]);
}

/** The calls ToolNode will run (one from a Send, else the unanswered calls of the last AI message). */
function callsOf(input: unknown): { calls: { original: ToolCall; id: string }[]; state: unknown; sent: boolean } {
  if (input !== null && typeof input === "object" && "lg_tool_call" in input) {
    const { lg_tool_call: call, ...state } = input as { lg_tool_call: ToolCall };
    return { calls: [{ original: call, id: call.id && call.id.length > 0 ? call.id : "call-0" }], state, sent: true };
  }
  const messages = (input as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) {
    throw new ValidationError([
      { code: "invalid_type", path: "state.messages", message: "PermissionedToolNode needs a state with messages" },
    ]);
  }
  return { calls: unansweredToolCalls(messages as BaseMessage[]), state: input, sent: false };
}
