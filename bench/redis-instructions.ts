/**
 * Instructions redis-server executes per call, counted by callgrind: ours (reserve, commit, decide,
 * a reserve + commit; depth 4, a budget on every level) beside the minimal prototype's pair
 * (bench/redis-prototype.ts) and a PING, on one server under valgrind in one run. A count does not
 * move with the machine's load or a neighbour's steal the way CPU time does, so this is the figure to
 * compare two versions of the Lua by: run it in both checkouts. Needs valgrind (Debian package).
 *
 *   npm run bench -- instructions          npx tsx bench/redis-instructions.ts [calls=300]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@redis/client";
import { createLedger } from "../src/ledger/create-ledger.js";
import { createRedisStore } from "../src/store/redis/index.js";
import { freePort, hasBinary, redisServerBinary, stopChild, waitForPong } from "../test/helpers/redis-server.js";
import { pair, scopesOf, subjectAtDepth } from "./redis.js";
import { type Client, prototypePair } from "./redis-prototype.js";
import { target } from "./targets.js";

/** Under valgrind a call takes ~50× longer: timeouts far beyond the store's defaults. */
const slowMs = 120_000;
const depth = 4;

/** The instruction total of a callgrind dump ("summary:" in a dump, "totals:" in older formats). */
export function instructionsInDump(text: string): number {
  const line = text.split("\n").find((row) => row.startsWith("summary:") || row.startsWith("totals:"));
  const count = Number(line?.split(/\s+/)[1]);
  if (!Number.isSafeInteger(count) || count < 0) throw new Error("no instruction total in the callgrind dump");
  return count;
}

/** The dump written last: callgrind numbers them <file>.1, <file>.2, ... */
export function newestDump(names: readonly string[], base: string): string | undefined {
  let newest: { name: string; index: number } | undefined;
  for (const name of names) {
    const match = name.startsWith(`${base}.`) ? /^\d+$/.exec(name.slice(base.length + 1)) : null;
    const index = match ? Number(match[0]) : -1;
    if (index >= 0 && (!newest || index > newest.index)) newest = { name, index };
  }
  return newest?.name;
}

export async function benchInstructions(calls = 300): Promise<string[]> {
  if (!hasBinary("valgrind") || !hasBinary("callgrind_control") || !hasBinary(redisServerBinary)) {
    return ["instructions: skipped, needs valgrind and redis-server (apt-get install valgrind redis-server)"];
  }
  const dir = mkdtempSync(join(tmpdir(), "tollgate-callgrind-"));
  const port = await freePort();
  const server = spawn(
    "valgrind",
    ["--tool=callgrind", `--callgrind-out-file=${join(dir, "cg.out")}`, redisServerBinary].concat([
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ]),
    { stdio: "ignore" },
  );
  try {
    await waitForPong(port, slowMs);
    return await measure(server, dir, `redis://127.0.0.1:${port}`, calls);
  } finally {
    await stopChild(server, "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(server: ChildProcess, dir: string, url: string, calls: number): Promise<string[]> {
  const pid = String(server.pid);
  const count = async (label: string, body: () => Promise<void>): Promise<number> => {
    execFileSync("callgrind_control", ["-z", pid], { stdio: "ignore" });
    await body();
    execFileSync("callgrind_control", ["-d", label, pid], { stdio: "ignore" });
    const dump = newestDump(readdirSync(dir), "cg.out");
    if (!dump) throw new Error("callgrind wrote no dump");
    return instructionsInDump(readFileSync(join(dir, dump), "utf8")) / calls;
  };
  const times = (body: () => Promise<unknown>) => async () => {
    for (let index = 0; index < calls; index++) await body();
  };
  const store = await createRedisStore({ redis: url, commandTimeoutMs: slowMs, readyWaitMs: slowMs });
  const ledger = createLedger({ store, sweepIntervalMs: 0, storeTimeoutMs: slowMs });
  const node = createClient({ url });
  await node.connect();
  try {
    const subject = subjectAtDepth(depth);
    for (const scope of scopesOf(subject)) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
    const read = { name: "lookup", tier: "read" as const };
    await times(() => pair(ledger, subject))();
    const held: string[] = [];
    const reserve = await count("reserve", async () => {
      for (let index = 0; index < calls; index++) {
        held.push((await ledger.reserve({ subject, action: read, estimate: 1 })).reservationId as string);
      }
    });
    const commit = await count("commit", async () => {
      for (const id of held) await ledger.commit(id);
    });
    const decide = await count(
      "decide",
      times(() => ledger.decide({ subject, action: read, estimate: 1 })),
    );
    const ours = await count(
      "pair",
      times(() => pair(ledger, subject)),
    );
    const client = node as unknown as Client;
    const prototype = await prototypePair(client, depth);
    await times(prototype)();
    const prototypeCount = await count("prototype", times(prototype));
    const ping = await count(
      "ping",
      times(() => client.sendCommand(["PING"])),
    );
    const k = (n: number) => `${Math.round(n / 1_000).toLocaleString("en-US")}k`;
    return [
      `## redis-server instructions per call (callgrind, depth ${depth}, ${calls} calls each)`,
      `reserve ${k(reserve)}, commit ${k(commit)}, decide ${k(decide)}; PING ${(ping / 1_000).toFixed(1)}k`,
      target({
        name: "redis-server instructions per reserve + commit",
        value: Math.round(ours),
        unit: "instructions",
        comparison: "report",
      }),
      target({
        name: "prototype pair (bench/redis-prototype.ts): redis-server instructions",
        value: Math.round(prototypeCount),
        unit: "instructions",
        comparison: "report",
      }),
      target({
        name: "reserve + commit instructions / the prototype's",
        value: ours / prototypeCount,
        unit: "×",
        comparison: "report",
      }),
      target({ name: "reserve + commit instructions / a PING's", value: ours / ping, unit: "×", comparison: "report" }),
    ];
  } finally {
    await ledger.close();
    await node.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const calls = Number(process.argv[2] ?? 300);
  for (const line of await benchInstructions(calls)) console.log(line);
}
