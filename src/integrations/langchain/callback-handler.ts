import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { ValidationError } from "../../core/errors.js";
import { type Subject, scopeIdOf } from "../../core/scope.js";
import { isTier, type Tier } from "../../core/tiers.js";
import { resolveToolRule, type ToolRule, validateToolRules } from "../../core/tool-rules.js";
import { isAmount, type Unit } from "../../core/units.js";
import type { Ledger, ReserveResponse } from "../../ledger/ledger.js";
import { BudgetExceededError, type DeniedAction } from "../errors.js";
import { isReservedCall } from "../shared/context.js";
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

/** How to charge a tool no rule matches. Fail closed: the most dangerous tier unless told otherwise. */
export interface DefaultToolCharge {
  tier: Tier;
  /** Defaults to the tier's default risk points. */
  estimate?: number;
  toolset?: string;
  actionKind?: string;
}

export interface TollgateCallbackHandlerOptions {
  ledger: Ledger;
  /** Who acts. A tool call is charged to this subject with `toolset` set from the tool's rule. */
  subject: Subject;
  /** The run for `run`-window budgets; defaults to the LangGraph thread id found in the run's metadata. */
  runId?: string;
  /** How to charge tools by name glob or tag (tools known only at run time, such as MCP tools). */
  rules?: ToolRule[];
  /** The charge for a tool no rule matches. Default: tier `execution` at its default risk points. */
  defaultTool?: DefaultToolCharge;
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
  /**
   * Called when settling a hold fails after the action ran (the hold expired, the store went away).
   * The action's result is kept: a failed settlement is never turned into a failed tool call.
   */
  onSettleError?: (error: unknown, reservationId: string) => void;
}

/** Reservations awaiting their end or error, keyed by callback run id. Bounded: holds expire by TTL anyway. */
export const pendingCallbackRunsMax = 10_000;
export const modelCallActionName = "model_call";

interface Hold {
  unit: Unit;
  reservationId: string;
}

interface PendingRun {
  holds: Hold[];
  /** Set for model calls: what to commit from the reported usage. */
  tokensEstimate?: TokenUsage;
}

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
  private readonly rules: ToolRule[];
  private readonly defaultTool: DefaultToolCharge;
  private readonly modelCallRiskPoints: number | false;
  private readonly strictModelCalls: boolean;
  private readonly meterTokens: boolean;
  private readonly tokensEstimate: TokensEstimate | undefined;
  private readonly usdMicrocentsPerToken: UsdMicrocentsPerToken | undefined;
  private readonly onSettleError: (error: unknown, reservationId: string) => void;
  private readonly pending = new Map<string, PendingRun>();

  constructor(options: TollgateCallbackHandlerOptions) {
    super({ raiseError: true });
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError(issues);
    scopeIdOf(options.subject, "subject");
    this.ledger = options.ledger;
    this.subject = options.subject;
    this.runId = options.runId;
    this.rules = validateToolRules(options.rules ?? []);
    this.defaultTool = options.defaultTool ?? { tier: "execution" };
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

  override async handleToolStart(
    tool: Serialized,
    _input: string,
    runId: string,
    _parentRunId?: string,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): Promise<void> {
    const toolName = toolNameOf(tool, runName);
    if (isReservedCall(metadata, toolName, toolCallId)) return;
    const rule = resolveToolRule(this.rules, { name: toolName, tags }, this.defaultTool);
    const action: DeniedAction = {
      name: toolName,
      tier: rule.tier,
      ...(rule.actionKind ? { kind: rule.actionKind } : {}),
      toolset: rule.toolset,
      estimate: rule.estimate,
      unit: "RISK_POINTS",
    };
    const response = await this.ledger.reserve({
      subject: { ...this.subject, toolset: action.toolset },
      action: { name: action.name, tier: action.tier, ...(action.kind ? { kind: action.kind } : {}) },
      estimate: action.estimate,
      runId: this.runIdOf(metadata),
    });
    if (response.decision === "DENY") throw denied(response, action);
    if (response.reservationId)
      this.remember(runId, { holds: [{ unit: response.unit, reservationId: response.reservationId }] });
  }

  override async handleToolEnd(_output: unknown, runId: string): Promise<void> {
    await this.settle(runId, undefined);
  }

  override async handleToolError(_error: unknown, runId: string): Promise<void> {
    await this.settle(runId, "release");
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
    await this.settle(runId, usageOf(output));
  }

  override async handleLLMError(_error: unknown, runId: string): Promise<void> {
    await this.settle(runId, "release");
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
    const holds: Hold[] = [];
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
    if (holds.length > 0) this.remember(runId, { holds, tokensEstimate: usageEstimate });
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

  /** Commits (with the actual usage for model calls) or releases every hold of the run. */
  private async settle(runId: string, outcome: TokenUsage | undefined | "release"): Promise<void> {
    const run = this.pending.get(runId);
    if (!run) return;
    this.pending.delete(runId);
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

  private async settleHold(hold: Hold, actualOrRelease: number | undefined | "release"): Promise<void> {
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

/** The tool's name: core passes it as the run name; older callers put it in the serialized form. */
function toolNameOf(tool: Serialized, runName: string | undefined): string {
  const name = runName ?? tool.name ?? tool.id?.at(-1) ?? "unnamed_tool";
  return name.slice(0, 128);
}

/** The ledger's DENY as the error that stops the call before it runs, carrying the whole decision. */
function denied(response: ReserveResponse, action: DeniedAction): BudgetExceededError {
  return new BudgetExceededError({
    decision: response.decision,
    reasonCode: response.reasonCode ?? "BUDGET_EXCEEDED",
    deniedScope: response.deniedScope,
    caps: response.caps,
    balances: response.balances,
    action,
  });
}

function warnSettleError(error: unknown, reservationId: string): void {
  const message = error instanceof Error ? error.message : String(error);
  console.warn(`tollgate: settling reservation ${reservationId} failed after the action ran: ${message}`);
}

function optionIssues(options: TollgateCallbackHandlerOptions) {
  const issues: { code: string; path: string; message: string }[] = [];
  if (!options || typeof options !== "object") {
    return [{ code: "invalid_type", path: "(options)", message: "must be an object" }];
  }
  if (!options.ledger || typeof options.ledger.reserve !== "function") {
    issues.push({ code: "invalid_type", path: "ledger", message: "must be a Ledger (createLedger())" });
  }
  if (!options.subject) issues.push({ code: "invalid_type", path: "subject", message: "is required" });
  const meter = options.meterModelCalls;
  if (meter !== undefined && meter !== false && !isAmount(meter)) {
    issues.push({ code: "invalid_value", path: "meterModelCalls", message: "must be a non-negative integer or false" });
  }
  if (options.defaultTool !== undefined && !isTier(options.defaultTool.tier)) {
    issues.push({ code: "invalid_value", path: "defaultTool.tier", message: "must be a tier" });
  }
  const estimate = options.defaultTool?.estimate;
  if (estimate !== undefined && !isAmount(estimate)) {
    issues.push({ code: "invalid_value", path: "defaultTool.estimate", message: "must be a non-negative integer" });
  }
  const tokens = options.tokensEstimate;
  if (tokens !== undefined && typeof tokens !== "function" && !isAmount(tokens)) {
    issues.push({
      code: "invalid_value",
      path: "tokensEstimate",
      message: "must be a non-negative integer or a function",
    });
  }
  return issues;
}
