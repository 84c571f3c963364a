import { createHash } from "node:crypto";
import type { ReasonCode } from "../../core/decision.js";
import { IdempotencyConflictError } from "../../core/errors.js";
import { idempotencyKeyLengthMax } from "../../core/limits.js";
import { type Subject, scopeIdOf, scopeValueLengthMax } from "../../core/scope.js";
import type { Ledger, ReserveResponse } from "../../ledger/ledger.js";
import type { ResolvedAction } from "./action-spec.js";
import { reserveAction, reserveInputOf } from "./charge.js";

/**
 * How approved actions are charged — "approving an action is adding a budget".
 *
 * A denied action cannot simply be retried on its own subject: the budget that denied it would
 * deny it again. So an approval opens a *grant*: a budget on `tenant:<t>/toolset:<grant>`, and the
 * approved action is reserved against the subject `{ tenant, toolset: <grant> }`, with the approver
 * as `actor` on the reservation and the commit. Only two budgets are checked for it: the grant, and
 * the tenant's own budget if it has one — an approver can lift a toolset, agent or workspace limit
 * for one action but never the tenant's ceiling (raise that budget to go further).
 *
 * - `once`: a grant of exactly the action's estimate on a scope of its own
 *   (`approved-once.<hash of run and tool call>`), removed once the action has settled.
 * - `run`: a run-window grant on `approved-run.<toolset>`: later denials of that toolset in the
 *   same run are charged to it without asking, while it has room.
 * - `always`: a lifetime grant on `approved.<toolset>`: the same, for every run of the tenant.
 *   Revoking it is removing that budget.
 *
 * Remembered grants hold `grantAmount` (default: `rememberedCallsDefault` times the action's
 * estimate); approving again raises the grant so it holds at least that much more.
 */
export const rememberModes = ["once", "run", "always"] as const;
export type RememberMode = (typeof rememberModes)[number];

export const rememberedCallsDefault = 5;
/** Remembered grants are looked up in this order when a tool node denies a call. */
export const rememberedModes = ["run", "always"] as const;
export const rememberedApprovalActor = "tollgate.remembered-approval";

export function grantToolset(mode: RememberMode, toolset: string, onceKey: string): string {
  const name =
    mode === "once" ? `approved-once.${onceKey}` : mode === "run" ? `approved-run.${toolset}` : `approved.${toolset}`;
  return name.slice(0, scopeValueLengthMax);
}

/** A short, scope-safe key for one tool call of one run. */
export function onceKeyOf(runId: string | undefined, toolCallId: string): string {
  return createHash("sha256")
    .update(`${runId ?? ""}\u0000${toolCallId}`)
    .digest("base64url")
    .slice(0, 22);
}

export function grantSubject(subject: Subject, toolset: string): Subject {
  return { tenant: subject.tenant, toolset };
}

async function grantExists(ledger: Ledger, scope: string, unit: string): Promise<boolean> {
  const budgets = await ledger.listBudgets({ scope });
  return budgets.some((budget) => budget.scope === scope && budget.unit === unit);
}

/**
 * Tries the standing grants (run, then always) for a denied action. Holds on the first with room
 * (or, with `dryRun`, only asks); a grant that does not exist is never used, so the tenant budget
 * alone never lets a denied action through.
 */
export async function reserveOnRememberedGrant(
  ledger: Ledger,
  subject: Subject,
  action: ResolvedAction,
  runId: string | undefined,
  dryRun = false,
): Promise<{ response: ReserveResponse; action: ResolvedAction } | undefined> {
  for (const mode of rememberedModes) {
    const toolset = grantToolset(mode, action.toolset, "");
    const scope = scopeIdOf(grantSubject(subject, toolset));
    if (!(await grantExists(ledger, scope, action.unit))) continue;
    const granted = { ...action, toolset };
    const response = dryRun
      ? await ledger.decide(reserveInputOf({ tenant: subject.tenant }, granted, runId))
      : await reserveAction(ledger, { tenant: subject.tenant }, granted, runId, { actor: rememberedApprovalActor });
    if (response.decision !== "DENY") return { response, action: granted };
  }
  return undefined;
}

