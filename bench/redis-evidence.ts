/**
 * What the audit hash chain costs the Redis store: reserve + commit with evidence on (a signing
 * key, the default link and checkpoint intervals) against off, two stores on one redis-server in
 * one process, rounds interleaved (the first variant alternates). Each round runs `pairsPerRound`
 * pairs from one caller and then from 8, then links what is left (so the linking those pairs cause is
 * inside the round), and reads:
 *   - redis-server CPU per pair (/proc schedstat of its threads), 8 callers → target ≤ +10 % with evidence
 *   - client wall time per pair, one caller (mean: the linker's hashing runs in the same process,
 *     so it shows in the mean, not the median; the last link of the round is inside it): signing
 *     on against the same chain unsigned                          → target ≤ +20 %
 *     and evidence on against off                                  → reported
 * beside them, the server's time in commands (INFO commandstats) and the client's CPU per pair.
 * `bench/redis.ts` runs it as its last section; `npx tsx bench/redis-evidence.ts` alone.
 */

import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { generateSigningKey, privateKeyPem } from "../src/evidence/keys.js";
import { parseEvidenceOptions } from "../src/evidence/options.js";
import { StoreLedger } from "../src/ledger/ledger.js";
import { createRedisStore, type RedisLedgerStore } from "../src/store/redis/index.js";
import { startRedisServer } from "../test/helpers/redis-server.js";
import { processCpuMicros } from "./redis-probe.js";
import { target } from "./targets.js";

const rounds = Number(process.env.BENCH_EVIDENCE_ROUNDS ?? 9);
const pairsPerRound = Number(process.env.BENCH_EVIDENCE_PAIRS ?? 2_000);
const callers = 8;
const subject = { tenant: "evidence", workspace: "w1", app: "a1", workflow: "f1" };
const scopes = ["tenant:evidence", "tenant:evidence/workspace:w1", "tenant:evidence/workspace:w1/app:a1"];
const read = { name: "lookup", tier: "read" as const };

interface Variant {
  name: "off" | "on" | "deferred" | "unsigned";
  store: RedisLedgerStore;
  ledger: StoreLedger;
  serverCpuUs: number[];
  /** Server time in commands (INFO commandstats: FCALL and the linker's XRANGE), µs per pair. */
  commandUs: number[];
  wallUs: number[];
  clientCpuUs: number[];
  /** "deferred" only: the server's time in the commands that link a round's events, µs per pair. */
  linkCommandUs: number[];
}

type RedisClient = { sendCommand(args: string[]): Promise<unknown> };

/** The top-level commands' time (a function's inner commands are inside FCALL's), µs. */
async function commandMicros(client: RedisClient): Promise<number> {
  const stats = String(await client.sendCommand(["INFO", "commandstats"]));
  let total = 0;
  for (const match of stats.matchAll(/cmdstat_(fcall|xrange|time|smembers|zrangebyscore|sadd):calls=\d+,usec=(\d+)/g)) {
    total += Number(match[2]);
  }
  return total;
}

async function pair(ledger: StoreLedger): Promise<void> {
  const response = await ledger.reserve({ subject, action: read, estimate: 1 });
  if (!response.reservationId) throw new Error(`unexpected ${response.decision} ${response.reasonCode}`);
  await ledger.commit(response.reservationId);
}

async function round(variant: Variant, serverPid: number, client: RedisClient): Promise<void> {
  // The linking these pairs cause is inside the time: the timer's, and what is left at the end.
  const startedAt = performance.now();
  const clientCpuBefore = process.cpuUsage();
  for (let index = 0; index < pairsPerRound; index++) await pair(variant.ledger);
  await variant.store.linkChains({ tenant: "tenant:evidence" });
  const clientCpu = process.cpuUsage(clientCpuBefore);
  variant.wallUs.push(((performance.now() - startedAt) * 1_000) / pairsPerRound);
  variant.clientCpuUs.push((clientCpu.user + clientCpu.system) / pairsPerRound);
  await client.sendCommand(["CONFIG", "RESETSTAT"]);
  const cpuBefore = processCpuMicros(serverPid);
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next++ < pairsPerRound) await pair(variant.ledger);
    }),
  );
  if (variant.name === "deferred") {
    // Its linker waits: the pairs alone, then the linking alone, each on its own commandstats.
    variant.commandUs.push((await commandMicros(client)) / pairsPerRound);
    variant.serverCpuUs.push((processCpuMicros(serverPid) - cpuBefore) / pairsPerRound);
    await client.sendCommand(["CONFIG", "RESETSTAT"]);
    await variant.store.linkChains({ tenant: "tenant:evidence" });
    variant.linkCommandUs.push((await commandMicros(client)) / pairsPerRound);
    return;
  }
  await variant.store.linkChains({ tenant: "tenant:evidence" });
  variant.serverCpuUs.push((processCpuMicros(serverPid) - cpuBefore) / pairsPerRound);
  variant.commandUs.push((await commandMicros(client)) / pairsPerRound);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Runs the comparison on a server this process reaches at `url` (pid for /proc); returns report lines. */
