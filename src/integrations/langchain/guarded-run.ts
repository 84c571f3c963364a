import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ValidationError } from "../../core/errors.js";
import type { Ledger } from "../../ledger/ledger.js";
import { BudgetExceededError } from "../errors.js";
import { type ActionSpec, resolveAction, validateActionSpec } from "../shared/action-spec.js";
import type { SubjectSource } from "../shared/context.js";
import type { TollgateDenial } from "../shared/denial.js";
import { type Admission, adapterOptionsSchema, Gate, type GateOptions, parseAdapterOptions } from "../shared/gate.js";

/** A spec with where to charge it: guard() and guardTool() take one. */
export interface BoundSpec extends ActionSpec {
  ledger?: Ledger;
  subject?: SubjectSource;
  runId?: string;
  /** Called when settling fails after the call ran; the call's result is kept. Default: a warning. */
  onSettleError?: GateOptions["onSettleError"];
}

const bindingSchema = adapterOptionsSchema({});

/** Splits a guard spec into its charge (validated, copied) and a gate for its binding. */
export function gateOfSpec(spec: BoundSpec, where: string): { gate: Gate; spec: ActionSpec } {
  if (spec === null || typeof spec !== "object") {
    throw new ValidationError([{ code: "invalid_type", path: "spec", message: "must be an object" }]);
  }
  const { ledger, subject, runId, onSettleError, ...charge } = spec;
  validateActionSpec(charge, "");
  const binding = parseAdapterOptions(bindingSchema, {
    ...(ledger !== undefined ? { ledger } : {}),
    ...(subject !== undefined ? { subject } : {}),
    ...(runId !== undefined ? { runId } : {}),
    ...(onSettleError !== undefined ? { onSettleError } : {}),
  });
  return { gate: new Gate(binding, where), spec: { ...charge } };
}

export interface GuardedRunRequest<Result> {
  gate: Gate;
  spec: ActionSpec;
  toolName: string;
  /** The call as the ledger and the denial record see it. */
  call: ToolCall;
  config: RunnableConfig | undefined;
  /** Runs the guarded work; only called when the ledger did not deny. */
  run: () => Promise<Result>;
  /** What a denial becomes; default: BudgetExceededError is thrown. */
  onDeny?: (denial: TollgateDenial, admission: Extract<Admission, { kind: "denied" }>) => Result;
}

/** Reserve → run → settle through the gate. A DENY throws BudgetExceededError (or `onDeny`) and nothing runs. */
export async function runGuarded<Result>(request: GuardedRunRequest<Result>): Promise<Result> {
  const { gate, spec, call } = request;
  const binding = gate.bind(request.config);
  const action = resolveAction(spec, request.toolName, call.args);
  const admission = await gate.admitAction(binding, spec, action, call);
  if (admission.kind === "denied") {
    if (request.onDeny) return request.onDeny(admission.denial, admission);
    throw deniedError(admission);
  }
  return gate.runHeld(binding.ledger, admission.hold, request.run);
}

/** The DENY as the error that stops the call before it runs, carrying the whole decision. */
export function deniedError(admission: Extract<Admission, { kind: "denied" }>): BudgetExceededError {
  const { denial, response, action } = admission;
  return new BudgetExceededError({
    decision: "DENY",
    reasonCode: denial.reasonCode,
    deniedScope: denial.deniedScope,
    caps: response?.caps,
    balances: response?.balances ?? [],
    action: {
      name: action?.name ?? denial.toolName,
      tier: denial.tier,
      ...(action?.kind ? { kind: action.kind } : {}),
      toolset: denial.toolset,
      estimate: denial.estimate,
      unit: denial.unit,
    },
  });
}
