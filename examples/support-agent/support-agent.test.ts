import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { createLedger, type Ledger } from "../../src/index.js";
import {
  buildSupportAgent,
  misreadingModel,
  provisionSupportBudgets,
  relatedAccounts,
  type SupportStateType,
  threadId,
  ticket,
  ticketMessage,
  toolsetScope,
  workflowScope,
} from "./agent.js";

const emailScope = toolsetScope("send-email");
const thread = (id = threadId) => ({ configurable: { thread_id: id } });

let ledger: Ledger;
afterEach(async () => {
  await ledger?.close();
});

async function provisioned(overrides: { scope: string; limit: number; narrowing?: "none" | "progressive" }[] = []) {
  ledger = createLedger({ sweepIntervalMs: 0 });
  await provisionSupportBudgets(ledger);
  for (const budget of overrides) await ledger.setBudget({ window: "run", ...budget });
  return ledger;
}

async function emailDecisions() {
  const events = await ledger.audit({ scope: "tenant:acme", action: "send_email", limit: 1_000 });
  return {
    reserves: events.filter((event) => event.type === "reserve"),
    commits: events.filter((event) => event.type === "commit"),
  };
}

describe("support-agent example: the incident replayed", () => {
  it("sends 5 emails, denies the 6th with BUDGET_EXCEEDED before it runs, falls back to read-only and escalates", async () => {
    await provisioned();
    const model = misreadingModel();
    const { graph, effects } = buildSupportAgent({ ledger, model });
    const nodes: string[] = [];
    const offered: string[][] = [];
    for await (const update of await graph.stream(
      { messages: [ticketMessage()] },
      { ...thread(), streamMode: "updates" },
    )) {
      for (const [node, value] of Object.entries(
        update as Record<string, { tollgate?: { offeredTools?: string[] } }>,
      )) {
        nodes.push(node);
        if (node === "agent") offered.push(value.tollgate?.offeredTools ?? []);
      }
    }
    // The route: four tool steps, the fallback right after the step with the denial, then the handoff.
    expect(nodes).toEqual([
      ...["agent", "tools", "agent", "tools", "agent", "tools", "agent", "tools", "readOnly"],
      ...["agent", "tools", "agent", "handoff"],
    ]);
    expect(model.callCount).toBe(6);

    // The email function itself counted exactly five sends: the customer and the first four accounts.
    expect(effects.emailsSent.map((email) => email.to)).toEqual([
      ticket.from,
      ...relatedAccounts.slice(0, 4).map((account) => account.email),
    ]);

    // 48 attempts, decided in call order; the sixth and every one after it denied, none committed.
    const { reserves, commits } = await emailDecisions();
    expect(reserves).toHaveLength(1 + relatedAccounts.length);
    expect(reserves.map((event) => event.decision)).toEqual([
      ...Array(4).fill("ALLOW"),
      "ALLOW_WITH_CAPS",
      ...Array(43).fill("DENY"),
    ]);
    expect(reserves[5]).toMatchObject({ reasonCode: "BUDGET_EXCEEDED", deniedScope: emailScope, estimate: 20 });
    expect(reserves[5].reservationId).toBeUndefined();
    expect(reserves[4].caps?.disabledTiers).toEqual(["write-external", "mutation", "execution"]);
    expect(commits).toHaveLength(5);
    expect(await ledger.getBalance({ scope: emailScope, runId: threadId })).toMatchObject({
      allocated: 100,
      spent: 100,
      reserved: 0,
      remaining: 0,
    });

    // Read-only mode: the next turns were offered read tools only.
    const state = (await graph.getState(thread())).values as SupportStateType;
    expect(state.tollgate.mode).toBe("read-only");
    expect(state.tollgate.denials).toHaveLength(43);
    expect(state.tollgate.denials.every((denial) => denial.status === "read-only")).toBe(true);
    expect(state.tollgate.denials[0]).toMatchObject({
      toolName: "send_email",
      args: { to: relatedAccounts[4].email },
      reasonCode: "BUDGET_EXCEEDED",
    });
    expect(offered[0]).toHaveLength(6);
    expect(offered.slice(4)).toEqual([
      ["read_ticket", "search_kb", "lookup_related_accounts"],
      ["read_ticket", "search_kb", "lookup_related_accounts"],
    ]);

    // The draft and the escalation happened, charged to internal-notes, and point at each other.
    expect(effects.drafts).toHaveLength(1);
    expect(effects.drafts[0].body).toContain("em análise");
    expect(effects.escalations).toEqual([
      expect.objectContaining({ ticketId: ticket.id, draftId: effects.drafts[0].draftId }),
    ]);
    expect(effects.escalations[0].reason).toContain("43 send_email calls denied (BUDGET_EXCEEDED");
    expect(state.escalation).toEqual({ draftId: "D-1", escalationId: "ESC-1" });
    expect(await ledger.getBalance({ scope: toolsetScope("internal-notes"), runId: threadId })).toMatchObject({
      spent: 20,
    });
    expect(await ledger.getBalance({ scope: workflowScope, runId: threadId })).toMatchObject({
      spent: 128,
      reserved: 0,
    });
    // One reservation per tool call, although every tool is also wrapped by guardTool.
    const allReserves = (await ledger.audit({ scope: "tenant:acme", type: "reserve", limit: 1_000 })).length;
    expect(allReserves).toBe(3 + 48 + 1 + 2);
  });

  it("with send-email raised to 1000, the workflow budget's narrowing still stops the sixth email (TIER_DISABLED)", async () => {
    await provisioned([{ scope: emailScope, limit: 1_000 }]);
    const { graph, effects } = buildSupportAgent({ ledger });
    await graph.invoke({ messages: [ticketMessage()] }, thread());
    expect(effects.emailsSent).toHaveLength(5);
    const { reserves } = await emailDecisions();
    expect(reserves[5]).toMatchObject({ decision: "DENY", reasonCode: "TIER_DISABLED", deniedScope: workflowScope });
    expect(effects.escalations).toHaveLength(1);
  });

  it("without room in either budget to stop it, all 48 refund emails go out (the incident)", async () => {
    await provisioned([
      { scope: emailScope, limit: 10_000 },
      { scope: workflowScope, limit: 10_000, narrowing: "none" },
    ]);
    const { graph, effects } = buildSupportAgent({ ledger });
    const done = await graph.invoke({ messages: [ticketMessage()] }, thread());
    expect(effects.emailsSent).toHaveLength(48);
    expect(done.tollgate.mode).toBe("full");
    expect(effects.escalations).toHaveLength(0);
  });

  it("gives the next ticket (another thread) a fresh per-run email budget", async () => {
    await provisioned();
    await buildSupportAgent({ ledger }).graph.invoke({ messages: [ticketMessage()] }, thread());
    const second = buildSupportAgent({ ledger });
    await second.graph.invoke({ messages: [ticketMessage()] }, thread("ticket-T-4822"));
    expect(second.effects.emailsSent).toHaveLength(5);
    expect(await ledger.getBalance({ scope: emailScope, runId: "ticket-T-4822" })).toMatchObject({ spent: 100 });
  });
});

