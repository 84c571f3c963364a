/**
 * A separate Node process for the multi-process tests. Modes (argv[2]):
 *   contend <url> <prefix> <attempts>  connect, print "ready", wait for "go" on stdin, then reserve 1 point
 *                                      `attempts` times on tenant:race, commit each ALLOW, and print
 *                                      {"allowed":n,"denied":n,"unavailable":n}
 *   hold <url> <prefix> <ttlMs> <graceMs>  reserve 7 points on tenant:crash, print {"held":id}, then wait to be killed
 */
import { createLedger } from "../../../src/ledger/create-ledger.js";

const [mode, url, prefix, ...rest] = process.argv.slice(2);

async function contend(attempts: number): Promise<void> {
  const ledger = createLedger({ redis: url, redisPrefix: prefix, sweepIntervalMs: 0 });
  const counts = { allowed: 0, denied: 0, unavailable: 0 };
  // Connected and warmed up before the start line, so the processes really race.
  await ledger.getBalance({ scope: "tenant:race" });
  process.stdout.write("ready\n");
  await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
  process.stdin.destroy();
  // A few callers per process, so reservations race inside and across processes.
  let next = 0;
  const caller = async () => {
    while (next < attempts) {
      next++;
      const response = await ledger.reserve({
        subject: { tenant: "race", agent: `pid-${process.pid}` },
        action: { name: "call", tier: "read" },
        estimate: 1,
      });
      if (response.reasonCode === "LEDGER_UNAVAILABLE") counts.unavailable++;
      else if (response.decision === "DENY") counts.denied++;
      else {
        counts.allowed++;
        await ledger.commit(response.reservationId as string);
      }
    }
  };
  await Promise.all([caller(), caller(), caller(), caller()]);
  process.stdout.write(`${JSON.stringify(counts)}\n`);
  await ledger.close();
}

async function hold(ttlMs: number, graceMs: number): Promise<void> {
  const ledger = createLedger({ redis: url, redisPrefix: prefix, sweepIntervalMs: 0, reservationGraceMs: graceMs });
  const response = await ledger.reserve({
    subject: { tenant: "crash" },
    action: { name: "call", tier: "read" },
    estimate: 7,
    ttlMs,
  });
  process.stdout.write(`${JSON.stringify({ held: response.reservationId, decision: response.decision })}\n`);
  // Stay alive, holding, until the test kills this process; bounded in case it never does.
  setTimeout(() => process.exit(3), 30_000);
}

if (mode === "contend") await contend(Number(rest[0]));
else if (mode === "hold") await hold(Number(rest[0]), Number(rest[1]));
else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
