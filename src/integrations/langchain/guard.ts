import type { RunnableConfig } from "@langchain/core/runnables";
import { ValidationError } from "../../core/errors.js";
import type { Ledger } from "../../ledger/ledger.js";
import { type ActionSpec, validateActionSpec } from "../shared/action-spec.js";
import type { SubjectSource } from "../shared/context.js";
import { currentRunConfig } from "../shared/run-config.js";
import { runGuarded } from "./guarded-run.js";

/**
 * How a guarded function is charged. The ledger and subject may be left out: they are then read
 * from the run (`context.tollgate` / `configurable.tollgate`), so one definition serves every tenant.
 */
// biome-ignore lint/suspicious/noExplicitAny: arguments of an arbitrary function
export interface GuardSpec<Args = any, Result = unknown> extends ActionSpec<Args, Result> {
  toolset: string;
  ledger?: Ledger;
  subject?: SubjectSource;
  /** Defaults to the LangGraph thread id of the run. */
  runId?: string;
}

export type GuardedFunction<Args, Result> = (args: Args, config?: RunnableConfig) => Promise<Result>;

/**
 * Wraps a function so every call first reserves from the budgets, then runs, then commits the
 * actual (or the estimate); a throw releases the hold. On DENY it throws BudgetExceededError and
 * the function never runs. The config may be passed as the second argument or is taken from the
 * LangChain run the call happens in.
 */
export function guard<Args, Result>(
  spec: GuardSpec<Args, Result>,
  fn: (args: Args, config?: RunnableConfig) => Result | Promise<Result>,
): GuardedFunction<Args, Result> {
  validateActionSpec(spec, "");
  if (spec.toolset === undefined) {
    throw new ValidationError([{ code: "invalid_type", path: "toolset", message: "is required" }]);
  }
  if (typeof fn !== "function") {
    throw new ValidationError([{ code: "invalid_type", path: "fn", message: "must be a function" }]);
  }
  const name = spec.actionName ?? (fn.name || spec.toolset);
  const binding = { ledger: spec.ledger, subject: spec.subject, runId: spec.runId };
  return async function guardedCall(args: Args, config?: RunnableConfig): Promise<Result> {
    return runGuarded({
      spec,
      binding,
      toolName: name,
      args,
      config: currentRunConfig(config),
      run: async () => fn(args, config),
    });
  };
}
