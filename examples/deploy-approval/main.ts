// npx tsx examples/deploy-approval/main.ts [--decision approve|reject|edit]
//
// The agent wants to deploy; it has no autonomous deploy budget, so the deploy is denied before it
// runs and the graph interrupts with the action for a person. This script plays that person.
import { parseArgs } from "node:util";
import { Command } from "@langchain/langgraph";
import { type AuditEvent, createLedger } from "../../src/index.js";
import type { ApprovalDecision } from "../../src/integrations/langgraph/index.js";
import { clip, decisionLabel, paintFor, wrap } from "../support-agent/terminal.js";
import {
  buildDeployAgent,
  deployBudgets,
  type Interrupted,
  provisionDeployBudgets,
  release,
  releaseRequest,
  threadId,
} from "./agent.js";

const { values: flags } = parseArgs({ options: { decision: { type: "string", default: "approve" } } });
const paint = paintFor();
const out = (line = "") => process.stdout.write(`${line}\n`);
const approver = "dana@acme.example";

function decisionFor(kind: string | undefined): ApprovalDecision {
  if (kind === "reject")
    return { type: "reject", message: "change freeze until the billing incident review", approver };
  if (kind === "edit") {
    return {
      type: "edit",
      editedAction: { name: "deploy_service", args: { ...release, environment: "staging" } },
      approver,
    };
  }
  if (kind === "approve") return { type: "approve", approver };
  throw new Error(`--decision must be approve, reject or edit (got ${kind})`);
}

async function main(): Promise<void> {
  const decision = decisionFor(flags.decision);
  const ledger = createLedger({ sweepIntervalMs: 0 });
  try {
    await provisionDeployBudgets(ledger);
    const provisionedSeq = (await ledger.audit({ limit: 1 })).at(-1)?.seq ?? 0;
    const { graph, effects } = buildDeployAgent({ ledger });
    const config = { configurable: { thread_id: threadId } };

    out(paint.bold("tollgate · a deploy that needs a person"));
    out(`Request: ship ${release.service} ${release.version} to ${release.environment} (thread ${threadId})`);
    out("Budgets, in RISK_POINTS (deploy_service is the execution tier: 50):");
    for (const budget of deployBudgets)
      out(`  ${budget.label.padEnd(20)} ${String(budget.limit).padStart(5)}  ${paint.dim(budget.scope)}`);
    out();

    const printed = { seq: 0 };
    const printDecisions = async () => {
      const events = await ledger.audit({ afterSeq: printed.seq, limit: 1_000 });
      printed.seq = events.at(-1)?.seq ?? printed.seq;
      for (const event of events.filter((candidate) => candidate.type === "reserve")) out(decisionLine(event));
    };

    const first = (await graph.invoke({ messages: [releaseRequest()] }, config)) as Interrupted;
    await printDecisions();
    const request = first.__interrupt__?.[0]?.value;
    if (!request) throw new Error("expected the graph to stop for approval");
    out(`  ${paint.yellow("↳ fallback: approval")}: the graph is interrupted, waiting for a person. The request:`);
    for (const action of request.actionRequests) {
      out(`    action       ${action.name} ${JSON.stringify(action.args)}`);
      const [why, ...more] = wrap(action.description ?? "", 96);
      out(`    why          ${why}`);
      for (const line of more) out(`                 ${line}`);
    }
    out(`    may decide   ${request.reviewConfigs.map((review) => review.allowedDecisions.join(" / ")).join("; ")}`);
    out(`  deploys so far: ${effects.deploys.length}`);
    out();

    out(
      `${approver} answers: ${paint.bold(decision.type)}${decision.type === "reject" ? ` ("${decision.message}")` : ""}`,
    );
    const done = await graph.invoke(new Command({ resume: { decisions: [decision] } }), config);
    await printDecisions();
    const last = done.messages.at(-1);
    out(`  agent: "${clip(String(last?.content ?? ""), 110)}"`);
    out(
      `  deploys: ${paint.bold(String(effects.deploys.length))}${effects.deploys.map((d) => ` (${d.service} ${d.version} → ${d.environment})`).join("")}`,
    );
    out();

    out(paint.bold("Audit log: who decided what"));
    const events = await ledger.audit({ scope: "tenant:acme", limit: 1_000 });
    // Provisioning is above; what follows is the run, including the grant an approval adds.
    for (const event of events.filter((candidate) => candidate.seq > provisionedSeq)) out(auditLine(event));
    const deploy = await ledger.getBalance({ scope: deployBudgets[2].scope });
    out();
    out(
      effects.deploys.length > 0
        ? `The agent's own deploy budget is still ${deploy?.allocated}: the approval added a one-off grant, used once and removed.`
        : `Nothing was deployed and nothing was charged for it; the agent's deploy budget is still ${deploy?.allocated}.`,
    );
  } finally {
    await ledger.close();
  }

  function auditLine(event: AuditEvent): string {
    const what =
      event.type === "reserve"
        ? `${event.decision}${event.reasonCode ? ` ${event.reasonCode}` : ""}`
        : event.type === "commit"
          ? `charged ${event.amount}`
          : event.type === "budget.set"
            ? `limit ${event.amount}`
            : (event.detail ?? "");
    const scope = event.scope.replace(/^tenant:acme\/workspace:production\/app:release-bot/, "…");
    return `  #${String(event.seq).padStart(2)} ${event.type.padEnd(13)} ${(event.action?.name ?? "").padEnd(16)} ${what.padEnd(24)} actor=${(event.actor ?? "-").padEnd(18)} ${paint.dim(scope)}`;
  }
  function decisionLine(event: AuditEvent): string {
    const reason = event.decision === "DENY" ? `  ${event.reasonCode} at ${event.deniedScope}` : "";
    const actor = event.actor ? `  approved by ${event.actor}` : "";
    return `  ${decisionLabel(event.decision ?? "?", paint)} ${(event.action?.name ?? "").padEnd(16)} ${paint.dim(`${event.action?.tier} ${event.estimate}`)}${reason}${actor}`;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
