/**
 * Profile target: embedded reserve + commit (six-level subject, three budgets, as bench/ledger.ts),
 * on one tenant or (`--tenants N`) spread over N tenants in shuffled order; `--decide` for decide alone.
 *   node --cpu-prof --cpu-prof-dir DIR --import tsx bench/embedded-pair-profile.ts [--tenants 100000]
 * With --expose-gc it prints bytes allocated per operation (allocatedBytesPerOp).
 */
import { createLedger } from "../src/ledger/create-ledger.js";
import { allocatedBytesPerOp } from "./memory.js";

const arg = (name: string) => process.argv.indexOf(name);
const tenantCount = arg("--tenants") > 0 ? Number(process.argv[arg("--tenants") + 1]) : 1;
const decideOnly = arg("--decide") > 0;
const ops = arg("--ops") > 0 ? Number(process.argv[arg("--ops") + 1]) : 400_000;
const ledger = createLedger({ sweepIntervalMs: 0 });
const tenants = Array.from({ length: tenantCount }, (_, index) => `t${index}`);
for (const tenant of tenants) {
  await ledger.setBudget({ scope: `tenant:${tenant}`, limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({
    scope: `tenant:${tenant}/workspace:production/app:support-bot`,
    limit: Number.MAX_SAFE_INTEGER,
  });
  await ledger.setBudget({ scope: `tenant:${tenant}/toolset:send-email`, limit: Number.MAX_SAFE_INTEGER });
}
const shuffled = [...tenants].sort(() => Math.random() - 0.5);
const action = { name: "send_email", tier: "write-external" as const };
const subjectOf = (tenant: string) => ({
  tenant,
  workspace: "production",
  app: "support-bot",
  workflow: "billing-dispute",
  agent: "resolver",
  toolset: "send-email",
});
async function loop(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const subject = subjectOf(shuffled[i % shuffled.length]);
    if (decideOnly) {
      await ledger.decide({ subject, action, estimate: 1 });
      continue;
    }
    const response = await ledger.reserve({ subject, action, estimate: 1 });
    await ledger.commit(response.reservationId as string);
  }
}
await loop(50_000);
const started = process.hrtime.bigint();
const cpuStarted = process.cpuUsage();
await loop(ops);
const cpu = process.cpuUsage(cpuStarted);
console.log(
  `${decideOnly ? "decide" : "pair"} tenants=${tenantCount}: ${(Number(process.hrtime.bigint() - started) / 1_000 / ops).toFixed(2)} µs wall, ${((cpu.user + cpu.system) / ops).toFixed(2)} µs cpu per op`,
);
if ((globalThis as { gc?: unknown }).gc) {
  const bytes = await allocatedBytesPerOp(20_000, () => loop(20_000));
  console.log(`allocated ${bytes.toFixed(0)} B per op`);
}
await ledger.close();
