import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { z } from "zod";
import { ValidationError } from "../../core/errors.js";
import type { Subject } from "../../core/scope.js";
import { isAmount, type Unit } from "../../core/units.js";
import type { DenyResponse, Ledger } from "../../ledger/ledger.js";
import { BudgetExceededError, type DeniedAction } from "../errors.js";
import { isReservedCall } from "../shared/context.js";
import {
  adapterOptionsSchema,
  functionSchema,
  Gate,
  type GateOptions,
  type Hold,
  parseAdapterOptions,
  warnSettleError,
} from "../shared/gate.js";
import {
  estimateModelTokens,
  type TokensEstimate,
  type TokenUsage,
  totalTokens,
  type UsdMicrocentsPerToken,
  usageOf,
  usdMicrocentsOf,
  validateUsdMicrocentsPerToken,
} from "./callback-metering.js";
import { deniedError } from "./guarded-run.js";

export interface TollgateCallbackHandlerOptions extends Omit<GateOptions, "ledger" | "subject"> {
  ledger: Ledger;
  /** Who acts. A tool call is charged to this subject with `toolset` set from the tool's charge. */
  subject: Subject;
  /** The run for `run`-window budgets; defaults to the LangGraph thread id found in the run's metadata. */
  runId?: string;
  /** RISK_POINTS held per model call (default 1); `false` leaves model calls unmetered. */
  meterModelCalls?: number | false;
  /**
   * A model call when no RISK_POINTS budget covers the subject: unmetered and allowed by default
   * (metering model calls should not stop an agent nobody budgeted); `true` denies it (fail closed).
   */
  strictModelCalls?: boolean;
  /** Hold an estimate of each model call's tokens on TOKENS budgets, and commit the actual usage. */
  meterTokens?: boolean;
  /** Tokens to hold per model call. Default: prompt length / 4 plus `max_tokens` (or 1,024). */
  tokensEstimate?: TokensEstimate;
  /** When set, model calls are also charged to USD_MICROCENTS budgets at this price per token. */
  usdMicrocentsPerToken?: UsdMicrocentsPerToken;
}

const optionsSchema = adapterOptionsSchema({
  meterModelCalls: z
    .union([z.literal(false), z.number().refine(isAmount, "must be a non-negative integer")], {
      error: "must be a non-negative integer or false",
    })
    .optional(),
  strictModelCalls: z.boolean().optional(),
  meterTokens: z.boolean().optional(),
  tokensEstimate: z
    .union([z.number().refine(isAmount, "must be a non-negative integer"), functionSchema<TokensEstimate>()], {
      error: "must be a non-negative integer or a function",
    })
    .optional(),
  usdMicrocentsPerToken: z.custom<UsdMicrocentsPerToken>().optional(),
});

/** Reservations awaiting their end or error, keyed by callback run id. Bounded: holds expire by TTL anyway. */
export const pendingCallbackRunsMax = 10_000;
export const modelCallActionName = "model_call";

interface ModelHold {
  unit: Unit;
  reservationId: string;
}

type PendingRun =
  /** A model call: its holds, and what to commit from the reported usage. */
  | { kind: "model"; holds: ModelHold[]; tokensEstimate?: TokenUsage }
  /** A tool call: one hold, settled by the gate. */
  | { kind: "tool"; hold: Hold };

/**
 * Charges every tool call and model call of a run, wherever it happens: callbacks propagate
 * through the run's config into subgraphs and subagents, so tools nobody wrapped are reached too.
 *
 * `raiseError` makes a denial throw from `handleToolStart`, before the tool body runs. A DENY throws
 * `BudgetExceededError`; LangGraph's ToolNode turns it into an error ToolMessage naming the reason.
 * Tool calls an outer layer already paid for (the tool node, guardTool, the middleware) are skipped.
 */
export class TollgateCallbackHandler extends BaseCallbackHandler {
  name = "TollgateCallbackHandler";
  override raiseError = true;
  // Errors only reach the caller when the handler is awaited, not run in the background queue.
  override awaitHandlers = true;

  private readonly ledger: Ledger;
  private readonly subject: Subject;
  private readonly runId: string | undefined;
  private readonly gate: Gate;
  private readonly modelCallRiskPoints: number | false;
  private readonly strictModelCalls: boolean;
  private readonly meterTokens: boolean;
  private readonly tokensEstimate: TokensEstimate | undefined;
  private readonly usdMicrocentsPerToken: UsdMicrocentsPerToken | undefined;
  private readonly onSettleError: (error: unknown, reservationId: string) => void;
  private readonly pending = new Map<string, PendingRun>();

