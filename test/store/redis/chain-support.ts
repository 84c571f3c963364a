import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SigningKey } from "../../../src/evidence/keys.js";
import { type EvidenceConfig, parseEvidenceOptions } from "../../../src/evidence/options.js";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore, type RedisLedgerStore } from "../../../src/store/redis/index.js";

/** A Redis store with evidence on; the linker's timer is slow so a test links by flush or export. */
export async function chainedStore(
  redis: unknown,
  prefix: string,
  key: SigningKey | undefined,
  overrides: Partial<EvidenceConfig> & { auditEventsMax?: number } = {},
): Promise<{ store: RedisLedgerStore; ledger: StoreLedger }> {
  const { auditEventsMax, ...evidence } = overrides;
  const store = (await createRedisStore({
    redis,
    prefix,
    auditEventsMax,
    evidence: { ...parseEvidenceOptions({ linkIntervalMs: 60_000 }), signingKey: key, ...evidence },
  })) as RedisLedgerStore;
  return { store, ledger: new StoreLedger(store, { sweepIntervalMs: 0 }) };
}

/** reserve + commit `pairs` times on tenant:acme (two events each). */
export async function spend(ledger: StoreLedger, pairs: number, tenant = "acme"): Promise<void> {
  for (let index = 0; index < pairs; index++) {
    const held = await ledger.reserve({
      subject: { tenant, agent: "a1" },
      action: { name: "search", tier: "read" },
      estimate: 2,
    });
    if (held.reservationId) await ledger.commit(held.reservationId, { actual: 1 });
  }
}

const workerPath = fileURLToPath(new URL("./chain-worker.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const chainWorkers = new Set<ChildProcess>();

/** Starts chain-worker.ts with `args`; the key's PEM goes by environment. */
export function startChainWorker(
  args: string[],
  pem: string,
): { child: ChildProcess; lines: AsyncIterableIterator<string>; done: Promise<number> } {
  const child = spawn(process.execPath, ["--import", "tsx", workerPath, ...args], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, TOLLGATE_TEST_PEM: pem },
  });
  chainWorkers.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-2_000);
  });
  const done = new Promise<number>((resolve) =>
    child.once("exit", (code) => {
      chainWorkers.delete(child);
      if (code) console.error(`chain worker exited ${code}: ${stderr}`);
      resolve(code ?? -1);
    }),
  );
  return { child, lines: linesOf(child), done };
}

async function* linesOf(child: ChildProcess): AsyncIterableIterator<string> {
  let buffer = "";
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    buffer += chunk.toString();
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
    }
  }
}

export async function nextLine(lines: AsyncIterableIterator<string>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no output from the worker within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const next = await Promise.race([lines.next(), timeout]);
    if (next.done) throw new Error("the worker exited without output");
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}
