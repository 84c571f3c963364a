/**
 * A separate Node process for the chain tests: a Redis store with evidence on and its own linker.
 * The signing key's PEM comes in TOLLGATE_TEST_PEM. Modes (argv[2]):
 *   contend <url> <prefix> <attempts>  print "ready", wait for "go" on stdin, then reserve + commit
 *                                      `attempts` times on tenant:race from 4 callers, close (the
 *                                      linker links what is left) and print {"allowed":n,"other":n}
 *   write <url> <prefix> <pairs>       reserve + commit `pairs` times on tenant:crash with a linker
 *                                      that has not linked yet, print "written", wait to be killed
 */

import { parseEvidenceOptions } from "../../../src/evidence/options.js";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";

const [mode, url, prefix, count] = process.argv.slice(2);

async function ledgerWith(linkIntervalMs: number): Promise<StoreLedger> {
  const evidence = parseEvidenceOptions({
    privateKey: process.env.TOLLGATE_TEST_PEM,
    keyId: "k1",
    checkpointEveryEvents: 100,
    linkIntervalMs,
  });
  return new StoreLedger(await createRedisStore({ redis: url, prefix, evidence }), { sweepIntervalMs: 0 });
}

async function pair(ledger: StoreLedger, tenant: string): Promise<boolean> {
  const held = await ledger.reserve({
    subject: { tenant, agent: `pid-${process.pid}` },
    action: { name: "call", tier: "read" },
    estimate: 1,
  });
  if (!held.reservationId) return false;
  const committed = await ledger.commit(held.reservationId);
  return committed.ok;
}

async function contend(attempts: number): Promise<void> {
  const ledger = await ledgerWith(20);
  await ledger.getBalance({ scope: "tenant:race" });
  process.stdout.write("ready\n");
  await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
  process.stdin.destroy();
  const counts = { allowed: 0, other: 0 };
  let next = 0;
  const caller = async () => {
    while (next < attempts) {
      next++;
      if (await pair(ledger, "race")) counts.allowed++;
      else counts.other++;
    }
  };
  await Promise.all([caller(), caller(), caller(), caller()]);
  await ledger.close();
  process.stdout.write(`${JSON.stringify(counts)}\n`);
}

async function write(pairs: number): Promise<void> {
  const ledger = await ledgerWith(60_000);
  for (let index = 0; index < pairs; index++) await pair(ledger, "crash");
  process.stdout.write("written\n");
  setTimeout(() => process.exit(3), 30_000);
}

if (mode === "contend") await contend(Number(count));
else if (mode === "write") await write(Number(count));
else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
