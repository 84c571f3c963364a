import { createLedger } from "../../src/ledger/create-ledger.js";
import type { Ledger, LedgerMode } from "../../src/ledger/ledger.js";
import type { AuditEvent, BudgetDefinition } from "../../src/store/types.js";

export const perTenantPolicyFile = "examples/policies/per-tenant.policy.yaml";
export const sampleStartMs = Date.UTC(2026, 10, 24, 9, 0, 0);
const stepMs = 30_000;

/**
 * A run of the seed's per-tenant example, on a fake clock: the enterprise tenant mails and
 * deploys within its budgets; the starter tenant mails until narrowing cuts external effects,
 * cannot deploy at all, and one email is approved by a person on a grant budget.
 */
export async function sampleRun(mode: LedgerMode = "enforce"): Promise<{
  events: AuditEvent[];
  budgets: BudgetDefinition[];
  ledger: Ledger;
}> {
  let nowMs = sampleStartMs;
  const ledger = createLedger({ policy: perTenantPolicyFile, mode, clock: () => nowMs, sweepIntervalMs: 0 });
  const tick = () => {
    nowMs += stepMs;
  };
  const email = { name: "send_email", tier: "write-external" as const };
  const deploy = { name: "deploy_service", tier: "execution" as const };
  const enterprise = (toolset: string) => ({ tenant: "enterprise-corp", toolset });
  const starter = (toolset: string) => ({ tenant: "starter-co", toolset });

  const attempt = async (
    subject: { tenant: string; toolset: string },
    action: typeof email | typeof deploy,
    estimate: number,
    actor?: string,
  ) => {
    tick();
    const response = await ledger.reserve({ subject, action, estimate, runId: `run-${subject.tenant}`, actor });
    if (response.reservationId) {
      tick();
      await ledger.commit(response.reservationId, { actor });
    }
    return response;
  };

  for (let i = 0; i < 8; i++) await attempt(enterprise("send-email"), email, 20);
  await attempt(enterprise("deploy"), deploy, 50);
  await attempt(enterprise("deploy"), deploy, 50);
  for (let i = 0; i < 4; i++) await attempt(starter("send-email"), email, 20);
  await attempt(starter("deploy"), deploy, 50);
  await attempt(enterprise("deploy"), deploy, 50);
  await attempt(enterprise("deploy"), deploy, 50);
  // A person approves one more email for the starter tenant: a grant budget, the approver as actor.
  tick();
  await ledger.setBudget({ scope: "tenant:starter-co/toolset:approved-once.abc123", limit: 20 });
  await attempt(starter("approved-once.abc123"), email, 20, "alice@starter-co");
  await attempt(starter("send-email"), email, 20);

  const events = await ledger.audit({ limit: 100_000 });
  const budgets = await ledger.listBudgets({ allTenants: true });
  return { events, budgets, ledger };
}
