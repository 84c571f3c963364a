import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SigningKey } from "../../../src/evidence/keys.js";
import { type EvidenceConfig, parseEvidenceOptions } from "../../../src/evidence/options.js";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore, type RedisLedgerStore } from "../../../src/store/redis/index.js";
import { startWorker, type Worker } from "../../helpers/worker-process.js";

export { nextLine } from "../../helpers/worker-process.js";

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
export const chainWorkers = new Set<ChildProcess>();

/** Starts chain-worker.ts with `args`; the key's PEM goes by environment. */
export function startChainWorker(args: string[], pem: string): Worker {
  return startWorker(workerPath, args, chainWorkers, { ...process.env, TOLLGATE_TEST_PEM: pem });
}
