import type { ToolCall } from "@langchain/core/messages/tool";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { StructuredTool, type StructuredToolInterface, type ToolRunnableConfig } from "@langchain/core/tools";
import { invariant } from "../../core/errors.js";
import { type ActionSpec, actionSpecSymbol } from "../shared/action-spec.js";
import { isReservedCall, withReservedCall } from "../shared/context.js";
import { denialMessage, type TollgateDenial } from "../shared/denial.js";
import type { Gate } from "../shared/gate.js";
import { isToolCall, runConfigOf, toolCallIdOf } from "../shared/run-config.js";
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
 * The wrapped tool: same name, description, schema and tags, and every invoke is guarded. It
 * overrides `invoke` itself (and `call`, for callers of the old API), so the gate sits directly in
 * front of the inner tool's `invoke`: no second Runnable layer re-merges the config or opens a run
 * of its own. The inner tool does the parsing, callbacks and ToolMessage formatting exactly as before.
 */
export class GuardedTool extends StructuredTool {
  name: string;
  description: string;
  schema: StructuredToolInterface["schema"];
  readonly inner: StructuredToolInterface;
  readonly [actionSpecSymbol]: ActionSpec;
  private readonly gate: Gate;
  /** Whether the inner tool charges calls itself unless told they are paid for. */
  private readonly innerIsGuarded: boolean;

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
    this.innerIsGuarded = inner instanceof GuardedTool;
    this[actionSpecSymbol] = charge;
  }

  override invoke(input: AnyToolInput, config?: AnyToolInput): Promise<AnyToolInput> {
    try {
      return this.guarded(input, config);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override call(arg: AnyToolInput, configArg?: AnyToolInput, _tags?: string[]): Promise<AnyToolInput> {
    return this.invoke(arg, configArg);
  }

  /** Not async: the gate's step is the only promise layer between the caller and the inner tool. */
  private guarded(input: unknown, given: ToolRunnableConfig | undefined): Promise<AnyToolInput> {
    // What the call runs under: the config given, completed by the run it happens in (the inner
    // tool's invoke merges the same two the same way).
    const config = runConfigOf(given);
    const inputCall = isToolCall(input) ? input : undefined;
    const configCall = (config as { toolCall?: unknown } | undefined)?.toolCall;
    const toolCallId = toolCallIdOf(input, config);
    // An outer layer (a tool node, the callback handler) already paid for this call: run as is.
    if (isReservedCall(config?.metadata, this.name, toolCallId)) return this.inner.invoke(input, given);
    // The mark is for whoever could charge this call again: a guarded tool inside, and callback
    // handlers, which reach the inner tool from the run's callbacks, from its own `callbacks`, or
    // from a configure hook (hooks live in LangChain's context variables). Without any of them,
    // the metadata is pure cost.
    const innerConfig =
      this.innerIsGuarded ||
      hasCallbacks(config?.callbacks) ||
      hasCallbacks((this.inner as { callbacks?: unknown }).callbacks) ||
      hasContextVariables()
        ? (withReservedCall(config, this.name, toolCallId) as ToolRunnableConfig)
        : given;
    return runGuarded(
      this.gate,
      this[actionSpecSymbol],
      this.name,
      {
        name: this.name,
        args: (inputCall ? inputCall.args : input) as ToolCall["args"],
        id: toolCallId,
        type: "tool_call",
      },
      config,
      () => this.inner.invoke(input, innerConfig),
      // Invoked with a tool call (a stock ToolNode, createAgent): answer it, so the model is told not
      // to retry, instead of an error ToolNode words as "please fix your mistakes".
      inputCall || isToolCall(configCall) ? answerDenial : undefined,
    );
  }

  protected async _call(): Promise<never> {
    invariant(false, "GuardedTool._call is never reached: invoke() delegates to the wrapped tool");
  }
}

function answerDenial({ denial }: { denial: TollgateDenial }) {
  return denialMessage({ ...denial, status: "denied" });
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

/** Callbacks (an array of handlers, or a callback manager) with at least one handler. */
function hasCallbacks(callbacks: unknown): boolean {
  if (!callbacks) return false;
  if (Array.isArray(callbacks)) return callbacks.length > 0;
  const handlers = (callbacks as { handlers?: unknown[] }).handlers;
  return handlers === undefined || handlers.length > 0;
}

/** LangChain keeps its context variables (configure hooks among them) under this global symbol. */
const contextVariablesKey = Symbol.for("lc:context_variables");

/** Whether the run we are in carries any LangChain context variable (a configure hook may add handlers). */
function hasContextVariables(): boolean {
  const store = AsyncLocalStorageProviderSingleton.getInstance().getStore() as Record<symbol, unknown> | undefined;
  return store?.[contextVariablesKey] !== undefined;
}
