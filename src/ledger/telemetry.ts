import type { Span, Tracer } from "@opentelemetry/api";
import type { SettleOutcome } from "../store/types.js";
import type { ReserveResponse } from "./ledger.js";

/**
 * OpenTelemetry: one short span per decision and per settlement, with what an operator filters on
 * as attributes. `@opentelemetry/api` is an optional peer, imported lazily; without it, or without
 * an SDK registered by the application, every call here returns after two property reads and
 * builds nothing (the embedded ledger's reserve + commit costs a few microseconds).
 */

export const telemetryAttributes = {
  scope: "tollgate.scope",
  tool: "tollgate.tool",
  tier: "tollgate.tier",
  decision: "tollgate.decision",
  reason: "tollgate.reason",
  deniedScope: "tollgate.denied_scope",
  /** The least remaining among the checked budgets: how close the action came to a denial. */
  remaining: "tollgate.remaining",
  unit: "tollgate.unit",
  estimate: "tollgate.estimate",
  mode: "tollgate.mode",
  dryRun: "tollgate.dry_run",
  shadowDecision: "tollgate.shadow.decision",
  shadowReason: "tollgate.shadow.reason",
  disabledTiers: "tollgate.caps.disabled_tiers",
  reservationId: "tollgate.reservation_id",
  runId: "tollgate.run_id",
  charged: "tollgate.charged",
  released: "tollgate.released",
  debtAdded: "tollgate.debt_added",
  uncharged: "tollgate.uncharged",
} as const;

export const tracerName = "tollgate";

type OtelApi = typeof import("@opentelemetry/api");

/** undefined while loading, null when the package is not installed. */
let otel: OtelApi | null | undefined;
let noopProvider: unknown;
let providerSeen: unknown;
let tracer: Tracer | undefined;

const loading: Promise<void> = import("@opentelemetry/api").then(
  (api) => {
    otel = api;
    // A proxy with no delegate hands out the API's no-op provider: that is what "no SDK" looks like.
    noopProvider = new api.ProxyTracerProvider().getDelegate();
  },
  () => {
    otel = null;
  },
);

/** Resolves once the optional OpenTelemetry API has been looked for (for tests and tools). */
export function telemetryReady(): Promise<void> {
  return loading;
}

/**
 * The tracer when an SDK is registered, else undefined. Re-checked on every call (two reads), so
 * an SDK registered after the ledger was created is picked up; the tracer is cached per provider.
 */
export function activeTracer(): Tracer | undefined {
  if (!otel) return undefined;
  const global = otel.trace.getTracerProvider() as { getDelegate?: () => unknown };
  const provider = typeof global.getDelegate === "function" ? global.getDelegate() : global;
  if (provider !== providerSeen) {
    providerSeen = provider;
    const isNoop =
      provider === noopProvider ||
      (provider as { constructor?: { name?: string } })?.constructor?.name === "NoopTracerProvider";
    tracer = isNoop ? undefined : otel.trace.getTracer(tracerName);
  }
  return tracer;
}

/** The OpenTelemetry API once loaded (undefined while loading, null when not installed). */
export function loadedOtelApi(): OtelApi | null | undefined {
  return otel;
}

/** What the decision was about, as the ledger parsed it. */
export interface DecisionRequest {
  action: { name: string; tier: string; kind?: string };
  runId?: string;
}

/**
 * Records one reserve/decide answer as a span and returns the response untouched. Positional
 * arguments, so the disabled path allocates nothing.
 */
export function recordDecision(
  response: ReserveResponse,
  request: DecisionRequest,
  dryRun: boolean,
  mode: string,
): ReserveResponse {
  const active = activeTracer();
  if (!active) return response;
  const a = telemetryAttributes;
  const span = active.startSpan(dryRun ? "tollgate.decide" : "tollgate.reserve");
  span.setAttribute(a.scope, response.scope);
  span.setAttribute(a.tool, request.action.name);
  span.setAttribute(a.tier, request.action.tier);
  span.setAttribute(a.decision, response.decision);
  span.setAttribute(a.unit, response.unit);
  span.setAttribute(a.estimate, response.estimate);
  span.setAttribute(a.mode, mode);
  span.setAttribute(a.dryRun, dryRun);
  if (response.reasonCode) span.setAttribute(a.reason, response.reasonCode);
  if (response.deniedScope) span.setAttribute(a.deniedScope, response.deniedScope);
  setRemaining(span, response.balances);
  if (response.shadow) {
    span.setAttribute(a.shadowDecision, response.shadow.decision);
    if (response.shadow.reasonCode) span.setAttribute(a.shadowReason, response.shadow.reasonCode);
  }
  if (response.caps) span.setAttribute(a.disabledTiers, response.caps.disabledTiers);
  if (response.reservationId) span.setAttribute(a.reservationId, response.reservationId);
  if (request.runId) span.setAttribute(a.runId, request.runId);
  // A DENY is an answer, not a failure; only an unreachable ledger marks the span as an error.
  if (response.reasonCode === "LEDGER_UNAVAILABLE") span.setStatus({ code: 2, message: "ledger unavailable" });
  span.end();
  return response;
}

/** Records a commit or release that went through. */
export function recordSettlement(reservationId: string, outcome: SettleOutcome): void {
  if (!outcome.ok) return;
  const active = activeTracer();
  if (!active) return;
  const a = telemetryAttributes;
  const span = active.startSpan(outcome.status === "committed" ? "tollgate.commit" : "tollgate.release");
  span.setAttribute(a.reservationId, reservationId);
  const innermost = outcome.balances[outcome.balances.length - 1];
  if (innermost) span.setAttribute(a.scope, innermost.scope);
  span.setAttribute(a.charged, outcome.charged);
  span.setAttribute(a.released, outcome.released);
  span.setAttribute(a.debtAdded, outcome.debtAdded);
  span.setAttribute(a.uncharged, outcome.uncharged);
  setRemaining(span, outcome.balances);
  span.end();
}

function setRemaining(span: Span, balances: readonly { remaining: number }[]): void {
  if (balances.length === 0) return;
  let least = balances[0].remaining;
  for (const balance of balances) if (balance.remaining < least) least = balance.remaining;
  span.setAttribute(telemetryAttributes.remaining, least);
}
