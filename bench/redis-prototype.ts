/**
 * A minimal reserve + commit on Redis with the store's essential features, for comparison with the
 * real store in the same run (`bench/redis.ts` calls it; `npx tsx bench/redis-prototype.ts` runs it
 * alone on its own redis-server). One functions library, loaded once:
 *   reserve: server TIME; one HMGET of the chain's limits and one of its counters (integer fields);
 *            check; HINCRBY reserved on each; a 5-field reservation record; ZADD into the holds index;
 *            a compact XADD (the stream id is the sequence); overdue holds looked up first.
 *   commit:  TIME; the record; HINCRBY reserved/spent on each; status + PEXPIRE; ZREM; compact XADD.
 * What it leaves out: idempotency, windows, narrowing bands, overage policies, debt, shadow mode,
 * overdue-slot sums, unknown-tenant expiry, reply checking on the client.
 */
import { execFile } from "node:child_process";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@redis/client";
import { startRedisServer } from "../test/helpers/redis-server.js";
import { throughputWithCpu } from "./redis-probe.js";

const library = `#!lua name=tollgate_prototype
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- ARGV: base, reservation id, estimate, ttlMs, then the chain's budget names.
local function reserve(args)
  local base, id, estimate, ttlMs = args[1], args[2], tonumber(args[3]), tonumber(args[4])
  local now = clock()
  local holds = base .. 'holds'
  local due = redis.call('ZRANGEBYSCORE', holds, '-inf', now, 'LIMIT', 0, 100)
  if #due > 0 then return { 'BUSY' } end
  local names, reservedFields, spentFields = {}, {}, {}
  for i = 5, #args do
    names[#names + 1] = args[i]
    reservedFields[#reservedFields + 1] = args[i] .. ':r'
    spentFields[#spentFields + 1] = args[i] .. ':s'
  end
  local limits = redis.call('HMGET', base .. 'limits', unpack(names))
  local reserved = redis.call('HMGET', base .. 'counters', unpack(reservedFields))
  local spent = redis.call('HMGET', base .. 'counters', unpack(spentFields))
  local reply = { 'ALLOW', now + ttlMs }
  for i = 1, #names do
    local remaining = tonumber(limits[i]) - tonumber(reserved[i] or 0) - tonumber(spent[i] or 0)
    if remaining < estimate then return { 'DENY', 0 } end
    reply[#reply + 1] = remaining - estimate
  end
  for i = 1, #names do redis.call('HINCRBY', base .. 'counters', reservedFields[i], estimate) end
  redis.call('HSET', base .. 'r:' .. id, 'st', 'held', 'e', args[3], 'x', now + ttlMs, 'n', #names, 'h', table.concat(names, ' '))
  redis.call('ZADD', holds, now + ttlMs + 5000, id)
  redis.call('XADD', base .. 'audit', 'MAXLEN', '~', 10000, '0-*', 't', 'reserve', 'id', id, 'd', 'ALLOW', 'e', args[3])
  return reply
end

-- ARGV: base, reservation id.
local function commit(args)
  local base, id = args[1], args[2]
  local now = clock()
  local key = base .. 'r:' .. id
  local r = redis.call('HMGET', key, 'st', 'e', 'h')
  if r[1] ~= 'held' then return { 'FINALIZED' } end
  local estimate = tonumber(r[2])
  for name in string.gmatch(r[3], '%S+') do
    redis.call('HINCRBY', base .. 'counters', name .. ':r', -estimate)
    redis.call('HINCRBY', base .. 'counters', name .. ':s', estimate)
  end
  redis.call('HSET', key, 'st', 'committed')
  redis.call('PEXPIRE', key, 3600000)
  redis.call('ZREM', base .. 'holds', id)
  redis.call('XADD', base .. 'audit', 'MAXLEN', '~', 10000, '0-*', 't', 'commit', 'id', id, 'a', r[2])
  return { 'ok', now }
end

redis.register_function('proto_reserve', function(keys, args) return reserve(args) end)
redis.register_function('proto_commit', function(keys, args) return commit(args) end)

-- The calls of one tick in one script: ARGV is, per call, 'r' or 'c', its argument count, its arguments.
redis.register_function('proto_batch', function(keys, args)
  local replies, at = {}, 1
  while at <= #args do
    local op, count = args[at], tonumber(args[at + 1])
    local callArgs = {}
    for i = 1, count do callArgs[i] = args[at + 1 + i] end
    if op == 'r' then replies[#replies + 1] = reserve(callArgs) else replies[#replies + 1] = commit(callArgs) end
    at = at + 2 + count
  end
  return replies
end)
`;

export type Client = { sendCommand(args: string[]): Promise<unknown> };