  constructor(input: TollgateCallbackHandlerOptions) {
    super({ raiseError: true });
    const options = parseAdapterOptions(optionsSchema, input);
    const missing = [!options.ledger && "ledger", !options.subject && "subject"].filter((key) => key !== false);
    if (missing.length > 0 || typeof options.subject === "function") {
      throw new ValidationError(
        missing.length > 0
          ? missing.map((path) => ({ code: "invalid_type", path: String(path), message: "is required" }))
          : [{ code: "invalid_type", path: "subject", message: "must be a subject (the handler has no run config)" }],
      );
    }
    this.gate = new Gate(options, "TollgateCallbackHandler");
    this.ledger = options.ledger as Ledger;
    this.subject = options.subject as Subject;
    this.runId = options.runId;
    this.modelCallRiskPoints = options.meterModelCalls ?? 1;
    this.strictModelCalls = options.strictModelCalls ?? false;
    this.meterTokens = options.meterTokens ?? false;
    this.tokensEstimate = options.tokensEstimate;
    this.usdMicrocentsPerToken =
      options.usdMicrocentsPerToken === undefined
        ? undefined
        : validateUsdMicrocentsPerToken(options.usdMicrocentsPerToken, "usdMicrocentsPerToken");
    this.onSettleError = options.onSettleError ?? warnSettleError;
  }

  /** One handler, one set of pending holds: a copy must not lose track of reservations in flight. */
  override copy(): this {
    return this;
  }

  /** How many tool or model calls hold a reservation right now (for tests and shutdown checks). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * A DENY throws here, before the tool body runs. LangChain's callback manager prints every error
   * a `raiseError` handler throws (`Error in handler TollgateCallbackHandler, handleToolStart: ...`)
   * before rethrowing it, and a handler cannot stop that: where a denial should be quiet, gate the
   * tool with the tool node, guardTool or the middleware, which answer a denial as a value.
   */
  override async handleToolStart(
    tool: Serialized,
    input: string,
    runId: string,
    _parentRunId?: string,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): Promise<void> {
    const toolName = toolNameOf(tool, runName);
    if (isReservedCall(metadata, toolName, toolCallId)) return;
    const binding = { ledger: this.ledger, subject: this.subject, runId: this.runIdOf(metadata) };
    const charge = this.gate.chargeOf({ name: toolName, tags, metadata }, toolName, this.ledger);
    const call = { name: toolName, args: argsOf(input), id: toolCallId, type: "tool_call" as const };
    const admission = await this.gate.admit(binding, charge, call);
    if (admission.kind === "denied") throw deniedError(admission);
    if (admission.hold.reservationId) this.remember(runId, { kind: "tool", hold: admission.hold });
    else await this.gate.settle(this.ledger, admission.hold, undefined); // nothing held: ends its span
  }

  override async handleToolEnd(output: unknown, runId: string): Promise<void> {
    const run = this.take(runId);
    if (run?.kind === "tool") await this.gate.settle(this.ledger, run.hold, output);
  }

  override async handleToolError(error: unknown, runId: string): Promise<void> {
    const run = this.take(runId);
    if (run?.kind === "tool") await this.gate.release(this.ledger, run.hold, "the tool threw", { error });
  }

  override async handleChatModelStart(
    _llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    await this.holdModelCall(runId, messages.flat(), extraParams, metadata);
  }

  override async handleLLMStart(
    _llm: Serialized,
    prompts: string[],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    await this.holdModelCall(runId, prompts, extraParams, metadata);
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    await this.settleModelCall(runId, usageOf(output));
  }

  override async handleLLMError(_error: unknown, runId: string): Promise<void> {
    await this.settleModelCall(runId, "release");
  }

  /**
   * Holds a model call on every unit it is metered in: RISK_POINTS per call, TOKENS and
   * USD_MICROCENTS by estimate. A unit with no budget is skipped; any other denial releases what was
   * already held and blocks the call.
   */
  private async holdModelCall(
    runId: string,
    prompt: readonly BaseMessage[] | readonly string[],
    extraParams: Record<string, unknown> | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    const wantsUsage = this.meterTokens || this.usdMicrocentsPerToken !== undefined;
    if (this.modelCallRiskPoints === false && !wantsUsage) return;
    const invocationParams = extraParams?.invocation_params as Record<string, unknown> | undefined;
    const usageEstimate = wantsUsage ? this.estimateUsage(prompt, invocationParams) : undefined;
    const charges: { unit: Unit; estimate: number; required: boolean }[] = [];
    if (this.modelCallRiskPoints !== false) {
      charges.push({ unit: "RISK_POINTS", estimate: this.modelCallRiskPoints, required: this.strictModelCalls });
    }
    if (this.meterTokens && usageEstimate) {
      charges.push({ unit: "TOKENS", estimate: totalTokens(usageEstimate), required: false });
    }
    if (this.usdMicrocentsPerToken !== undefined && usageEstimate) {
      const estimate = usdMicrocentsOf(usageEstimate, this.usdMicrocentsPerToken);
      charges.push({ unit: "USD_MICROCENTS", estimate, required: false });
    }
    const holds: ModelHold[] = [];
    try {
      for (const charge of charges) {
        const response = await this.ledger.reserve({
          subject: this.subject,
          action: { name: modelCallActionName, tier: "read", kind: "model.call" },
          estimate: charge.estimate,
          unit: charge.unit,
          runId: this.runIdOf(metadata),
        });
        if (response.decision !== "DENY") {
          if (response.reservationId) holds.push({ unit: charge.unit, reservationId: response.reservationId });
          continue;
        }
        // Not provisioned in this unit: this unit is simply not metered (unless strict).
        if (response.reasonCode === "BUDGET_NOT_FOUND" && !charge.required) continue;
        throw denied(response, {
          name: modelCallActionName,
          tier: "read",
          kind: "model.call",
          toolset: "",
          estimate: charge.estimate,
          unit: charge.unit,
        });
      }
    } catch (error) {
      await Promise.all(holds.map((hold) => this.settleHold(hold, "release")));
      throw error;
    }
    if (holds.length > 0) this.remember(runId, { kind: "model", holds, tokensEstimate: usageEstimate });
  }

