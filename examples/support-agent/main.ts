// npm run demo  (or: npx tsx examples/support-agent/main.ts [--report out.html])
//
// Replays the incident: a support agent misreads a billing-dispute ticket and tries to send a refund
// confirmation plus 47 follow-up refund emails. tollgate lets five through, denies the sixth before it
// runs, and the graph falls back to read-only mode, drafts a reply for review and escalates.
import { parseArgs } from "node:util";
import { type AIMessage, isAIMessage, ToolMessage } from "@langchain/core/messages";
import { writeLedgerReport } from "../../src/cli/report/index.js";
import { type AuditEvent, createLedger, type Ledger } from "../../src/index.js";
import type { TollgateDenial, TollgateStateUpdate } from "../../src/integrations/langgraph/index.js";
import {
  agentScope,
  buildSupportAgent,
  provisionSupportBudgets,
  relatedAccountsCount,
  supportBudgets,
  threadId,
  ticket,
  ticketMessage,
  toolCharges,
} from "./agent.js";
import { budgetLine, clip, decisionLabel, type Paint, paintFor, wrap } from "./terminal.js";

const { values: flags } = parseArgs({ options: { report: { type: "string" } } });
const paint = paintFor();
const out = (line = "") => process.stdout.write(`${line}\n`);
const labelWidth = Math.max(...supportBudgets.map((budget) => budget.label.length));
const labelOf = new Map(supportBudgets.map((budget) => [budget.scope, budget.label] as const));
const shortScope = (scope: string) => scope.replace(agentScope, "…/agent:resolver");

async function main(): Promise<void> {
  const ledger = createLedger({ sweepIntervalMs: 0 });
  try {
    await provisionSupportBudgets(ledger);
    const { graph, effects } = buildSupportAgent({ ledger });

    out(paint.bold("tollgate · the billing-dispute incident, replayed"));
    out(`Ticket ${ticket.id} from ${ticket.from}: "${ticket.subject}"`);
    out(paint.dim(`  "${clip(ticket.body, 104)}"`));
    out(
      paint.dim(
        "  (translated: the March invoice was charged twice; NOT asking for a refund now; touch no other account)",
      ),
    );
    out();
    out(`Budgets for this run, in RISK_POINTS (send_email costs ${toolCharges.send_email.estimate}):`);
    for (const budget of supportBudgets) {
      const narrowing = budget.narrowing === "progressive" ? ", progressive narrowing" : "";
      out(
        `  ${budget.label.padEnd(labelWidth)}  ${String(budget.limit).padStart(3)}  ${paint.dim(shortScope(budget.scope) + narrowing)}`,
      );
    }

    const trace = new Trace(ledger, paint);
    let step = 0;
    for await (const update of await graph.stream(
      { messages: [ticketMessage()] },
      { configurable: { thread_id: threadId }, streamMode: "updates" },
    )) {
      for (const [node, value] of Object.entries(update as Record<string, NodeUpdate>)) {
        if (node === "agent") {
          step++;
          out();
          trace.agentTurn(step, value);
        } else if (node === "tools") {
          await trace.toolStep();
        } else if (node === "readOnly") {
          trace.readOnly(value);
        } else if (node === "handoff") {
          out();
          out(paint.bold("handoff (the graph, not the model): save the draft, hand the ticket to a person"));
          const escalation = effects.escalations.at(-1);
          await trace.decisions([
            { name: "draft_reply", args: { ticketId: ticket.id } },
            { name: "escalate_to_human", args: { ticketId: ticket.id, draftId: escalation?.draftId } },
          ]);
          if (escalation) {
            out(
              `  draft ${escalation.draftId} saved for review; ticket ${ticket.id} escalated as ${escalation.escalationId}`,
            );
          }
        }
      }
    }

    const state = (await graph.getState({ configurable: { thread_id: threadId } })).values;
    const denials: TollgateDenial[] = state.tollgate.denials;
    const attempted = trace.emailsAttempted;
    const sent = effects.emailsSent.length;
    const first = denials[0];
    const reserves = (await ledger.audit({ type: "reserve", limit: 100_000 })).filter((event) => event.decision);
    const count = (decision: string) => reserves.filter((event) => event.decision === decision).length;
    out();
    out(paint.bold("Summary"));
    const row = (label: string, value: string) => out(`  ${label.padEnd(28)} ${value}`);
    row(
      "emails the agent attempted",
      `${attempted} (1 refund confirmation + ${relatedAccountsCount} to related accounts)`,
    );
    const email = toolCharges.send_email.estimate;
    row(
      "emails actually sent",
      `${paint.bold(String(sent))} (send_email ran ${sent} times: ${sent} × ${email} = ${sent * email} points)`,
    );
    row("blocked before running", `${paint.red(String(attempted - sent))} (${first ? describe(first) : "none"})`);
    if (trace.firstCaps) row("narrowed", trace.firstCaps);
    row(
      "fell back",
      trace.fellBackAt
        ? `read-only mode after step ${trace.fellBackAt}; the agent went on with read tools only`
        : "never",
    );
    const escalation = effects.escalations.at(-1);
    row(
      "handed to a person",
      escalation ? `draft ${escalation.draftId}, escalation ${escalation.escalationId} (billing-specialists)` : "no",
    );
    row(
      "ledger decisions",
      `${reserves.length}: ${count("ALLOW")} ALLOW, ${count("ALLOW_WITH_CAPS")} ALLOW_WITH_CAPS, ${count("DENY")} DENY`,
    );
    row("without tollgate", `${attempted} refund emails would have gone out`);

    if (flags.report) {
      const written = await writeLedgerReport(ledger, flags.report, { title: `tollgate: ticket ${ticket.id} replay` });
      out();
      out(`HTML report written to ${flags.report} (${written.events} audit events, ${written.budgets} budgets)`);
    }
  } finally {
    await ledger.close();
  }
}

