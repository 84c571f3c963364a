/**
 * Measuring against a Redis server, shared by the Redis figures: latency samples (µs) with a
 * warm-up, throughput from N concurrent callers, a process's CPU time from /proc/PID/stat (the
 * server's CPU per operation, which other load disturbs less than wall time), and
 * `redis-benchmark -t ping` on the same server as the reference the targets are ratios of.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Latency of `fn` in microseconds, `count` samples after `warmup` untimed calls, in call order. */
export async function latenciesUs(count: number, fn: () => Promise<unknown>, warmup = 500): Promise<number[]> {
  for (let index = 0; index < warmup; index++) await fn();
  const out: number[] = [];
  for (let index = 0; index < count; index++) {
    const startedAt = performance.now();
    await fn();
    out.push((performance.now() - startedAt) * 1_000);
  }
  return out;
}

/** `callers` concurrent loops of `fn` for `seconds`: operations done and the time taken. */
export async function throughput(
  callers: number,
  seconds: number,
  fn: () => Promise<unknown>,
): Promise<{ done: number; seconds: number; perSecond: number }> {
  let done = 0;
  const startedAt = performance.now();
  const deadline = startedAt + seconds * 1_000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        await fn();
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - startedAt) / 1_000;
  return { done, seconds: elapsed, perSecond: done / elapsed };
}

/**
 * `throughput` with CPU time beside it: per operation, the server process's (`serverPid`) and this
 * process's, in µs.
 */
export async function throughputWithCpu(
  callers: number,
  seconds: number,
  serverPid: number,
  fn: () => Promise<unknown>,
): Promise<{ perSecond: number; serverCpuPerOp: number; clientCpuPerOp: number }> {
  const serverCpuBefore = processCpuMicros(serverPid);
  const clientCpuBefore = process.cpuUsage();
  const { done, perSecond } = await throughput(callers, seconds, fn);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  return {
    perSecond,
    serverCpuPerOp: (processCpuMicros(serverPid) - serverCpuBefore) / done,
    clientCpuPerOp: (clientCpu.user + clientCpu.system) / done,
  };
}

/**
 * CPU time of a process in µs: the sum over its threads of the scheduler's run time
 * (/proc/PID/task/TID/schedstat, nanoseconds), so a round of a few hundred ms is measured exactly;
 * /proc/PID/stat's utime + stime (10 ms ticks) where schedstat is missing.
 */
export function processCpuMicros(pid: number): number {
  try {
    let totalNs = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      totalNs += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    }
    if (Number.isFinite(totalNs) && totalNs > 0) return totalNs / 1_000;
  } catch {
    // No schedstat (a kernel without CONFIG_SCHEDSTATS): the coarse figure below.
  }
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100;
}

/** The server's process id, from INFO server. */
export async function redisServerPid(client: { sendCommand(args: string[]): Promise<unknown> }): Promise<number> {
  const info = String(await client.sendCommand(["INFO", "server"]));
  return Number(/process_id:(\d+)/.exec(info)?.[1]);
}

/** `redis-benchmark -t ping -c <clients>` against the server: PING_MBULK requests/s and p50 (µs). */
export async function redisBenchmarkPing(
  port: number,
  clients: number,
  requests = 100_000,
): Promise<{ requestsPerSecond: number; p50Us: number }> {
  const { stdout } = await run(
    "redis-benchmark",
    ["-h", "127.0.0.1", "-p", String(port), "-t", "ping", "-n", String(requests), "-c", String(clients), "--csv"],
    { timeout: 120_000 },
  );
  // "PING_INLINE",... then "PING_MBULK",...: rps, avg, min, p50, p95, p99, max (latencies in ms).
  const row = stdout
    .split("\n")
    .find((line) => line.startsWith('"PING_MBULK"'))
    ?.split(",")
    .map((cell) => cell.replaceAll('"', ""));
  return { requestsPerSecond: Number(row?.[1]), p50Us: Number(row?.[4]) * 1_000 };
}
