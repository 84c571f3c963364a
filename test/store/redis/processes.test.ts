import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import { nextLine, startWorker as startProcess, type Worker } from "../../helpers/worker-process.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const workerPath = fileURLToPath(new URL("./worker.ts", import.meta.url));
const children = new Set<ChildProcess>();

function startWorker(args: string[]): Worker {
  return startProcess(workerPath, args, children);
}

describeRedis("redis store across processes", () => {
  const redis = useRedisServer();

  afterEach(() => {
    for (const child of children) child.kill("SIGKILL");
  });

  it("four processes racing for one budget are allowed exactly the budget, and the totals agree", async () => {
    const prefix = uniquePrefix("race");
    const limit = 150;
    const ledger = createLedger({ redis: redis.server.url, redisPrefix: prefix, sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:race", limit });
    const workers = Array.from({ length: 4 }, () => startWorker(["contend", redis.server.url, prefix, "100"]));
    const ready = await Promise.all(workers.map((worker) => nextLine(worker.lines, 40_000)));
    expect(ready).toEqual(["ready", "ready", "ready", "ready"]);
    for (const worker of workers) worker.child.stdin?.end("go\n");
    const results = await Promise.all(workers.map((worker) => nextLine(worker.lines, 20_000)));
    expect(await Promise.all(workers.map((worker) => worker.done))).toEqual([0, 0, 0, 0]);

    const counts = results.map((line) => JSON.parse(line) as { allowed: number; denied: number; unavailable: number });
    expect(counts.reduce((sum, count) => sum + count.unavailable, 0)).toBe(0);
    expect(counts.reduce((sum, count) => sum + count.allowed, 0)).toBe(limit);
    expect(counts.reduce((sum, count) => sum + count.denied, 0)).toBe(400 - limit);
    // Every process got some: they really raced.
    for (const count of counts) expect(count.allowed).toBeGreaterThan(0);

    expect(await ledger.getBalance({ scope: "tenant:race" })).toMatchObject({
      allocated: limit,
      spent: limit,
      reserved: 0,
      remaining: 0,
    });
    const events = await ledger.audit({ scope: "tenant:race", limit: 10_000 });
    expect(events.filter((event) => event.type === "reserve" && event.decision === "ALLOW")).toHaveLength(limit);
    expect(events.filter((event) => event.type === "commit")).toHaveLength(limit);
    expect(events.filter((event) => event.type === "reserve" && event.decision === "DENY")).toHaveLength(400 - limit);
    await ledger.close();
  }, 60_000);

  it("a process killed while holding loses nothing for good: its hold returns after TTL + grace", async () => {
    const prefix = uniquePrefix("crash");
    const ttlMs = 600;
    const graceMs = 300;
    const ledger = createLedger({ redis: redis.server.url, redisPrefix: prefix, sweepIntervalMs: 50 });
    await ledger.setBudget({ scope: "tenant:crash", limit: 10 });
    const worker = startWorker(["hold", redis.server.url, prefix, String(ttlMs), String(graceMs)]);
    const held = JSON.parse(await nextLine(worker.lines, 20_000)) as { held: string; decision: string };
    expect(held.decision).toBe("ALLOW");
    const heldAtMs = Date.now();
    worker.child.kill("SIGKILL");
    await worker.done;

    // Before TTL + grace the points stay held: the dead process might still have been running the tool.
    const before = await ledger.getBalance({ scope: "tenant:crash" });
    if (Date.now() - heldAtMs < ttlMs) expect(before).toMatchObject({ reserved: 7, remaining: 3 });

    let balance = before;
    while (balance?.reserved !== 0 && Date.now() - heldAtMs < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      balance = await ledger.getBalance({ scope: "tenant:crash" });
    }
    expect(balance).toMatchObject({ spent: 0, reserved: 0, remaining: 10 });
    expect(Date.now() - heldAtMs).toBeGreaterThanOrEqual(ttlMs + graceMs - 100);
    expect(await ledger.getReservation(held.held)).toMatchObject({ status: "expired" });
    const expiry = (await ledger.audit({ scope: "tenant:crash", type: "expire" }))[0];
    expect(expiry).toMatchObject({ reservationId: held.held, amount: 7 });
    await expect(ledger.commit(held.held)).rejects.toMatchObject({ code: "RESERVATION_EXPIRED" });
    await ledger.close();
  }, 30_000);
});
