import type { RunnableConfig } from "@langchain/core/runnables";
import type { ReserveResponse } from "../../ledger/ledger.js";
import { BudgetExceededError } from "../errors.js";
import { type ActionSpec, type ResolvedAction, resolveAction } from "../shared/action-spec.js";
import { commitActual, reserveAction } from "../shared/charge.js";
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