/**
 * Loads the prototype's library and a chain of `depth` budgets, and returns one reserve + commit of
 * it on `client` (the same pair for the timing figures and for bench/redis-instructions.ts).
 */
export async function prototypePair(client: Client, depth: number): Promise<() => Promise<void>> {
  await client.sendCommand(["FUNCTION", "LOAD", "REPLACE", library]);
  const base = "proto:{tenant:proto}:";
  const names = Array.from({ length: depth }, (_, index) => `b${index}`);
  for (const name of names) await client.sendCommand(["HSET", `${base}limits`, name, String(Number.MAX_SAFE_INTEGER)]);
  let next = 0;
  return async () => {
    const id = `p${next++}`;
    await client.sendCommand(["FCALL", "proto_reserve", "1", `${base}limits`, base, id, "1", "60000", ...names]);
    await client.sendCommand(["FCALL", "proto_commit", "1", `${base}limits`, base, id]);
  };
}

/**
 * The same pair with the calls made in one tick sent as one FCALL of proto_batch (flushed on
 * process.nextTick, as the store's batcher does), for the many-caller figure.
 */
export async function batchedPrototypePair(client: Client, depth: number): Promise<() => Promise<void>> {
  await prototypePair(client, depth);
  const base = "proto:{tenant:proto}:";
  const names = Array.from({ length: depth }, (_, index) => `b${index}`);
  let queue: { args: string[]; resolve: (reply: unknown) => void; reject: (error: unknown) => void }[] = [];
  const flush = () => {
    const calls = queue;
    queue = [];
    const args = calls.flatMap((call) => call.args);
    client.sendCommand(["FCALL", "proto_batch", "1", `${base}limits`, ...args]).then(
      (replies) => {
        for (const [index, call] of calls.entries()) call.resolve((replies as unknown[])[index]);
      },
      (error) => {
        for (const call of calls) call.reject(error);
      },
    );
  };
  const send = (op: "r" | "c", callArgs: string[]) =>
    new Promise<unknown>((resolve, reject) => {
      if (queue.length === 0) process.nextTick(flush);
      queue.push({ args: [op, String(callArgs.length), ...callArgs], resolve, reject });
    });
  let next = 0;
  return async () => {
    const id = `q${next++}`;
    await send("r", [base, id, "1", "60000", ...names]);
    await send("c", [base, id]);
  };
}

export interface PrototypeFigures {
  pairP50Us: number;
  pairsPerSecond8: number;
  serverCpuUsPerPair: number;
  /** Pairs/s from 32 callers with the calls of a tick batched (batchedPrototypePair). */
  pairsPerSecond32Batched: number;
  serverCpuUsPerPair32Batched: number;
}

/** Runs the prototype pair on the server `url` (process `pid`): one-caller p50, 8-caller pairs/s, server CPU. */
export async function benchPrototype(url: string, pid: number, depth = 4, seconds = 3): Promise<PrototypeFigures> {
  const node = createClient({ url });
  await node.connect();
  const client = node as unknown as Client;
  try {
    const pair = await prototypePair(client, depth);
    for (let index = 0; index < 1_000; index++) await pair();
    const latencies: number[] = [];
    for (let index = 0; index < 3_000; index++) {
      const startedAt = performance.now();
      await pair();
      latencies.push((performance.now() - startedAt) * 1_000);
    }
    latencies.sort((a, b) => a - b);
    const eight = await throughputWithCpu(8, seconds, pid, pair);
    const many = await throughputWithCpu(32, seconds, pid, await batchedPrototypePair(client, depth));
    return {
      pairP50Us: latencies[Math.floor(latencies.length / 2)],
      pairsPerSecond8: eight.perSecond,
      serverCpuUsPerPair: eight.serverCpuPerOp,
      pairsPerSecond32Batched: many.perSecond,
      serverCpuUsPerPair32Batched: many.serverCpuPerOp,
    };
  } finally {
    await node.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const server = await startRedisServer({ needsOwnServer: true });
  try {
    const { stdout } = await promisify(execFile)("redis-cli", ["-p", String(server.port), "INFO", "server"]);
    const figures = await benchPrototype(server.url, Number(/process_id:(\d+)/.exec(stdout)?.[1]));
    console.log(
      `prototype reserve + commit (depth 4): p50 ${figures.pairP50Us.toFixed(0)} µs, 8 callers ${figures.pairsPerSecond8.toFixed(0)} pairs/s, redis-server CPU ${figures.serverCpuUsPerPair.toFixed(0)} µs per pair; 32 callers batched ${figures.pairsPerSecond32Batched.toFixed(0)} pairs/s, ${figures.serverCpuUsPerPair32Batched.toFixed(0)} µs per pair`,
    );
  } finally {
    await server.stop();
  }
}
