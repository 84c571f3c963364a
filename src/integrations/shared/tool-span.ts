import type { ToolCall } from "@langchain/core/messages/tool";
import type { Span } from "@opentelemetry/api";
import { scopeIdOf } from "../../core/scope.js";
import type { ReserveResponse } from "../../ledger/ledger.js";
import { activeTracer, loadedOtelApi, telemetryAttributes } from "../../ledger/telemetry.js";
import type { ResolvedAction } from "./action-spec.js";
import type { TollgateDenial } from "./denial.js";

/**
 * The tool-execution span of the OpenTelemetry GenAI semantic conventions, one per gated tool
 * call, emitted by the gate for every integration: name `execute_tool {tool}`, kind INTERNAL,
 * `gen_ai.operation.name = "execute_tool"`, `gen_ai.tool.name`, `gen_ai.tool.call.id`,
 * `gen_ai.tool.type`, and `error.type` when the tool threw or answered with an error. It carries
 * tollgate's answer as `tollgate.*` attributes (decision, reason, scope, remaining, ...), and
 * `tollgate.audit.seq` when the ledger's answer names the audit event (the join key with evidence).
 *
 * It starts before the reserve, so the ledger's own `tollgate.reserve` span and the tool's work are
 * its children when the application registered a context manager. A DENY ends it at once: the call
 * was answered, not failed, so its status stays unset. Without an SDK (or without
 * `@opentelemetry/api` installed) nothing here allocates: `startToolSpan` returns undefined.
 */

export const genAiAttributes = {
  operationName: "gen_ai.operation.name",
  toolName: "gen_ai.tool.name",
  toolCallId: "gen_ai.tool.call.id",
  toolType: "gen_ai.tool.type",
  errorType: "error.type",
} as const;

export const toolSpanAttributes = {
  ...telemetryAttributes,
  /** The audit event's sequence number in its tenant's chain. */
  auditSeq: "tollgate.audit.seq",
  /** Who approved the call, when it ran on an approval. */
  approvedBy: "tollgate.approved_by",
} as const;

export const executeToolOperation = "execute_tool";

export function startToolSpan(call: Pick<ToolCall, "name" | "id">): Span | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const span = tracer.startSpan(`${executeToolOperation} ${call.name}`, { kind: 0 /* INTERNAL */ });
  span.setAttribute(genAiAttributes.operationName, executeToolOperation);
  span.setAttribute(genAiAttributes.toolName, call.name);
  span.setAttribute(genAiAttributes.toolType, "function");
  if (call.id) span.setAttribute(genAiAttributes.toolCallId, call.id);
  return span;
}

/** Runs `work` with `span` as the active span (its children nest under it), or plainly without one. */
export function withSpan<T>(span: Span | undefined, work: () => Promise<T>): Promise<T> {
  const api = span ? loadedOtelApi() : undefined;
  if (!span || !api) return work();
  return api.context.with(api.trace.setSpan(api.context.active(), span), work);
}

/** The ledger's answer on the span. */
export function recordAnswer(span: Span, response: ReserveResponse, action: ResolvedAction, runId?: string): void {
  const a = toolSpanAttributes;
  span.setAttribute(a.decision, response.decision);
  if (response.reasonCode) span.setAttribute(a.reason, response.reasonCode);
  span.setAttribute(a.scope, response.scope);
  if (response.deniedScope) span.setAttribute(a.deniedScope, response.deniedScope);
  if (response.balances.length > 0) {
    let least = response.balances[0].remaining;
    for (const balance of response.balances) if (balance.remaining < least) least = balance.remaining;
    span.setAttribute(a.remaining, least);
  }
  span.setAttribute(a.tool, action.name);
  span.setAttribute(a.tier, action.tier);
  span.setAttribute(a.unit, response.unit);
  span.setAttribute(a.estimate, response.estimate);
  if (response.caps) span.setAttribute(a.disabledTiers, response.caps.disabledTiers);
  if (response.shadow) span.setAttribute(a.shadowDecision, response.shadow.decision);
  if (response.reservationId) span.setAttribute(a.reservationId, response.reservationId);
  if (runId !== undefined) span.setAttribute(a.runId, runId);
  if (response.auditSeq !== undefined) span.setAttribute(a.auditSeq, response.auditSeq);
}

/** A denial the ledger was not asked about (not covered, not allowed here) or after it answered. */
export function recordDenial(span: Span, denial: TollgateDenial): void {
  const a = toolSpanAttributes;
  span.setAttribute(a.decision, "DENY");
  span.setAttribute(a.reason, denial.reasonCode);
  if (denial.deniedScope) span.setAttribute(a.deniedScope, denial.deniedScope);
  if (denial.runId !== undefined) span.setAttribute(a.runId, denial.runId);
  span.setAttribute(a.tool, denial.toolName);
  span.setAttribute(a.tier, denial.tier);
  span.setAttribute(a.estimate, denial.estimate);
  span.setAttribute(a.unit, denial.unit);
  if (denial.subject) {
    try {
      span.setAttribute(a.scope, scopeIdOf({ ...denial.subject, toolset: denial.toolset }));
    } catch {
      // a subject the ledger would refuse has no scope to show
    }
  }
  // An unreachable ledger is a fault, not an answer.
  if (denial.reasonCode === "LEDGER_UNAVAILABLE") {
    span.setAttribute(genAiAttributes.errorType, "LEDGER_UNAVAILABLE");
    span.setStatus({ code: 2, message: "ledger unavailable" });
  }
}

/** Ends the span: `failure` is set when the tool threw (its error) or answered with an error. */
export function endToolSpan(span: Span, failure?: { error?: unknown; message?: string }): void {
  if (failure) {
    const error = failure.error;
    const type = error instanceof Error ? error.name || "Error" : failure.error !== undefined ? "Error" : "tool_error";
    span.setAttribute(genAiAttributes.errorType, type);
    span.setStatus({ code: 2, message: failure.message ?? (error instanceof Error ? error.message : undefined) });
  }
  span.end();
}
