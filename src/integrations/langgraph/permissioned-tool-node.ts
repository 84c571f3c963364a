import { type BaseMessage, ToolMessage } from "@langchain/core/messages";
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
import { type ResolvedBinding, reservedCallKey, withReservedCall, withReservedCalls } from "../shared/context.js";
import { denialMessage, type TollgateDenial } from "../shared/denial.js";
import { adapterOptionsSchema, Gate, type GateOptions, parseAdapterOptions } from "../shared/gate.js";
import { callIdOf, lastAIMessage } from "./denial-messages.js";
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
  /** The id of each call sent without one (`call-<index>`); undefined when every call has its own. */
  ids: Map<ToolCall, string> | undefined;
  started: number;
  denials: { index: number; denial: TollgateDenial }[] | undefined;
  /** Whether the ledger was asked about any call, and the tiers its answers disabled. */
  asked: boolean;
  disabled: Set<Tier> | undefined;
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
  /**
   * The steps in progress, by the config each hands its runTool calls; an entry lives as long as its
   * step (a Map with a delete, not a WeakMap: a short-lived key per step in a WeakMap is extra GC
   * work, measured at about 2 % of a ToolNode.invoke).
   */
  private readonly steps = new Map<object, Step>();

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
  protected override run(input: unknown, config: LangGraphRunnableConfig): Promise<any> {
    // Not async (a throw still arrives as a rejection): the only promise layers of a step are
    // ToolNode's own and the gate's one per call.
    try {
      return this.runStep(input, config);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private runStep(input: unknown, config: LangGraphRunnableConfig): Promise<Command | unknown[]> {
    const calls = callsOf(input);
    if (calls === undefined) return Promise.resolve(new Command({ goto: this.next }));
    const { marks, ids } = calls;
    const tollgate = tollgateStateOf(input);
    // A state without the channel would lose every denial record and mode switch without a word
    // (LangGraph drops writes to undeclared channels), so nothing runs. A Send carries the state
    // its sender chose, which says nothing about the graph's channels.
    if (!calls.sent && tollgate === undefined) throw missingChannelError();
    const step: Step = {
      binding: this.gate.bind(config),
      tollgate,
      ids,
      started: 0,
      denials: undefined,
      asked: false,
      disabled: undefined,
    };
    // A config of this step's own, so each runTool finds the step it belongs to. It marks every call
    // of the step as paid for, once: a call the node denies never runs, so a guardTool inside and
    // the callback handler only ever see calls this node reserved, and do not charge them again.
    const stepConfig = withReservedCalls(config, marks) as LangGraphRunnableConfig;
    this.steps.set(stepConfig, step);
    return super.run(input, stepConfig).then(
      (output: unknown) => {
        this.steps.delete(stepConfig);
        return this.routed(output, step);
      },
      (error: unknown) => {
        this.steps.delete(stepConfig);
        throw error;
      },
    );
  }

  protected override runTool(
    call: ToolCall,
    config: LangGraphRunnableConfig,
    state: unknown,
  ): Promise<ToolMessage | Command> {
    try {
      return this.gatedTool(call, config, state);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private gatedTool(call: ToolCall, config: LangGraphRunnableConfig, state: unknown): Promise<ToolMessage | Command> {
    // A call that did not come through this node's step (runTool called on its own, or by a
    // LangGraph path that bypasses run) is gated all the same, as a step of one call, never run
    // unasked. Its denial answers the call; there is no step output to record it in.
    const stepOfRun = this.steps.get(config);
    const step = stepOfRun ?? this.loneStep(config, state);
    // Numbered before the first await: ToolNode starts every call in order, so this is call order.
    const index = step.started++;
    const id = step.ids?.get(call);
    const withId: ToolCall =
      id !== undefined ? { ...call, id } : call.id ? call : { ...call, id: call.id ?? `call-${index}` };
    // A lone call is marked paid for here, as a step marks its calls, so a guardTool inside does not charge it again.
    if (!stepOfRun) config = withReservedCall(config, withId.name, withId.id) as LangGraphRunnableConfig;
    if (index >= toolCallsPerStepMax) {
      return deniedNow(step, index, this.notAllowed(step, withId, "too many tool calls in one step"));
    }
    const tool = this.tools.find((candidate) => candidate.name === withId.name);
    if (!tool) return deniedNow(step, index, this.notAllowed(step, withId, "not one of this node's tools"));
    const charge = this.gate.chargeOf(tool, withId.name, step.binding.ledger);
    const tollgate = step.tollgate;
    if (tollgate?.offeredTools && !tollgate.offeredTools.includes(withId.name)) {
      return deniedNow(step, index, this.notAllowed(step, withId, "not offered to the model", charge));
    }
    if (tollgate?.mode === "read-only" && (!charge.covered || charge.spec.tier !== "read")) {
      return deniedNow(step, index, this.notAllowed(step, withId, "the run is in read-only mode", charge));
    }
    if (!charge.covered) {
      return deniedNow(step, index, this.gate.refuse(step.binding, withId, undefined, "TOOL_NOT_COVERED"));
    }
    return this.gate.runAction(
      step.binding,
      charge.spec,
      resolveAction(charge.spec, withId.name, withId.args),
      withId,
      () => super.runTool(withId, config, state),
      (admission) => denied(step, index, admission.denial),
      (admission) => {
        if (admission.response) noteCaps(step, admission.response.caps);
      },
    );
  }

  /** A step for one call that arrived outside any step: the binding and channel from its config and state. */
  private loneStep(config: LangGraphRunnableConfig, state: unknown): Step {
    return {
      binding: this.gate.bind(config),
      tollgate: tollgateStateOf(state),
      ids: undefined,
      started: 0,
      denials: undefined,
      asked: false,
      disabled: undefined,
    };
  }

  /** The step's output as one Command: the tool results, the channel update, and where to go. */
  private routed(output: unknown, step: Step): Command | unknown[] {
    const entries = step.denials;
    if (entries && entries.length > 1) entries.sort((a, b) => a.index - b.index);
    const denials = entries ? entries.map((entry) => entry.denial) : [];
    const caps = this.capsOf(step);
    // Write the channel only when something changed: every channel write is work for LangGraph.
    const capsChanged = caps !== undefined && !sameCaps(caps, step.tollgate?.caps ?? null);
    const written: Partial<TollgateState> | undefined =
      denials.length > 0 || capsChanged ? (capsChanged ? { caps, denials } : { denials }) : undefined;
    const goto =
      denials.length > 0
        ? (routeOfDenials(this.fallback ?? step.binding.ledger.policy?.fallbacks, denials) ?? this.next)
        : this.next;
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
    if (!step.asked) return undefined;
    const disabled = step.disabled;
    if (!disabled) return { disabledTiers: [] };
    const disabledTiers = sortTiers(disabled);
    const toolDenylist = this.tools
      .filter((tool) => {
        const charge = this.gate.chargeOf(tool, tool.name, step.binding.ledger);
        return charge.covered && disabled.has(charge.spec.tier);
      })
      .map((tool) => tool.name);
    return toolDenylist.length > 0 ? { disabledTiers, toolDenylist } : { disabledTiers };
  }
}

/** Records a denial of the step (in call order, for the channel) and answers the call with it. */
function denied(step: Step, index: number, denial: TollgateDenial): ToolMessage {
  step.denials ??= [];
  step.denials.push({ index, denial });
  return denialMessage(denial);
}

function deniedNow(step: Step, index: number, denial: TollgateDenial): Promise<ToolMessage> {
  return Promise.resolve(denied(step, index, denial));
}

/** Adds the ledger's caps for one call to the step's union of disabled tiers. */
function noteCaps(step: Step, caps: Caps | undefined): void {
  step.asked = true;
  if (!caps || caps.disabledTiers.length === 0) return;
  step.disabled ??= new Set();
  for (const tier of caps.disabledTiers) step.disabled.add(tier);
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

/**
 * The calls ToolNode will run (one from a Send, else the unanswered calls of the last AI message),
 * in one pass: each call's paid-for mark (`reservedCallKey`) in call order, and the id of each call
 * sent without one (`call-<index>`; undefined when every call has its own). Undefined when there
 * are none. The state the node reads its channel from is the input itself (a Send's input is its
 * state plus `lg_tool_call`).
 */
function callsOf(
  input: unknown,
): { marks: string[]; ids: Map<ToolCall, string> | undefined; sent: boolean } | undefined {
  if (input !== null && typeof input === "object" && "lg_tool_call" in input) {
    const call = (input as { lg_tool_call: ToolCall }).lg_tool_call;
    const id = call.id && call.id.length > 0 ? call.id : "call-0";
    return {
      marks: [reservedCallKey(call.name, id)],
      ids: id !== call.id ? new Map([[call, id]]) : undefined,
      sent: true,
    };
  }
  const messages = (input as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) {
    throw new ValidationError([
      { code: "invalid_type", path: "state.messages", message: "PermissionedToolNode needs a state with messages" },
    ]);
  }
  const toolCalls = lastAIMessage(messages as BaseMessage[])?.tool_calls;
  if (!toolCalls?.length) return undefined;
  // A call some ToolMessage answers already (a resumed node) is skipped, as ToolNode skips it.
  let answered: Set<string> | undefined;
  for (const message of messages) {
    if (!ToolMessage.isInstance(message)) continue;
    answered ??= new Set();
    answered.add(message.tool_call_id);
  }
  const marks: string[] = [];
  let ids: Map<ToolCall, string> | undefined;
  for (let index = 0; index < toolCalls.length; index++) {
    const original = toolCalls[index];
    const id = callIdOf(original, index);
    if (answered?.has(id)) continue;
    if (id !== original.id) {
      ids ??= new Map();
      ids.set(original, id);
    }
    marks.push(reservedCallKey(original.name, id));
  }
  return marks.length > 0 ? { marks, ids, sent: false } : undefined;
}
