import type { RunnableConfig } from "@langchain/core/runnables";
import type { Subject } from "../../core/scope.js";
import type { Ledger, ReserveResponse } from "../../ledger/ledger.js";
import { BudgetExceededError } from "../errors.js";
import { type ActionSpec, actualOf, type ResolvedAction, resolveAction } from "../shared/action-spec.js";
import { resolveBinding, type TollgateBinding } from "../shared/context.js";

export interface GuardedRunRequest<Result> {
  spec: ActionSpec;
  binding: TollgateBinding;
  toolName: string;
  args: unknown;
  config: RunnableConfig | undefined;
  /** Runs the guarded work; only called when the ledger did not deny. */
  run: () => Promise<Result>;
  /** What `spec.actual` sees as the result (a tool's ToolMessage becomes its content). */
  resultForActual?: (result: Result) => unknown;
}

/** Reserve → run → commit; release when the run throws. A DENY throws BudgetExceededError and nothing runs. */
export async function runGuarded<Result>(request: GuardedRunRequest<Result>): Promise<Result> {
  const { ledger, subject, runId } = resolveBinding(request.binding, request.config, `guard(${request.toolName})`);
  const action = resolveAction(request.spec, request.toolName, request.args);
  const response = await reserveAction(ledger, subject, action, runId);
  if (response.decision === "DENY") throw deniedError(response, action);
  const reservationId = response.reservationId;
  let settled = false;
  try {
    const result = await request.run();
    settled = true;
    if (reservationId) {
      await commitActual(
        ledger,
        reservationId,
        request.spec,
        request.args,
        request.resultForActual?.(result) ?? result,
        action,
      );
    }
    return result;
  } finally {
    // An unfinished reservation is always released: the work threw, so nothing was spent.
    if (!settled && reservationId) await ledger.release(reservationId, { reason: "the guarded call threw" });
  }
}

export function reserveAction(
  ledger: Ledger,
  subject: Subject,
  action: ResolvedAction,
  runId: string | undefined,
  extra: { idempotencyKey?: string; actor?: string } = {},
): Promise<ReserveResponse> {
  return ledger.reserve({
    subject: { ...subject, toolset: action.toolset },
    action: { name: action.name, tier: action.tier, kind: action.kind },
    estimate: action.estimate,
    unit: action.unit,
    runId,
    ttlMs: action.ttlMs,
    ...extra,
  });
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

export function deniedError(response: ReserveResponse, action: ResolvedAction): BudgetExceededError {
  return new BudgetExceededError({
    decision: response.decision,
    reasonCode: response.reasonCode ?? "BUDGET_EXCEEDED",
    deniedScope: response.deniedScope,
    caps: response.caps,
    balances: response.balances,
    action: {
      name: action.name,
      tier: action.tier,
      kind: action.kind,
      toolset: action.toolset,
      estimate: action.estimate,
      unit: action.unit,
    },
  });
}
