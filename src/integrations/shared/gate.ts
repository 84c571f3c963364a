import { ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { Span } from "@opentelemetry/api";
import { z } from "zod";
import { ValidationError } from "../../core/errors.js";
import { actionNameLengthMax, runIdLengthMax } from "../../core/limits.js";
import { parseInput, subjectSchema } from "../../core/schemas.js";
import { type Subject, scopeValueIssue } from "../../core/scope.js";
import { riskPointsByTierDefault, TIERS, type Tier } from "../../core/tiers.js";
import { annotationsOfMetadata, chargeOfAnnotations, serverOfToolName } from "../../core/tool-annotations.js";
import { resolveToolRule, type ToolDescriptor, type ToolRule, validateToolRules } from "../../core/tool-rules.js";
import { isAmount } from "../../core/units.js";
import type { DenyResponse, Ledger, ReserveResponse } from "../../ledger/ledger.js";
import {
  type ActionSpec,
  actionSpecOf,
  actualOf,
  type ResolvedAction,
  resolveAction,
  validateActionSpec,
} from "./action-spec.js";
import { rememberedApprovalActor, reserveOnRememberedGrant } from "./approval-grants.js";
import { reserveAction, reserveInputOf, resultOfToolOutput } from "./charge.js";
import { type ResolvedBinding, resolveBinding, type TollgateBinding } from "./context.js";
import { type DenialStatus, newDenial, type TollgateDenial } from "./denial.js";
import { endToolSpan, recordAnswer, recordDenial, startToolSpan, toolSpanAttributes, withSpan } from "./tool-span.js";

/**
 * The one gate every integration goes through (guard/guardTool, the callback handler, the tool
 * node, the approval fallback, the createAgent middleware). It does, once and the same way for all:
 *
 * - the binding: ledger, subject and run id from the options, else the run config, else the denial
 *   being approved;
 * - the charge, from the tool object: per-tool specs → the guardTool's own spec → rules (the
 *   options', else the ledger's policy's) → MCP annotations → an explicit `defaultTool`; a tool
 *   nothing names is denied with TOOL_NOT_COVERED;
 * - reserve, with standing approval grants; the dry run that decides which tools are offered;
 * - settle exactly once: a throw or an error ToolMessage releases; a result commits `actual()` (an
 *   `actual()` that throws commits the estimate, then its error surfaces); a settle fault after
 *   the tool ran never discards the result: it goes to `onSettleError` (the hold left behind
 *   expires on its own, and the ledger audits that);
 * - on DENY, one denial record, worded by `explainDenial`;
 * - one OpenTelemetry `execute_tool` span per call (GenAI semantic conventions, tool-span.ts), from
 *   before the reserve until the hold is settled or the call denied.
 */

/** How to charge a tool nothing else names; setting it opts out of TOOL_NOT_COVERED. */
export interface DefaultToolCharge {
  tier: Tier;
  /** Defaults to the tier's default risk points. */
  estimate?: number;
  toolset?: string;
  actionKind?: string;
}

/** The options every integration shares, with the same names everywhere. */
export interface GateOptions extends TollgateBinding {
  /** Per-tool charges by tool name; they win over a guardTool's own spec and over rules. */
  toolSpecs?: Record<string, ActionSpec>;
  /** Charges by name glob, tag, MCP server or MCP annotations. Default: the ledger's policy's tool rules. */
  rules?: readonly ToolRule[];
  /** The charge for a tool nothing names. Unset: such a tool is denied with TOOL_NOT_COVERED. */
  defaultTool?: DefaultToolCharge;
  /** Called when settling fails after the action ran; the action's result is kept. Default: a warning. */
  onSettleError?: (error: unknown, reservationId: string) => void;
}

export const toolSpecsMax = 1_000;

const noRules: readonly ToolRule[] = Object.freeze([]);

type CommitOptions = NonNullable<Parameters<Ledger["commit"]>[1]>;

const settledPromise: Promise<void> = Promise.resolve();

/** A tool as far as charging cares: tools discovered at run time may have nothing but a name. */
export interface ChargeableTool {
  name: string;
  tags?: readonly string[];
  metadata?: Record<string, unknown>;
}

/** Where a tool's charge came from: for `tollgate tools check` and for messages. */
export type ChargeSource = "toolSpecs" | "guardTool" | "rule" | "annotations" | "defaultTool";

export type ToolCharge =
  | { covered: true; source: ChargeSource; spec: ActionSpec; ruleIndex?: number }
  | { covered: false };

/** A hold to settle once the action ran. */
export interface Hold {
  reservationId: string | undefined;
  spec: ActionSpec;
  action: ResolvedAction;
  args: unknown;
  /** The audit actor of the commit (an approver, or the remembered-approval actor). */
  actor?: string;
  /** The call's execute_tool span while it is open (only with an OpenTelemetry SDK registered). */
  span?: Span;
  /** The tool call, for a span started when the hold was made elsewhere (an approval). */
  call?: Pick<ToolCall, "name" | "id">;
}

export type Admission =
  | { kind: "allowed"; hold: Hold; response: ReserveResponse }
  | { kind: "denied"; denial: TollgateDenial; response?: DenyResponse; action?: ResolvedAction };

/** The default `onSettleError` of every adapter: a warning; the action's result is kept. */
export function warnSettleError(error: unknown, reservationId: string): void {
  const message = error instanceof Error ? error.message : String(error);
  console.warn(`tollgate: settling reservation ${reservationId} failed after the action ran: ${message}`);
}

export class Gate {
  readonly toolSpecs: Readonly<Record<string, ActionSpec>> | undefined;
  readonly rules: readonly ToolRule[] | undefined;
  readonly defaultTool: DefaultToolCharge | undefined;
  private readonly binding: TollgateBinding;
  private readonly onSettleError: (error: unknown, reservationId: string) => void;
  /** Who the gate works for, in messages: `PermissionedToolNode`, `guard(send_email)`. */
  readonly where: string;
  /** Each tool object's charge under the rules it was resolved with. */
  private readonly charges = new WeakMap<object, { rules: readonly ToolRule[]; charge: ToolCharge }>();
  /** The dry run's action for each charge (a charge is one tool's, so its name is fixed). */
  private readonly probes = new WeakMap<ToolCharge, ResolvedAction>();

  /** Takes options parsed by `parseAdapterOptions` (or built by the library) and copies what it keeps. */
  constructor(options: GateOptions, where: string) {
    this.where = where;
    this.binding = { ledger: options.ledger, subject: options.subject, runId: options.runId };
    if (options.toolSpecs) {
      const copy: Record<string, ActionSpec> = Object.create(null);
      for (const [name, spec] of Object.entries(options.toolSpecs)) copy[name] = { ...spec };
      this.toolSpecs = copy;
    }
    this.rules = options.rules ? validateToolRules(options.rules) : undefined;
    this.defaultTool = options.defaultTool ? { ...options.defaultTool } : undefined;
    this.onSettleError = options.onSettleError ?? warnSettleError;
  }

  /**
   * Ledger, subject and run id: the options, else the run config, else what a denial recorded
   * (the approval fallback resumes with the denial's subject and run id).
   */
  bind(config: RunnableConfig | undefined, recorded?: { subject?: Subject; runId?: string }): ResolvedBinding {
    if (recorded?.subject && this.binding.subject === undefined) {
      const fromRun = resolveBinding({ ...this.binding, subject: recorded.subject }, config, this.where);
      return recorded.runId !== undefined && this.binding.runId === undefined
        ? { ...fromRun, runId: recorded.runId }
        : fromRun;
    }
    return resolveBinding(this.binding, config, this.where);
  }

  /**
   * How a tool is charged, or `covered: false` when nothing names it. `server`: the MCP server the
   * tool comes from when the caller knows it (`tollgate tools check` reads it from the MCP config);
   * otherwise it is read from a `server__` name prefix.
   */
  chargeOf(tool: ChargeableTool | undefined, name: string, ledger: Ledger, server?: string): ToolCharge {
    const rules = this.rules ?? ledger.policy?.toolRules ?? noRules;
    // A tool object is read once per rule set: its charge cannot change between calls, and a tool
    // object that changes its tags or metadata afterwards is not read again.
    const cacheable = tool !== undefined && typeof tool === "object" && server === undefined && tool.name === name;
    if (cacheable) {
      const known = this.charges.get(tool);
      if (known && known.rules === rules) return known.charge;
    }
    const charge = this.resolveCharge(tool, name, rules, server);
    if (cacheable) this.charges.set(tool, { rules, charge });
    return charge;
  }

  private resolveCharge(
    tool: ChargeableTool | undefined,
    name: string,
    rules: readonly ToolRule[],
    server: string | undefined,
  ): ToolCharge {
    const explicit = this.toolSpecs?.[name];
    if (explicit) return { covered: true, source: "toolSpecs", spec: explicit };
    const own = actionSpecOf(tool);
    if (own) return { covered: true, source: "guardTool", spec: own };
    const descriptor = descriptorOf(tool, name, server);
    const rule = resolveToolRule(rules, descriptor);
    if (rule) {
      const spec: ActionSpec = { tier: rule.tier, estimate: rule.estimate, toolset: rule.toolset };
      if (rule.actionKind) spec.actionKind = rule.actionKind;
      return { covered: true, source: "rule", spec, ruleIndex: rule.ruleIndex };
    }
    const annotated = chargeOfAnnotations(descriptor.annotations);
    if (annotated) return { covered: true, source: "annotations", spec: annotated };
    if (this.defaultTool) {
      const spec: ActionSpec = {
        tier: this.defaultTool.tier,
        estimate: this.defaultTool.estimate ?? riskPointsByTierDefault[this.defaultTool.tier],
      };
      if (this.defaultTool.toolset) spec.toolset = this.defaultTool.toolset;
      if (this.defaultTool.actionKind) spec.actionKind = this.defaultTool.actionKind;
      return { covered: true, source: "defaultTool", spec };
    }
    return { covered: false };
  }

  /**
   * Reserves one call: on the subject's own budgets, else on a standing approval grant (run, then
   * always); a store that is down is never asked for grants. Never throws a DENY.
   */
  admit(binding: ResolvedBinding, charge: ToolCharge, call: ToolCall): Promise<Admission> {
    // Not async: one promise layer less per call; a throw still arrives as a rejection.
    try {
      if (!charge.covered) {
        return Promise.resolve({ kind: "denied", denial: this.refuse(binding, call, undefined, "TOOL_NOT_COVERED") });
      }
      return this.admitAction(binding, charge.spec, resolveAction(charge.spec, call.name, call.args), call);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `admit` for an action already resolved (guard, an approval that re-points the action at a grant). */
  async admitAction(
    binding: ResolvedBinding,
    spec: ActionSpec,
    action: ResolvedAction,
    call: ToolCall,
  ): Promise<Admission> {
    const span = startToolSpan(call);
    const response = await reserveInSpan(binding, action, span);
    return response.decision !== "DENY"
      ? allowed(spec, action, call, response, span, binding.runId)
      : await this.afterDeny(binding, spec, action, call, response, span);
  }

  /**
   * The whole gated call in one step, for the adapters' hot path: reserve, run what is allowed,
   * settle once: `admitAction`, then the run and settle `runHeld` does.
   * `onAdmission` sees every answer (the tool node collects caps from it); `onDeny` answers a
   * denied call instead of running it.
   */
  async runAction<T>(
    binding: ResolvedBinding,
    spec: ActionSpec,
    action: ResolvedAction,
    call: ToolCall,
    run: () => Promise<T>,
    onDeny: (admission: Extract<Admission, { kind: "denied" }>) => T | Promise<T>,
    onAdmission?: (admission: Admission) => void,
  ): Promise<T> {
    // admitAction's steps written out: with LangChain's AsyncLocalStorage active every promise
    // runs Node's promise hooks, so an async layer less per call is measurable.
    const span = startToolSpan(call);
    const response = await reserveInSpan(binding, action, span);
    const admission =
      response.decision !== "DENY"
        ? allowed(spec, action, call, response, span, binding.runId)
        : await this.afterDeny(binding, spec, action, call, response, span);
    onAdmission?.(admission);
    if (admission.kind === "denied") return await onDeny(admission);
    return this.runAndSettle(binding.ledger, admission.hold, run);
  }

  /**
   * Runs a held action and settles its hold exactly once: a throw releases (and rethrows), an error
   * ToolMessage releases, anything else commits what `actual()` reports. The commit is awaited here
   * rather than through settle(): one promise less per call.
   */
  private async runAndSettle<T>(ledger: Ledger, hold: Hold, run: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = hold.span ? await withSpan(hold.span, run) : await run();
    } catch (error) {
      await this.release(ledger, hold, "the tool threw", { error });
      throw error;
    }
    const commit = this.commitOf(hold, result);
    if (!commit) {
      await this.settle(ledger, hold, result);
      return result;
    }
    try {
      await commitHeld(ledger, hold, commit.input);
    } catch (error) {
      this.onSettleError(error, hold.reservationId as string);
    }
    this.afterSettle(hold, commit.actualError);
    return result;
  }

  /** After a DENY: a standing approval grant (run, then always) may still allow it; else the denial. */
  private async afterDeny(
    binding: ResolvedBinding,
    spec: ActionSpec,
    action: ResolvedAction,
    call: ToolCall,
    response: DenyResponse,
    span: Span | undefined,
  ): Promise<Admission> {
    const { ledger, subject, runId } = binding;
    if (response.reasonCode !== "LEDGER_UNAVAILABLE") {
      const granted = await withSpan(span, () => reserveOnRememberedGrant(ledger, subject, action, runId));
      if (granted) {
        const admission = allowed(spec, granted.action, call, granted.response, span, runId);
        admission.hold.actor = rememberedApprovalActor;
        span?.setAttribute(toolSpanAttributes.approvedBy, rememberedApprovalActor);
        return admission;
      }
    }
    const denial = this.deny(binding, call, action, response.reasonCode, response.deniedScope);
    if (span) {
      recordDenial(span, denial);
      recordAnswer(span, response, action, runId); // the ledger's scope and balances win
      endToolSpan(span);
    }
    return { kind: "denied", denial, response, action };
  }

  /**
   * The dry run behind offering a tool to the model: the same charge, the same grants, nothing
   * held. An estimate that depends on the arguments is taken at the smallest sensible call.
   */
  wouldAdmit(binding: ResolvedBinding, tool: ChargeableTool): Promise<ReserveResponse | "TOOL_NOT_COVERED"> {
    // Not async: the ledger's answer is passed on by one `then` (the middleware asks this for every
    // offered tool before every model call); a throw still arrives as a rejection.
    try {
      const charge = this.chargeOf(tool, tool.name, binding.ledger);
      if (!charge.covered) return Promise.resolve("TOOL_NOT_COVERED");
      const action = this.probeOf(charge, tool.name);
      const { ledger, subject, runId } = binding;
      return ledger.decide(reserveInputOf(subject, action, runId)).then((response) => {
        if (response.decision !== "DENY" || response.reasonCode === "LEDGER_UNAVAILABLE") return response;
        return reserveOnRememberedGrant(ledger, subject, action, runId, true).then(
          (granted) => granted?.response ?? response,
        );
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The dry run's action for a covered charge, made once per charge. */
  private probeOf(charge: Extract<ToolCharge, { covered: true }>, name: string): ResolvedAction {
    let action = this.probes.get(charge);
    if (!action) {
      action = {
        ...resolveAction({ ...charge.spec, estimate: 0 }, name, {}),
        estimate: probeEstimate(charge.spec),
      };
      this.probes.set(charge, action);
    }
    return action;
  }

  /** One denial record, with the binding it was made under (an approval resumes with it). */
  deny(
    binding: ResolvedBinding | undefined,
    call: ToolCall,
    action: ResolvedAction | undefined,
    reasonCode: TollgateDenial["reasonCode"],
    deniedScope?: string,
    status: DenialStatus = "pending",
  ): TollgateDenial {
    const denial = newDenial(call, action, reasonCode, deniedScope, status);
    if (binding) {
      denial.subject = { ...binding.subject };
      if (binding.runId !== undefined) denial.runId = binding.runId;
    }
    if (reasonCode === "TOOL_NOT_COVERED") {
      denial.detail = "no tool spec, guardTool spec, rule or MCP annotation names this tool";
    }
    return denial;
  }

  /**
   * A denial decided here without asking the ledger (not covered, not allowed in this step): the
   * record, and its execute_tool span.
   */
  refuse(
    binding: ResolvedBinding | undefined,
    call: ToolCall,
    action: ResolvedAction | undefined,
    reasonCode: TollgateDenial["reasonCode"],
    detail?: string,
  ): TollgateDenial {
    const denial = this.deny(binding, call, action, reasonCode);
    if (detail !== undefined) denial.detail = detail;
    const span = startToolSpan(call);
    if (span) {
      recordDenial(span, denial);
      endToolSpan(span);
    }
    return denial;
  }

  /**
   * Runs the held action and settles its hold exactly once: a throw releases (and rethrows), an
   * error ToolMessage releases, anything else commits what `actual()` reports.
   */
  async runHeld<T>(ledger: Ledger, hold: Hold, run: () => Promise<T>): Promise<T> {
    // A hold made outside admit (an approval) gets its span here.
    if (!hold.span && hold.call) startHeldSpan(hold, hold.call);
    return this.runAndSettle(ledger, hold, run);
  }

  /**
   * Settles after the action returned: an error ToolMessage releases, a result commits. Not async:
   * the commit's own promise is the only one made, and a broken `actual()` surfaces as a rejection
   * once the estimate is committed.
   */
  settle(ledger: Ledger, hold: Hold, result: unknown): Promise<void> {
    if (ToolMessage.isInstance(result) && result.status === "error") {
      return this.release(ledger, hold, "the tool answered with an error", {
        message: "the tool answered with an error",
      });
    }
    const reservationId = hold.reservationId;
    if (!reservationId) {
      this.endSpan(hold);
      return settledPromise;
    }
    const { input, actualError } = this.commitOf(hold, result) as NonNullable<ReturnType<Gate["commitOf"]>>;
    const span = hold.span;
    let committed: Promise<unknown>;
    try {
      committed = span
        ? withSpan(span, () => ledger.commit(reservationId, input))
        : ledger.commit(reservationId, input);
    } catch (error) {
      committed = Promise.reject(error);
    }
    return committed.then(
      () => this.afterSettle(hold, actualError),
      (error: unknown) => {
        this.onSettleError(error, reservationId);
        this.afterSettle(hold, actualError);
      },
    );
  }

  /**
   * What committing a hold after `result` sends (the actual, the approver), and the error of a
   * broken `actual()` to surface once the estimate is committed; undefined when the result is not
   * committed (an error ToolMessage releases) or nothing was held.
   */
  private commitOf(hold: Hold, result: unknown): { input: CommitOptions; actualError: unknown } | undefined {
    if (!hold.reservationId || (ToolMessage.isInstance(result) && result.status === "error")) return undefined;
    const input: CommitOptions = {};
    let actualError: unknown;
    try {
      input.actual = hold.spec.actual
        ? actualOf(hold.spec, hold.args, resultOfToolOutput(result), hold.action.estimate)
        : hold.action.estimate;
    } catch (error) {
      // The work happened: the estimate is committed, then the broken `actual()` surfaces.
      actualError = error;
    }
    if (hold.actor) input.actor = hold.actor;
    return { input, actualError };
  }

  private afterSettle(hold: Hold, actualError: unknown): void {
    this.endSpan(hold);
    if (actualError !== undefined) throw actualError;
  }

  /** Releases the hold; `failure` says how the call failed, for its span. */
  async release(
    ledger: Ledger,
    hold: Hold,
    reason: string,
    failure: { error?: unknown; message?: string } = { message: reason },
  ): Promise<void> {
    if (hold.reservationId) {
      const reservationId = hold.reservationId;
      try {
        await (hold.span
          ? withSpan(hold.span, () => ledger.release(reservationId, { reason }))
          : ledger.release(reservationId, { reason }));
      } catch (error) {
        this.onSettleError(error, reservationId);
      }
    }
    this.endSpan(hold, failure);
  }

  /** Ends the call's span once, however many ways the hold is settled. */
  private endSpan(hold: Hold, failure?: { error?: unknown; message?: string }): void {
    const span = hold.span;
    if (!span) return;
    hold.span = undefined;
    endToolSpan(span, failure);
  }
}

/** The call's reserve, inside its span when there is one (without an SDK the hot path takes no closure for one). */
function reserveInSpan(
  binding: ResolvedBinding,
  action: ResolvedAction,
  span: Span | undefined,
): Promise<ReserveResponse> {
  return span
    ? withSpan(span, () => reserveAction(binding.ledger, binding.subject, action, binding.runId))
    : reserveAction(binding.ledger, binding.subject, action, binding.runId);
}

/** Commits a hold that has a reservation, inside its span when there is one. */
function commitHeld(ledger: Ledger, hold: Hold, input: CommitOptions): Promise<unknown> {
  const reservationId = hold.reservationId as string;
  return hold.span
    ? withSpan(hold.span, () => ledger.commit(reservationId, input))
    : ledger.commit(reservationId, input);
}

/** An allowed call's admission: the hold to settle, with its span once the answer is on it. */
function allowed(
  spec: ActionSpec,
  action: ResolvedAction,
  call: ToolCall,
  response: ReserveResponse,
  span: Span | undefined,
  runId: string | undefined,
): Extract<Admission, { kind: "allowed" }> {
  const hold: Hold = { reservationId: response.reservationId, spec, action, args: call.args };
  if (span) {
    recordAnswer(span, response, action, runId);
    hold.span = span;
  }
  return { kind: "allowed", hold, response };
}

/** The execute_tool span of a hold made outside admit (an approval), when an SDK is registered. */
function startHeldSpan(hold: Hold, call: Pick<ToolCall, "name" | "id">): void {
  const span = startToolSpan(call);
  if (!span) return;
  span.setAttribute(toolSpanAttributes.decision, "ALLOW");
  span.setAttribute(toolSpanAttributes.tool, hold.action.name);
  span.setAttribute(toolSpanAttributes.tier, hold.action.tier);
  span.setAttribute(toolSpanAttributes.estimate, hold.action.estimate);
  if (hold.reservationId) span.setAttribute(toolSpanAttributes.reservationId, hold.reservationId);
  if (hold.actor) span.setAttribute(toolSpanAttributes.approvedBy, hold.actor);
  hold.span = span;
}

/** The smallest sensible estimate for a tool before its arguments are known (at least one unit). */
export function probeEstimate(spec: ActionSpec): number {
  if (typeof spec.estimate !== "function") return spec.estimate ?? riskPointsByTierDefault[spec.tier];
  try {
    const value = spec.estimate({});
    return isAmount(value) ? Math.max(1, value) : riskPointsByTierDefault[spec.tier];
  } catch {
    return riskPointsByTierDefault[spec.tier];
  }
}

/** Name, tags, MCP server (given, else the name's `server__` prefix) and annotations of a tool object, read once. */
export function descriptorOf(tool: ChargeableTool | undefined, name: string, knownServer?: string): ToolDescriptor {
  const descriptor: ToolDescriptor = { name };
  const tags = tool?.tags;
  if (Array.isArray(tags)) descriptor.tags = tags.filter((tag): tag is string => typeof tag === "string");
  const server = knownServer ?? serverOfToolName(name);
  if (server) descriptor.server = server;
  const annotations = annotationsOfMetadata(tool?.metadata);
  if (annotations) descriptor.annotations = annotations;
  return descriptor;
}

/** A function-valued option (its type is the caller's promise; only "is a function" can be checked). */
export function functionSchema<F>() {
  return z.custom<F>((value) => typeof value === "function", "must be a function");
}

/** Adds the issues a hand-written validator found to zod's, under the value's path. */
function refineWith(check: (value: never) => void) {
  return (value: unknown, ctx: z.RefinementCtx) => {
    try {
      check(value as never);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      for (const issue of error.issues) {
        ctx.addIssue({ code: "custom", message: issue.message, path: issue.path ? issue.path.split(".") : [] });
      }
    }
  };
}

const scopeValue = z.string().superRefine((value, ctx) => {
  const issue = scopeValueIssue(value, "");
  if (issue) ctx.addIssue({ code: "custom", message: issue.message });
});

/** The options every integration shares: one schema, extended by each adapter with its own keys. */
export const gateOptionsShape = {
  ledger: z
    .custom<Ledger>(
      (value) => typeof value === "object" && value !== null && typeof (value as Ledger).reserve === "function",
      "must be a Ledger (createLedger())",
    )
    .optional(),
  subject: z
    .union([functionSchema<(config: RunnableConfig | undefined) => Subject>(), subjectSchema], {
      error: "must be a subject or a function of the config",
    })
    .optional(),
  runId: z.string().min(1).max(runIdLengthMax).optional(),
  toolSpecs: z
    .record(
      z.string().min(1).max(actionNameLengthMax),
      z.custom<ActionSpec>().superRefine(refineWith((spec: ActionSpec) => validateActionSpec(spec, ""))),
    )
    .refine((specs) => Object.keys(specs).length <= toolSpecsMax, `at most ${toolSpecsMax} tools`)
    .optional(),
  rules: z
    .array(z.custom<ToolRule>())
    .superRefine(refineWith((rules: ToolRule[]) => validateToolRules(rules, "")))
    .optional(),
  defaultTool: z
    .strictObject({
      tier: z.enum(TIERS, { error: "must be a tier" }),
      estimate: z.number().refine(isAmount, "must be a non-negative safe integer").optional(),
      toolset: scopeValue.optional(),
      actionKind: z.string().min(1).max(actionNameLengthMax).optional(),
    })
    .optional(),
  onSettleError: functionSchema<(error: unknown, reservationId: string) => void>().optional(),
};

/** An adapter's options schema: the gate's keys and its own, strict (a misspelt option is an error). */
export function adapterOptionsSchema<Shape extends z.ZodRawShape>(own: Shape) {
  return z.strictObject({ ...gateOptionsShape, ...own });
}

/** Parses an adapter's options once: the copy is what the adapter keeps; the caller's object is not read again. */
export function parseAdapterOptions<Schema extends z.ZodType>(schema: Schema, options: unknown): z.output<Schema> {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ValidationError([{ code: "invalid_type", path: "options", message: "must be an object" }]);
  }
  return parseInput(schema, options);
}