export interface OpenGrantRequest {
  mode: RememberMode;
  subject: Subject;
  action: ResolvedAction;
  runId: string | undefined;
  toolCallId: string;
  /** Units a remembered grant should hold beyond what it already used. */
  grantAmount?: number;
}

/** Creates or raises the grant an approval stands for; returns the action re-pointed at it. */
export async function openGrant(
  ledger: Ledger,
  request: OpenGrantRequest,
): Promise<{ scope: string; action: ResolvedAction }> {
  const { mode, subject, action, runId } = request;
  const toolset = grantToolset(mode, action.toolset, onceKeyOf(runId, request.toolCallId));
  const scope = scopeIdOf(grantSubject(subject, toolset));
  if (mode === "once") {
    await ledger.setBudget({ scope, limit: action.estimate, unit: action.unit });
  } else {
    const amount = request.grantAmount ?? action.estimate * rememberedCallsDefault;
    const [existing] = (await ledger.listBudgets({ scope })).filter(
      (budget) => budget.scope === scope && budget.unit === action.unit,
    );
    const balance = existing
      ? await ledger.getBalance({ scope, unit: action.unit, runId: mode === "run" ? runId : undefined })
      : null;
    const used = balance ? balance.allocated - balance.remaining : 0;
    const limit = Math.max(existing?.limit ?? 0, used + Math.max(amount, action.estimate));
    await ledger.setBudget({ scope, limit, unit: action.unit, window: mode === "run" ? "run" : "lifetime" });
  }
  return { scope, action: { ...action, toolset } };
}

/** One key per approved tool call of a run; hashed when long, so it fits the ledger's limit. */
export function approvalKeyOf(runId: string | undefined, toolCallId: string): string {
  const key = `tollgate.approval:${runId ?? "-"}:${toolCallId}`;
  if (key.length <= idempotencyKeyLengthMax) return key;
  return `tollgate.approval:${createHash("sha256").update(key).digest("base64url")}`;
}

export interface ApprovedChargeRequest extends OpenGrantRequest {
  /** Who approved: the actor on the reservation and, through the caller, on the commit. */
  approver: string;
}

/** How an approved action fared: it ran (the caller has settled its hold), it had run before, or no room. */
export type ApprovedCharge<T> =
  | { kind: "ran"; value: T }
  | { kind: "already-run" }
  | { kind: "denied"; reasonCode: ReasonCode; deniedScope?: string };

/**
 * Charges an approved action to the grant its approval stands for, and runs it there.
 *
 * Opens (or raises) the grant, reserves the action on it with the approver as `actor` and an
 * idempotency key of the run and tool call (`approvalKeyOf`), then calls `run` with the action
 * re-pointed at the grant and the reservation id; `run` settles that hold (commit with the
 * approver as actor once the tool ran, release when it threw). A replayed resume (time travel, a
 * retried node or tool call) finds the first reservation and gets `already-run`: the action never
 * runs twice. A one-off grant is removed once the action settled (or never started).
 */
export async function runOnApprovalGrant<T>(
  ledger: Ledger,
  request: ApprovedChargeRequest,
  run: (action: ResolvedAction, reservationId: string | undefined) => Promise<T>,
): Promise<ApprovedCharge<T>> {
  const { subject, runId, toolCallId, approver } = request;
  const grant = await openGrant(ledger, request);
  try {
    let response: ReserveResponse;
    try {
      response = await reserveAction(ledger, { tenant: subject.tenant }, grant.action, runId, {
        idempotencyKey: approvalKeyOf(runId, toolCallId),
        actor: approver,
      });
    } catch (error) {
      // Same key, different payload: this call was approved and charged before (another edit, another approver).
      if (error instanceof IdempotencyConflictError) return { kind: "already-run" };
      throw error;
    }
    if (response.replayed) return { kind: "already-run" };
    if (response.decision === "DENY") {
      return {
        kind: "denied",
        reasonCode: response.reasonCode,
        ...(response.deniedScope ? { deniedScope: response.deniedScope } : {}),
      };
    }
    return { kind: "ran", value: await run(grant.action, response.reservationId) };
  } finally {
    if (request.mode === "once") await ledger.removeBudget({ scope: grant.scope, unit: request.action.unit });
  }
}
