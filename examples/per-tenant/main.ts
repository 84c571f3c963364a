// npx tsx examples/per-tenant/main.ts
//
// The same agent code and the same request for two tenants. The enterprise tenant's budgets allow the
// email and the deploy; the starter tenant's allow the email but not the deploy, which goes to a person.
import { relative } from "node:path";
import type { AuditEvent } from "../../src/index.js";
import { permittedTools } from "../../src/integrations/langgraph/index.js";
import { bar, decisionLabel, paintFor } from "../support-agent/terminal.js";
import {
  buildTenantAgent,
  loadPolicy,
  policyFile,
  policyLedger,
  request,
  requestMessage,
  runFor,
  subjectOf,
  type Tenant,
  tenants,
} from "./agent.js";

const paint = paintFor();
const out = (line = "") => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const policy = loadPolicy();
  const ledger = policyLedger(policy);
  try {
    const { graph, effects, tools } = buildTenantAgent({ ledger, policy });

    out(paint.bold("tollgate · one agent, two tenants"));
    out(`Budgets from ${relative(process.cwd(), policyFile)} (RISK_POINTS, ${policy.mode ?? "enforce"} mode):`);
    for (const budget of policy.budgets) {
      out(`  ${budget.scope.padEnd(42)} ${String(budget.limit).padStart(4)}${budget.narrowing ? "  progressive" : ""}`);
    }
    const rules = policy.toolRules.filter((rule) => rule.toolset);
    out(`Charges from the policy: ${rules.map((rule) => `${rule.match} ${rule.tier} ${rule.estimate}`).join(", ")}`);
    out();
    out("What each tenant's agent may do right now (permittedTools: a dry run per tool, nothing held):");
    for (const tenant of tenants) {
      const config = runFor(tenant);
      const allowed = await permittedTools(tools, { ledger, subject: subjectOf(config) });
      out(`  ${tenant.padEnd(16)} ${allowed.map((allowedTool) => allowedTool.name).join(", ") || "nothing"}`);
    }
    out();
    out(`The same request for both: "${request}"`);

    const outcome = new Map<Tenant, string>();
    for (const tenant of tenants) {
      const config = runFor(tenant);
      out();
      out(
        paint.bold(`${tenant}`) +
          paint.dim(`  (thread ${config.configurable.thread_id}, subject from configurable.tenant)`),
      );
      const before = (await ledger.audit({ limit: 1 })).at(-1)?.seq ?? 0;
      const result = (await graph.invoke({ messages: [requestMessage()] }, config)) as {
        __interrupt__?: unknown[];
        messages: { content: unknown }[];
      };
      const events = await ledger.audit({ afterSeq: before, type: "reserve", limit: 1_000 });
      for (const event of events) out(await decisionLine(event));
      const deployed = effects.deploys.filter((deploy) => deploy.tenant === tenant).length;
      const emailed = effects.emails.filter((email) => email.tenant === tenant).length;
      if (result.__interrupt__) {
        out(`  ${paint.yellow("↳ fallback: escalate")}: the deploy waits for a person (interrupt); it did not run`);
        out(paint.dim("    (approve / reject / edit it as in examples/deploy-approval)"));
      } else {
        out(`  agent: "${String(result.messages.at(-1)?.content ?? "")}"`);
      }
      out(`  emails sent: ${emailed}   deploys run: ${paint.bold(String(deployed))}`);
      outcome.set(tenant, deployed > 0 ? "deployed" : "did not deploy");
    }
    out();
    out(
      `Same code, same request: enterprise-corp ${outcome.get("enterprise-corp")}, starter-co ${outcome.get("starter-co")}.`,
    );
    out("To change what a tenant may do, edit the policy and apply it (tollgate policy apply); no code changes.");
  } finally {
    await ledger.close();
  }

  async function decisionLine(event: AuditEvent): Promise<string> {
    const name = event.action?.name ?? "?";
    const mark = event.decision === "DENY" ? paint.red("✗") : paint.green("✓");
    const charge = paint.dim(`${event.action?.tier} ${event.estimate}`.padEnd(18));
    const scope = event.balances?.at(-1);
    const budget = scope
      ? `${scope.scope.split("/").at(-1)?.padEnd(18)} ${bar(scope.allocated - scope.remaining, scope.allocated)}`
      : "";
    const reason = event.decision === "DENY" ? `  ${paint.red(`${event.reasonCode} at ${event.deniedScope}`)}` : "";
    return `  ${mark} ${decisionLabel(event.decision ?? "?", paint)} ${name.padEnd(15)} ${charge} ${budget}${reason}`;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
