/**
 * Redis store benchmark: `npx tsx bench/redis.ts` (or the "redis" section of `npm run bench`). Starts its own redis-server on a free loopback
 * port, runs `redis-benchmark -t ping` against it in the same run, then measures the ledger against
 * the Redis targets (each printed as met / not met):
 *   1. reserve + commit p50 (one caller) against the PING p50 from the same client   → at most 5×
 *   2. reserve + commit pairs per second from 8 callers vs redis-benchmark -c 8       → at least 0.12×
 *   3. the same from 32 callers with same-tick batching                               → at least 0.22×
 *   4. redis-server CPU per pair (/proc, during 2)                                   → at most 200 µs
 *   5. reserve cost at scope depth 1..6                                               → at most linear
 *   6. reserve + commit with 1 tenant vs 100,000 tenants                              → flat
 *   7. evidence on (signing key, default intervals) vs off (bench/redis-evidence.ts): redis-server
 *      CPU per pair → at most +10 %; client wall time per pair → at most +20 %
 * Costs are reported as client p50 latency and as the server's own time per function call
 * (INFO commandstats), which the machine's other load disturbs less. A minimal prototype pair
 * (bench/redis-prototype.ts) runs on the same server in the same run, as the floor to compare with.
 * Options: BENCH_TENANTS (default 100000), BENCH_SECONDS (throughput runs, default 3).
 */

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@redis/client";
import type { Subject } from "../src/core/scope.js";
import { createLedger } from "../src/ledger/create-ledger.js";
import type { Ledger } from "../src/ledger/ledger.js";
import { hasBinary, redisUnavailableReason, startRedisServer } from "../test/helpers/redis-server.js";
import { benchEvidence } from "./redis-evidence.js";
import { throughputWithCpu } from "./redis-probe.js";
import { benchPrototype } from "./redis-prototype.js";
import { target } from "./targets.js";

const run = promisify(execFile);
const tenantsMany = Number(process.env.BENCH_TENANTS ?? 100_000);
const throughputSeconds = Number(process.env.BENCH_SECONDS ?? 3);
const samples = 4_000;
const warmup = 500;
const callers = 8;
const callersMany = 32;
const read = { name: "lookup", tier: "read" as const };

type RedisClient = { sendCommand(args: string[]): Promise<unknown> };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function latencies(count: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let index = 0; index < warmup; index++) await fn();
  const out: number[] = [];
  for (let index = 0; index < count; index++) {
    const startedAt = performance.now();
    await fn();
    out.push((performance.now() - startedAt) * 1_000);
  }
  return out.sort((a, b) => a - b);
}

/** Server time per function call (µs), from INFO commandstats around `fn`. */
async function serverMicrosPerScript(client: RedisClient, fn: () => Promise<unknown>): Promise<number> {
  await client.sendCommand(["CONFIG", "RESETSTAT"]);
  await fn();
  const stats = String(await client.sendCommand(["INFO", "commandstats"]));
  const line = stats.split("\n").find((entry) => /^cmdstat_(fcall|evalsha):/.test(entry)) ?? "";
  return Number(/usec_per_call=([\d.]+)/.exec(line)?.[1] ?? Number.NaN);
}

async function redisBenchmarkPing(port: number): Promise<{ p50Ms: number; rps: number }> {
  const { stdout } = await run(
    "redis-benchmark",
    ["-h", "127.0.0.1", "-p", String(port), "-t", "ping", "-n", "100000", "-c", String(callers), "--csv"],
    { timeout: 60_000 },
  );
  // "PING_INLINE",... then "PING_MBULK",...: rps, avg, min, p50, p95, p99, max.
  const row = stdout
    .split("\n")
    .find((line) => line.startsWith('"PING_MBULK"'))
    ?.split(",")
    .map((cell) => cell.replaceAll('"', ""));
  return { rps: Number(row?.[1]), p50Ms: Number(row?.[4]) };
}

export function subjectAtDepth(depth: number, tenant = "bench"): Subject {
  const levels = ["workspace", "app", "workflow", "agent", "toolset"] as const;
  const subject: Record<string, string> = { tenant };
  for (const level of levels.slice(0, depth - 1)) subject[level] = `${level}-1`;
  return subject as Subject;
}

export function scopesOf(subject: Subject): string[] {
  const levels = ["tenant", "workspace", "app", "workflow", "agent", "toolset"] as const;
  const parts = levels.filter((level) => subject[level]).map((level) => `${level}:${subject[level]}`);
  return parts.map((_, index) => parts.slice(0, index + 1).join("/"));
}

export async function pair(ledger: Ledger, subject: Subject): Promise<void> {
  const response = await ledger.reserve({ subject, action: read, estimate: 1 });
  if (!response.reservationId) throw new Error(`unexpected ${response.decision} ${response.reasonCode}`);
  await ledger.commit(response.reservationId);
}

/**
 * The Redis section of `npm run bench`: returns its report lines (and prints them as it goes when
 * `print` is set, as the standalone run does; the whole section takes about a minute).
 */
