/**
 * Where a Redis reserve + commit spends the client's time: one caller, depth 4, on its own
 * redis-server. `node --cpu-prof --import tsx bench/redis-pair-profile.ts [pairs=20000]` writes a
 * .cpuprofile to open in Chrome DevTools; without --cpu-prof it prints p50 and CPU per pair.
 */
import { createLedger } from "../src/ledger/create-ledger.js";
import { startRedisServer } from "../test/helpers/redis-server.js";

const pairs = Number(process.argv[2] ?? 20_000);
const server = await startRedisServer({ needsOwnServer: true });
const ledger = createLedger({ redis: server.url, sweepIntervalMs: 0 });
const subject = { tenant: "bench", workspace: "w1", app: "a1", workflow: "f1" };
const read = { name: "lookup", tier: "read" as const };
try {
  for (const scope of ["tenant:bench", "tenant:bench/workspace:w1", "tenant:bench/workspace:w1/app:a1"]) {
    await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
  }
  const pair = async () => {
    const response = await ledger.reserve({ subject, action: read, estimate: 1 });
    if (!response.reservationId) throw new Error(`unexpected ${response.decision}`);
    await ledger.commit(response.reservationId);
  };
  for (let index = 0; index < 1_000; index++) await pair();
  const times: number[] = [];
  const cpuBefore = process.cpuUsage();
  for (let index = 0; index < pairs; index++) {
    const startedAt = performance.now();
    await pair();
    times.push((performance.now() - startedAt) * 1_000);
  }
  const cpu = process.cpuUsage(cpuBefore);
  times.sort((a, b) => a - b);
  console.log(
    `reserve + commit p50 ${times[pairs >> 1].toFixed(0)} µs, client CPU ${((cpu.user + cpu.system) / pairs).toFixed(0)} µs per pair`,
  );
} finally {
  await ledger.close();
  await server.stop();
}
