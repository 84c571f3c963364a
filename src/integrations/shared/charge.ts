import { ToolMessage } from "@langchain/core/messages";
import type { Subject } from "../../core/scope.js";
import type { Ledger, ReserveResponse } from "../../ledger/ledger.js";
import { type ActionSpec, actualOf, type ResolvedAction } from "./action-spec.js";

// The two halves of charging one action, shared by every integration (guard, the tool node, the
// approval fallback, the createAgent middleware): what is asked of the ledger, and what is committed.

/** The reserve / decide input for an action on a subject (the action's toolset completes the scope). */
export function reserveInputOf(subject: Subject, action: ResolvedAction, runId: string | undefined) {
  return {
    subject: { ...subject, toolset: action.toolset },
    action: { name: action.name, tier: action.tier, ...(action.kind ? { kind: action.kind } : {}) },
    estimate: action.estimate,
    unit: action.unit,
    runId,
    ...(action.ttlMs ? { ttlMs: action.ttlMs } : {}),
  };
}

export function reserveAction(
  ledger: Ledger,
  subject: Subject,
  action: ResolvedAction,
  runId: string | undefined,
  extra: { idempotencyKey?: string; actor?: string } = {},
): Promise<ReserveResponse> {
  return ledger.reserve({ ...reserveInputOf(subject, action, runId), ...extra });
}

/**
 * Commits what `spec.actual` reports. When `actual` itself is broken the work has still happened,
 * so the estimate is committed before the mistake is thrown: the spend is never lost.
 */
export async function commitActual(
  ledger: Ledger,
  reservationId: string,
  spec: ActionSpec,
  args: unknown,
  result: unknown,
  action: ResolvedAction,
  actor?: string,
): Promise<void> {
  let actual: number;
  try {
    actual = actualOf(spec, args, result, action.estimate);
  } catch (error) {
    await ledger.commit(reservationId, { actor });
    throw error;
  }
  await ledger.commit(reservationId, { actual, actor });
}

/** What a spec's `actual(args, result)` sees: a tool's ToolMessage is reduced to its artifact or content. */
export function resultOfToolOutput(output: unknown): unknown {
  if (ToolMessage.isInstance(output)) return output.artifact ?? output.content;
  return output;
}