const run = promisify(execFile);

describe("support-agent example: npm run demo", () => {
  it("exits 0 and prints the trace: five sent, the sixth denied before it ran, the fallback, the summary", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollgate-demo-"));
    try {
      const report = join(dir, "run.html");
      const { stdout, stderr } = await run(
        process.execPath,
        ["--import", "tsx", "examples/support-agent/main.ts", "--report", report],
        { env: { ...process.env, NO_COLOR: "1" } },
      );
      expect(stderr).toBe("");
      expect(stdout).not.toContain("\u001b[");
      const lines = stdout.split("\n");
      const has = (pattern: RegExp) => expect(lines.some((line) => pattern.test(line))).toBe(true);
      has(/^step 4 · agent$/);
      has(/→ 47 parallel tool calls: 47 × send_email$/);
      has(/✓ ALLOW_WITH_CAPS send_email .* #5 → billing-04@northwind-group\.example$/);
      has(/✗ DENY {12}send_email .* #6 → billing-05@northwind-group\.example$/);
      has(/^ {6}BUDGET_EXCEEDED at send-email \(0 of 100 left, needs 20\): denied before it ran$/);
      has(/… and 42 more send_email calls: DENY BUDGET_EXCEEDED, none of them ran/);
      has(/^ {4}send-email {6}\[█{15}\] 100\/100$/);
      has(/↳ fallback: readOnly/);
      has(/^step 5 · agent {2}offered: read_ticket, search_kb, lookup_related_accounts$/);
      has(/draft D-1 saved for review; ticket T-4821 escalated as ESC-1/);
      has(/^ {2}emails the agent attempted +48 /);
      has(/^ {2}emails actually sent +5 \(send_email ran 5 times/);
      has(/^ {2}blocked before running +43 \(BUDGET_EXCEEDED at send-email\)/);
      has(/^HTML report written to .*run\.html/);
      const html = await readFile(report, "utf8");
      expect(html.startsWith("<!doctype html>")).toBe(true);
      expect(html).toContain("BUDGET_EXCEEDED");
      expect(html).toContain("send_email");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
