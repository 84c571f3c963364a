import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { createLedger } from "../src/ledger/create-ledger.js";
import type { Ledger } from "../src/ledger/ledger.js";
import { formatMeasurement, gc, measure, ratio } from "./measure.js";

/**
 * The embedded ledger's hot path: reserve + commit on a six-level subject with three budgets on
 * its path, next to a bare LangChain tool.invoke of a trivial tool, in the same process and run.
 */
const levels = (tenant: string) => ({
  tenant,
  workspace: "production",
  app: "support-bot",
  workflow: "billing-dispute",
  agent: "resolver",
  toolset: "send-email",
});
const action = { name: "send_email", tier: "write-external" as const };

async function provision(ledger: Ledger, tenant: string): Promise<void> {
  await ledger.setBudget({ scope: `tenant:${tenant}`, limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({
    scope: `tenant:${tenant}/workspace:production/app:support-bot`,
    limit: Number.MAX_SAFE_INTEGER,
  });
  await ledger.setBudget({ scope: `tenant:${tenant}/toolset:send-email`, limit: Number.MAX_SAFE_INTEGER });
}

function reserveCommitLoop(ledger: Ledger, tenants: string[], count: number): () => Promise<void> {
  return async () => {
    for (let i = 0; i < count; i++) {
      const response = await ledger.reserve({ subject: levels(tenants[i % tenants.length]), action, estimate: 1 });
      await ledger.commit(response.reservationId as string);
    }
  };
}

async function heapWithBudgets(budgets: number): Promise<number> {
  // The audit trail is kept to one event: it is bounded on its own (auditEventsTotalMax), and an
  // idle budget is its definition, counters and indexes.
  const ledger = createLedger({ sweepIntervalMs: 0, auditEventsMax: 1, auditEventsTotalMax: 1 });
  for (let i = 0; i < budgets; i++) await ledger.setBudget({ scope: `tenant:m${i}/toolset:send-email`, limit: 100 });
  for (let i = 0; i < budgets; i++) {
    const response = await ledger.reserve({ subject: { tenant: `m${i}`, toolset: "send-email" }, action, estimate: 1 });
    await ledger.commit(response.reservationId as string);
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc();
  gc();
  const used = process.memoryUsage().heapUsed;
  await ledger.close();
  return used;
}

export async function benchLedger(): Promise<string[]> {
  const lines: string[] = ["## Embedded ledger (keyv, in memory), one process"];
  const opsPerRound = 20_000;

  const trivialTool = tool(async ({ text }: { text: string }) => text, {
    name: "echo",
    description: "returns its input",
    schema: z.object({ text: z.string() }),
  });
  const bareTool = await measure("bare LangChain tool.invoke (trivial tool)", 5_000, async () => {
    for (let i = 0; i < 5_000; i++) await trivialTool.invoke({ text: "hi" });
  });

  const one = createLedger({ sweepIntervalMs: 0 });
  await provision(one, "t0");
  const oneTenant = await measure(
    "reserve + commit, 6 levels, 3 budgets, 1 tenant",
    opsPerRound,
    reserveCommitLoop(one, ["t0"], opsPerRound),
  );

  const many = createLedger({ sweepIntervalMs: 0 });
  const tenantCount = 100_000;
  const tenants = Array.from({ length: tenantCount }, (_, index) => `t${index}`);
  for (const tenant of tenants) await provision(many, tenant);
  // Visit tenants in a shuffled order so the cache sees the spread of a real multi-tenant load.
  const shuffled = [...tenants].sort(() => Math.random() - 0.5);
  const manyTenants = await measure(
    `reserve + commit, same, spread over ${tenantCount.toLocaleString("en-US")} tenants`,
    opsPerRound,
    reserveCommitLoop(many, shuffled, opsPerRound),
  );
  await many.close();

  const decideOnly = await measure("decide (dry run), 6 levels, 3 budgets", opsPerRound, async () => {
    for (let i = 0; i < opsPerRound; i++) await one.decide({ subject: levels("t0"), action, estimate: 1 });
  });

  lines.push(
    formatMeasurement(bareTool),
    formatMeasurement(oneTenant),
    formatMeasurement(manyTenants),
    formatMeasurement(decideOnly),
  );
  lines.push(ratio("reserve+commit / bare tool.invoke (target ≤ 0.25)", oneTenant, bareTool));
  lines.push(ratio("100,000 tenants / 1 tenant (target ≤ 1.5)", manyTenants, oneTenant));

  lines.push(...(await memory()));
  await one.close();
  return lines;
}

async function memory(): Promise<string[]> {
  const lines: string[] = [];
  if (!(globalThis as { gc?: unknown }).gc) return ["(memory figures need node --expose-gc)"];
  // The slope between two sizes, so fixed costs (modules, caches) cancel out.
  const small = await heapWithBudgets(20_000);
  const large = await heapWithBudgets(120_000);
  lines.push(
    `idle budget (definition, counters, indexes, after one reserve+commit; audit trail excluded), heap per budget: ${((large - small) / 100_000).toFixed(0)} bytes (target < 1024)`,
  );

  const churn = createLedger({ sweepIntervalMs: 0 });
  await provision(churn, "c");
  const heapAfter: number[] = [];
  const decisions = 1_000_000;
  for (let i = 0; i < decisions; i++) {
    const response = await churn.reserve({ subject: levels("c"), action, estimate: 1 });
    await churn.commit(response.reservationId as string);
    if ((i + 1) % 200_000 === 0) {
      gc();
      heapAfter.push(process.memoryUsage().heapUsed / 1_048_576);
    }
  }
  lines.push(
    `heap after each 200,000 of ${decisions.toLocaleString("en-US")} reserve+commit pairs (MiB): ${heapAfter.map((mib) => mib.toFixed(1)).join(", ")}`,
  );
  await churn.close();
  return lines;
}