interface NodeUpdate {
  messages?: unknown[];
  tollgate?: TollgateStateUpdate;
}

function describe(denial: TollgateDenial): string {
  const where = denial.deniedScope ? ` at ${labelOf.get(denial.deniedScope) ?? denial.deniedScope}` : "";
  return `${denial.reasonCode}${where}`;
}

type Call = { name: string; args: Record<string, unknown> };

/** Prints each step from the graph's updates and the ledger's own audit log. */
class Trace {
  emailsAttempted = 0;
  fellBackAt: number | undefined;
  firstCaps: string | undefined;
  private step = 0;
  private lastCalls: Call[] = [];
  private lastOffered = "";
  private lastCaps = "";
  private emailsDecided = 0;
  private afterSeq = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly paint: Paint,
  ) {}

  agentTurn(step: number, update: NodeUpdate): void {
    this.step = step;
    const message = (update.messages ?? []).find((candidate) => isAIMessage(candidate as AIMessage)) as
      | AIMessage
      | undefined;
    const calls = message?.tool_calls ?? [];
    this.lastCalls = calls;
    this.emailsAttempted += calls.filter((call) => call.name === "send_email").length;
    const offered = (update.tollgate?.offeredTools ?? []).join(", ");
    const offeredNote = offered === this.lastOffered ? "" : `  offered: ${offered || "no tools"}`;
    this.lastOffered = offered;
    out(`${this.paint.bold(`step ${step} · agent`)}${this.paint.dim(offeredNote)}`);
    const text = typeof message?.content === "string" ? message.content : "";
    if (calls.length === 0) {
      out(`  writes a reply, no tool calls: "${clip(text, 96)}"`);
      return;
    }
    if (text) out(`  "${clip(text, 112)}"`);
    const names = [...new Set(calls.map((call) => call.name))].map((name) => {
      const n = calls.filter((call) => call.name === name).length;
      return n > 1 ? `${n} × ${name}` : name;
    });
    out(`  → ${calls.length === 1 ? "1 tool call" : `${calls.length} parallel tool calls`}: ${names.join(", ")}`);
  }

  async toolStep(): Promise<void> {
    await this.decisions(this.lastCalls);
  }

  readOnly(update: NodeUpdate): void {
    this.fellBackAt ??= this.step;
    const message = (update.messages ?? []).find((candidate) => ToolMessage.isInstance(candidate)) as
      | ToolMessage
      | undefined;
    out(`  ${this.paint.yellow("↳ fallback: readOnly")}: the run is read-only now; each denied call is answered with`);
    const text = message ? String(message.content).replace(agentScope, "…") : "";
    for (const line of wrap(`"${text}"`, 104)) out(this.paint.dim(`    ${line}`));
  }

  /**
   * The reserve decisions since the last print, one line per call in call order (a long run of the
   * same answer folded after its first line), then a bar for each budget those decisions checked.
   */
  async decisions(calls: Call[] | undefined): Promise<void> {
    const events = await this.ledger.audit({ afterSeq: this.afterSeq, limit: 100_000 });
    if (events.length > 0) this.afterSeq = events[events.length - 1].seq;
    const reserves = events.filter((event) => event.type === "reserve");
    const lines = reserves.map((event, index) => this.decisionLines(event, calls?.[index]));
    let index = 0;
    while (index < reserves.length) {
      let end = index + 1;
      while (end < reserves.length && sameAnswer(reserves[end], reserves[index])) end++;
      const shown = end - index > 3 ? 1 : end - index;
      for (let at = index; at < index + shown; at++) for (const line of lines[at]) out(line);
      if (end - index > shown) {
        const event = reserves[index];
        const what = `${event.decision} ${event.reasonCode ?? ""}`.trim();
        out(
          this.paint.dim(
            `    … and ${end - index - shown} more ${event.action?.name} calls: ${what}, none of them ran`,
          ),
        );
      }
      index = end;
    }
    // A bar per budget these decisions checked, as the last of them left it.
    const latest = new Map<string, { allocated: number; remaining: number }>();
    for (const event of reserves) for (const balance of event.balances ?? []) latest.set(balance.scope, balance);
    for (const [scope, balance] of latest)
      out(`    ${budgetLine(labelOf.get(scope) ?? scope, balance, labelWidth, this.paint)}`);
  }

  private decisionLines(event: AuditEvent, call: Call | undefined): string[] {
    const name = event.action?.name ?? "?";
    let target = "";
    if (name === "send_email") target = `#${++this.emailsDecided} → ${String(call?.args.to ?? "?")}`;
    else if (call) target = clip(Object.values(call.args).map(String).join(", "), 44);
    const charge = `${event.action?.tier} ${event.estimate}`;
    const mark = event.decision === "DENY" ? this.paint.red("✗") : this.paint.green("✓");
    const lines = [
      `  ${mark} ${decisionLabel(event.decision ?? "?", this.paint)} ${name.padEnd(23)} ${this.paint.dim(charge.padEnd(18))} ${target}`,
    ];
    if (event.decision === "DENY") {
      const where = event.deniedScope ? (labelOf.get(event.deniedScope) ?? event.deniedScope) : "?";
      const left = event.balances?.find((balance) => balance.scope === event.deniedScope);
      const room = left ? ` (${left.remaining} of ${left.allocated} left, needs ${event.estimate})` : "";
      lines.push(`      ${this.paint.red(`${event.reasonCode} at ${where}${room}`)}: denied before it ran`);
    }
    const caps = event.caps?.disabledTiers.join(", ") ?? "";
    if (event.decision === "ALLOW_WITH_CAPS" && caps !== this.lastCaps) {
      const why = narrowedBudgets(event);
      lines.push(`      ${this.paint.yellow(`caps from now on: ${caps} disabled`)} (${why})`);
      this.firstCaps ??= `from ${name} ${target.split(" →")[0]} on: ${caps} disabled (${why})`;
    }
    if (event.decision !== "DENY") this.lastCaps = caps;
    return lines;
  }
}

/** Which narrowing budgets an answer's caps came from: "workflow at 53%". */
function narrowedBudgets(event: AuditEvent): string {
  const narrowing = new Set(
    supportBudgets.filter((budget) => budget.narrowing !== "none").map((budget) => budget.scope),
  );
  return (event.balances ?? [])
    .filter((balance) => narrowing.has(balance.scope) && balance.allocated > 0)
    .map((balance) => {
      const share = Math.round((100 * (balance.allocated - balance.remaining)) / balance.allocated);
      return `${labelOf.get(balance.scope) ?? balance.scope} budget at ${share}%`;
    })
    .join(", ");
}

function sameAnswer(a: AuditEvent, b: AuditEvent): boolean {
  return a.action?.name === b.action?.name && a.decision === b.decision && a.reasonCode === b.reasonCode;
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
