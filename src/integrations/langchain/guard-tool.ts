import type { RunnableConfig } from "@langchain/core/runnables";
import { StructuredTool, type StructuredToolInterface, type ToolRunnableConfig } from "@langchain/core/tools";
import { invariant } from "../../core/errors.js";
import { type ActionSpec, actionSpecSymbol } from "../shared/action-spec.js";
import { isReservedCall, withReservedCall } from "../shared/context.js";
import { denialMessage } from "../shared/denial.js";
import type { Gate } from "../shared/gate.js";
import { isToolCall, toolCallIdOf } from "../shared/run-config.js";
import { type BoundSpec, gateOfSpec, runGuarded } from "./guarded-run.js";

/** A tool's charge, plus where to charge it when not taken from the run. */
// biome-ignore lint/suspicious/noExplicitAny: arguments of an arbitrary tool
export interface GuardToolSpec<Args = any, Result = any> extends ActionSpec<Args, Result>, BoundSpec {
  estimate?: ActionSpec<Args, Result>["estimate"];
  actual?: ActionSpec<Args, Result>["actual"];
}

// biome-ignore lint/suspicious/noExplicitAny: the wrapped tool's own input type
type AnyToolInput = any;

/**
 * The wrapped tool: same name, description, schema and tags, and every invoke is guarded.
 * Invoking goes through `call`, so overriding it covers `invoke`, `call` and tool nodes alike.
 * The inner tool does the parsing, callbacks and ToolMessage formatting exactly as before.
 */
export class GuardedTool extends StructuredTool {
  name: string;
  description: string;
  schema: StructuredToolInterface["schema"];
  readonly inner: StructuredToolInterface;
  readonly [actionSpecSymbol]: ActionSpec;
  private readonly gate: Gate;

  constructor(inner: StructuredToolInterface, spec: GuardToolSpec) {
    const { gate, spec: charge } = gateOfSpec(spec, `guardTool(${inner?.name})`);
    const source = inner as StructuredToolInterface & Partial<StructuredTool>;
    super({
      responseFormat: source.responseFormat,
      verboseParsingErrors: source.verboseParsingErrors,
      metadata: source.metadata,
      tags: source.tags,
    });
    this.name = inner.name;
    this.description = inner.description;
    this.schema = inner.schema;
    this.returnDirect = inner.returnDirect;
    this.inner = inner;
    this.gate = gate;
    this[actionSpecSymbol] = charge;
  }

  override async call(arg: AnyToolInput, configArg?: AnyToolInput, _tags?: string[]): Promise<AnyToolInput> {
    const config = configArg as ToolRunnableConfig | undefined;
    const toolCallId = toolCallIdOf(arg, config);
    // An outer layer (a tool node, the callback handler) already paid for this call: run as is.
    if (isReservedCall(config?.metadata, this.name, toolCallId)) return this.inner.invoke(arg, config);
    // The mark is for whoever could charge this call again: callback handlers (they only exist when
    // the run has callbacks) and a guarded tool inside. Without either, the metadata is pure cost.
    const needsMark = hasCallbacks(config) || this.inner instanceof GuardedTool;
    const markedConfig = needsMark
      ? ({ ...config, ...withReservedCall(config, this.name, toolCallId) } as ToolRunnableConfig)
      : config;
    // StructuredTool.invoke hands a tool call's args to call() and keeps the call on the config.
    const asToolCall = isToolCall(arg) || isToolCall((config as { toolCall?: unknown } | undefined)?.toolCall);
    return runGuarded({
      gate: this.gate,
      spec: this[actionSpecSymbol],
      toolName: this.name,
      call: {
        name: this.name,
        args: isToolCall(arg) ? arg.args : arg,
        id: toolCallIdOf(arg, config),
        type: "tool_call",
      },
      config: config as RunnableConfig | undefined,
      run: () => this.inner.invoke(arg, markedConfig),
      // Invoked with a tool call (a stock ToolNode, createAgent): answer it, so the model is told not
      // to retry, instead of an error ToolNode words as "please fix your mistakes".
      onDeny: asToolCall ? (denial) => denialMessage({ ...denial, status: "denied" }) : undefined,
    });
  }

  protected async _call(): Promise<never> {
    invariant(false, "GuardedTool._call is never reached: call() delegates to the wrapped tool");
  }
}

/**
 * Wraps a LangChain tool so each call reserves, runs, commits (release on error). On DENY the call
 * throws BudgetExceededError and the tool never runs. The ledger and subject come from the spec or
 * from the run, so one wrapped tool serves every tenant. Inside a PermissionedToolNode the node
 * reserves and this layer stands aside: one reservation per call.
 */
export function guardTool(tool: StructuredToolInterface, spec: GuardToolSpec): GuardedTool {
  return new GuardedTool(tool, spec);
}

function hasCallbacks(config: ToolRunnableConfig | undefined): boolean {
  const callbacks = config?.callbacks as unknown;
  if (!callbacks) return false;
  if (Array.isArray(callbacks)) return callbacks.length > 0;
  const handlers = (callbacks as { handlers?: unknown[] }).handlers;
  return handlers === undefined || handlers.length > 0;
}