export async function benchEvidence(url: string, serverPid: number, say: (line: string) => void): Promise<void> {
  const key = generateSigningKey("bench");
  const evidence = parseEvidenceOptions({ privateKey: privateKeyPem(key), keyId: "bench" });
  const variants: Variant[] = [];
  const evidenceOf = {
    off: undefined,
    on: evidence,
    deferred: { ...evidence, linkIntervalMs: 3_600_000 },
    unsigned: { ...evidence, signingKey: undefined },
  };
  for (const name of ["off", "on", "deferred", "unsigned"] as const) {
    const store = (await createRedisStore({
      redis: url,
      prefix: `bench-evidence-${name}`,
      evidence: evidenceOf[name],
    })) as RedisLedgerStore;
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    for (const scope of scopes) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
    for (let index = 0; index < 500; index++) await pair(ledger); // warm up
    variants.push({
      name,
      store,
      ledger,
      serverCpuUs: [],
      commandUs: [],
      wallUs: [],
      clientCpuUs: [],
      linkCommandUs: [],
    });
  }
  const { createClient } = await import("@redis/client");
  const client = createClient({ url });
  await client.connect();
  try {
    for (let index = 0; index < rounds; index++) {
      const order = index % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) await round(variant, serverPid, client as unknown as RedisClient);
    }
    const [off, on, deferred, unsigned] = variants;
    const signingWallRatio = median(unsigned.wallUs.map((value, index) => on.wallUs[index] / value));
    const cpuRatios = off.serverCpuUs.map((value, index) => on.serverCpuUs[index] / value);
    const wallRatios = off.wallUs.map((value, index) => on.wallUs[index] / value);
    const commandRatio = median(off.commandUs.map((value, index) => on.commandUs[index] / value));
    const cpuRatio = median(cpuRatios);
    const deferredWallRatio = median(off.wallUs.map((value, index) => deferred.wallUs[index] / value));
    const wallRatio = median(wallRatios);
    const list = (values: number[]) => values.map((value) => value.toFixed(0)).join(" ");
    say(`evidence on vs off (${rounds} rounds interleaved, ${pairsPerRound} pairs each, depth 4, one tenant):`);
    say(
      `  redis-server CPU per pair, ${callers} callers, µs: off ${list(off.serverCpuUs)}; on ${list(on.serverCpuUs)}`,
    );
    say(
      `  server time in commands per pair (INFO commandstats), µs: off ${list(off.commandUs)}; on ${list(on.commandUs)} (median ratio ${((commandRatio - 1) * 100).toFixed(1)} %)`,
    );
    say(
      `  client wall time per pair, one caller (mean), µs: off ${list(off.wallUs)}; on ${list(on.wallUs)}; on, no key ${list(unsigned.wallUs)}; on, all linking after the pairs ${list(deferred.wallUs)}`,
    );
    const clientCpuRatio = median(off.clientCpuUs.map((value, index) => on.clientCpuUs[index] / value));
    say(
      `  client CPU per pair, one caller, µs: off ${list(off.clientCpuUs)}; on ${list(on.clientCpuUs)} (median ratio ${((clientCpuRatio - 1) * 100).toFixed(1)} %); on, all linking after ${list(deferred.clientCpuUs)}`,
    );
    const linkShare = median(deferred.linkCommandUs.map((value, index) => value / deferred.commandUs[index]));
    say(
      `  the chain's own server work, apart (a linker that waits, then links each round's events alone; commandstats), µs per pair: pairs ${list(deferred.commandUs)}; linking ${deferred.linkCommandUs.map((value) => value.toFixed(1)).join(" ")} (median +${(linkShare * 100).toFixed(1)} %)`,
    );
    say(
      target({
        name: "redis-server CPU per pair, evidence on / off (side by side)",
        value: cpuRatio,
        unit: "×",
        comparison: "<=",
        limit: 1.1,
        method: "/proc schedstat, median of per-round ratios; the client's hashing shares the 2 cores",
      }),
    );
    say(
      target({
        name: "the chain's own server work per pair / the pair's (commandstats)",
        value: 1 + linkShare,
        unit: "×",
        comparison: "<=",
        limit: 1.1,
      }),
    );
    say(
      target({
        name: "client wall time per pair, signing on / chain unsigned",
        value: signingWallRatio,
        unit: "×",
        comparison: "<=",
        limit: 1.2,
        method: "median of per-round ratios, one caller; checkpoints at the default interval",
      }),
    );
    say(
      target({
        name: "client wall time per pair, evidence on / off",
        value: wallRatio,
        unit: "×",
        comparison: "report",
        method: "median of per-round ratios, one caller: the client's hashing of each event",
      }),
    );
    say(
      target({
        name: "client wall time per pair, evidence on (linking after the pairs) / off",
        value: deferredWallRatio,
        unit: "×",
        comparison: "report",
      }),
    );
  } finally {
    await client.close();
    await Promise.all(variants.map((variant) => variant.store.close()));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const server = await startRedisServer({ needsOwnServer: true });
  try {
    const { createClient } = await import("@redis/client");
    const client = createClient({ url: server.url });
    await client.connect();
    const info = String(await client.sendCommand(["INFO", "server"]));
    await client.close();
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    console.log(`load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
    await benchEvidence(server.url, pid, console.log);
  } finally {
    await server.stop();
  }
}