export async function benchRedis(options: { print?: boolean } = {}): Promise<string[]> {
  const missing =
    redisUnavailableReason({ needsOwnServer: true }) ??
    (hasBinary("redis-benchmark") ? undefined : "redis-benchmark not found (Debian package redis-tools)");
  if (missing) return [`redis: skipped, ${missing}`];
  const server = await startRedisServer({ needsOwnServer: true });
  const port = server.port;
  const serverPid = Number(
    (await run("redis-cli", ["-p", String(port), "INFO", "server"])).stdout.match(/process_id:(\d+)/)?.[1],
  );
  const nodeClient = createClient({ url: server.url });
  await nodeClient.connect();
  const client = nodeClient as unknown as RedisClient;
  const ledger = createLedger({ redis: server.url, sweepIntervalMs: 0 });
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    if (options.print) console.log(line);
  };
  try {
    say(`redis-server ${(await run("redis-server", ["--version"])).stdout.trim()}`);
    say(
      `node ${process.version}, ${(await run("nproc")).stdout.trim()} cores, load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
    );

    // ---------------------------------------------------------------- 0. redis-benchmark, same server, same run
    const reference = await redisBenchmarkPing(port);
    say(
      `redis-benchmark -t ping -c ${callers}: p50 ${(reference.p50Ms * 1000).toFixed(0)} µs, ${reference.rps.toFixed(0)} req/s`,
    );

    // ---------------------------------------------------------------- 1. latency vs PING from the same client
    const subject = subjectAtDepth(4);
    for (const scope of scopesOf(subject)) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
    const ping = await latencies(samples, () => client.sendCommand(["PING"]));
    const store = await ledger.store;
    const storePing = await latencies(samples, () => store.now());
    const pairs = await latencies(samples, () => pair(ledger, subject));
    const pingP50 = percentile(ping, 0.5);
    const pairP50 = percentile(pairs, 0.5);
    say(
      `PING p50 from node-redis: ${pingP50.toFixed(0)} µs (through the store's connection: ${percentile(storePing, 0.5).toFixed(0)} µs)`,
    );
    say(
      `reserve + commit p50 (depth 4, one caller): ${pairP50.toFixed(0)} µs, p99 ${percentile(pairs, 0.99).toFixed(0)} µs`,
    );
    const pingRatio = pairP50 / pingP50;
    say(
      target({
        name: "reserve + commit p50 / PING p50, one caller",
        value: pingRatio,
        unit: "×",
        comparison: "<=",
        limit: 5,
      }),
    );

    // ---------------------------------------------------------------- 2. throughput, 8 and 32 concurrent callers
    const eight = await throughputWithCpu(callers, throughputSeconds, serverPid, () => pair(ledger, subject));
    const eightRatio = eight.perSecond / reference.rps;
    say(
      `throughput, ${callers} concurrent callers: ${eight.perSecond.toFixed(0)} reserve + commit pairs/s; CPU per pair: client ${eight.clientCpuPerOp.toFixed(0)} µs, redis-server ${eight.serverCpuPerOp.toFixed(0)} µs`,
    );
    say(
      target({
        name: `pairs/s, ${callers} callers / redis-benchmark -t ping -c ${callers} req/s`,
        value: eightRatio,
        unit: "×",
        comparison: ">=",
        limit: 0.12,
        method: `${eight.perSecond.toFixed(0)} pairs/s vs ${reference.rps.toFixed(0)} req/s`,
      }),
    );
    say(
      target({
        name: "redis-server CPU per pair",
        value: eight.serverCpuPerOp,
        unit: "µs",
        comparison: "<=",
        limit: 200,
        method: `/proc schedstat over the ${callers}-caller run`,
      }),
    );
    const many = await throughputWithCpu(callersMany, throughputSeconds, serverPid, () => pair(ledger, subject));
    const manyRatio = many.perSecond / reference.rps;
    say(
      `throughput, ${callersMany} concurrent callers (same-tick batching): ${many.perSecond.toFixed(0)} pairs/s, redis-server ${many.serverCpuPerOp.toFixed(0)} µs per pair`,
    );
    say(
      target({
        name: `pairs/s, ${callersMany} callers with batching / redis-benchmark -c ${callers} req/s`,
        value: manyRatio,
        unit: "×",
        comparison: ">=",
        limit: 0.22,
        method: `${many.perSecond.toFixed(0)} pairs/s`,
      }),
    );

    // ---------------------------------------------------------------- 2b. the minimal prototype, same server, same run
    const prototype = await benchPrototype(server.url, serverPid, 4, throughputSeconds);
    say(
      `prototype pair (bench/redis-prototype.ts, depth 4): p50 ${prototype.pairP50Us.toFixed(0)} µs (${(prototype.pairP50Us / pingP50).toFixed(2)}× PING), ${callers} callers ${prototype.pairsPerSecond8.toFixed(0)} pairs/s (${(prototype.pairsPerSecond8 / reference.rps).toFixed(3)}×), redis-server ${prototype.serverCpuUsPerPair.toFixed(0)} µs per pair; ${callersMany} callers batched ${prototype.pairsPerSecond32Batched.toFixed(0)} pairs/s (${(prototype.pairsPerSecond32Batched / reference.rps).toFixed(3)}×), redis-server ${prototype.serverCpuUsPerPair32Batched.toFixed(0)} µs per pair`,
    );
    // The floor under each figure above, in the summary beside it.
    for (const [name, value] of [
      ["prototype pair p50 / PING p50, one caller", prototype.pairP50Us / pingP50],
      [`prototype pairs/s, ${callers} callers / redis-benchmark req/s`, prototype.pairsPerSecond8 / reference.rps],
      [
        `prototype pairs/s, ${callersMany} callers with batching / redis-benchmark req/s`,
        prototype.pairsPerSecond32Batched / reference.rps,
      ],
    ] as const) {
      say(
        target({
          name,
          value,
          unit: "×",
          comparison: "report",
          method: "the minimal prototype, same server, same run",
        }),
      );
    }
    say(
      target({
        name: "prototype redis-server CPU per pair",
        value: prototype.serverCpuUsPerPair,
        unit: "µs",
        comparison: "report",
        method: `${callers} callers; ${prototype.serverCpuUsPerPair32Batched.toFixed(0)} µs with ${callersMany} callers batched`,
      }),
    );

    // ---------------------------------------------------------------- 3. scope depth 1..6
    const depthCosts: { depth: number; p50: number; server: number }[] = [];
    for (let depth = 1; depth <= 6; depth++) {
      const deep = subjectAtDepth(depth, `depth${depth}`);
      for (const scope of scopesOf(deep)) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
      const decide = () => ledger.decide({ subject: deep, action: read, estimate: 1 });
      const p50 = percentile(await latencies(2_000, decide), 0.5);
      const server = await serverMicrosPerScript(client, async () => {
        for (let index = 0; index < 2_000; index++) await decide();
      });
      depthCosts.push({ depth, p50, server });
    }
    const base = depthCosts[0];
    say("decide cost by scope depth (budgets on every level):");
    for (const cost of depthCosts) {
      say(
        `  depth ${cost.depth}: p50 ${cost.p50.toFixed(0)} µs, server ${cost.server.toFixed(1)} µs/script (${(cost.server / base.server).toFixed(2)}× depth 1)`,
      );
    }
    const linear = depthCosts.every((cost) => cost.server <= cost.depth * base.server * 1.1);
    const worstOverLinearDepth = Math.max(...depthCosts.map((cost) => cost.server / (cost.depth * base.server)));
    say(
      target({
        name: "decide server time at depth d / (d × depth 1), worst of 1..6",
        value: worstOverLinearDepth,
        unit: "×",
        comparison: "<=",
        limit: 1.1,
        method: linear ? "at most linear" : "above linear",
      }),
    );

    // ---------------------------------------------------------------- 4. 1 tenant vs many tenants
    const oneTenant = subjectAtDepth(2, "solo");
    for (const scope of scopesOf(oneTenant)) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
    const soloP50 = percentile(await latencies(2_000, () => pair(ledger, oneTenant)), 0.5);
    const soloServer = await serverMicrosPerScript(client, async () => {
      for (let index = 0; index < 2_000; index++) await pair(ledger, oneTenant);
    });
    const loadStartedAt = performance.now();
    const batch = 2_000;
    for (let first = 0; first < tenantsMany; first += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, tenantsMany - first) }, (_, index) =>
          ledger.setBudget({ scope: `tenant:many${first + index}/workspace:workspace-1`, limit: 1_000_000 }),
        ),
      );
    }
    say(
      `created ${tenantsMany} tenants in ${((performance.now() - loadStartedAt) / 1_000).toFixed(1)} s; dbsize ${await client.sendCommand(["DBSIZE"])}`,
    );
    let turn = 0;
    const manyPair = () => {
      turn = (turn * 7_919 + 1) % tenantsMany;
      return pair(ledger, { tenant: `many${turn}`, workspace: "workspace-1" });
    };
    const manyP50 = percentile(await latencies(2_000, manyPair), 0.5);
    const manyServer = await serverMicrosPerScript(client, async () => {
      for (let index = 0; index < 2_000; index++) await manyPair();
    });
    say(`reserve + commit with 1 tenant: p50 ${soloP50.toFixed(0)} µs, server ${soloServer.toFixed(1)} µs/script`);
    say(
      `reserve + commit across ${tenantsMany} tenants: p50 ${manyP50.toFixed(0)} µs, server ${manyServer.toFixed(1)} µs/script (${(manyServer / soloServer).toFixed(2)}×)`,
    );
    say(
      target({
        name: `server time per script, ${tenantsMany} tenants / 1 tenant`,
        value: manyServer / soloServer,
        unit: "×",
        comparison: "<=",
        limit: 1.5,
      }),
    );

    // ---------------------------------------------------------------- 7. the audit hash chain, on vs off
    await benchEvidence(server.url, serverPid, say);
  } finally {
    await ledger.close();
    await nodeClient.close();
    await server.stop();
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchRedis({ print: true });