  private estimateUsage(
    prompt: readonly BaseMessage[] | readonly string[],
    invocationParams: Record<string, unknown> | undefined,
  ): TokenUsage {
    const estimate = this.tokensEstimate;
    if (estimate === undefined) return estimateModelTokens({ messages: prompt, invocationParams });
    const tokens = typeof estimate === "number" ? estimate : estimate({ messages: prompt, invocationParams });
    if (!isAmount(tokens)) {
      throw new ValidationError([
        { code: "invalid_value", path: "tokensEstimate", message: "must give a non-negative safe integer" },
      ]);
    }
    // A flat estimate is priced as output tokens: usually the dearer side, so the hold errs high.
    return { inputTokens: 0, outputTokens: tokens };
  }

  private remember(runId: string, run: PendingRun): void {
    if (this.pending.size >= pendingCallbackRunsMax) {
      // The oldest entry lost its end event; its hold returns by itself when its TTL passes.
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
    }
    this.pending.set(runId, run);
  }

  private take(runId: string): PendingRun | undefined {
    const run = this.pending.get(runId);
    if (run) this.pending.delete(runId);
    return run;
  }

  /** Commits (with the actual usage) or releases every hold of a model call. */
  private async settleModelCall(runId: string, outcome: TokenUsage | undefined | "release"): Promise<void> {
    const run = this.take(runId);
    if (run?.kind !== "model") return;
    await Promise.all(
      run.holds.map((hold) => {
        if (outcome === "release") return this.settleHold(hold, "release");
        return this.settleHold(hold, this.actualOf(hold.unit, outcome));
      }),
    );
  }

  /** The actual to commit; undefined commits the estimate (a model that reports no usage pays its hold). */
  private actualOf(unit: Unit, usage: TokenUsage | undefined): number | undefined {
    if (!usage) return undefined;
    if (unit === "TOKENS") return totalTokens(usage);
    if (unit === "USD_MICROCENTS" && this.usdMicrocentsPerToken !== undefined) {
      return usdMicrocentsOf(usage, this.usdMicrocentsPerToken);
    }
    return undefined;
  }

  private async settleHold(hold: ModelHold, actualOrRelease: number | undefined | "release"): Promise<void> {
    try {
      if (actualOrRelease === "release") await this.ledger.release(hold.reservationId);
      else
        await this.ledger.commit(hold.reservationId, actualOrRelease === undefined ? {} : { actual: actualOrRelease });
    } catch (error) {
      this.onSettleError(error, hold.reservationId);
    }
  }

  private runIdOf(metadata: Record<string, unknown> | undefined): string | undefined {
    if (this.runId !== undefined) return this.runId;
    const threadId = metadata?.thread_id;
    return typeof threadId === "string" && threadId.length > 0 ? threadId : undefined;
  }
}

/** A tool's input as the estimate sees it: the parsed JSON object, else nothing. */
function argsOf(input: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(input);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The tool's name: core passes it as the run name; older callers put it in the serialized form. */
function toolNameOf(tool: Serialized, runName: string | undefined): string {
  const name = runName ?? tool.name ?? tool.id?.at(-1) ?? "unnamed_tool";
  return name.slice(0, 128);
}

/** A model call's DENY as the error that stops it before it runs, carrying the whole decision. */
function denied(response: DenyResponse, action: DeniedAction): BudgetExceededError {
  return new BudgetExceededError({
    decision: response.decision,
    reasonCode: response.reasonCode,
    deniedScope: response.deniedScope,
    caps: response.caps,
    balances: response.balances,
    action,
  });
}
