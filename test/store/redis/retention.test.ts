import { expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const read = { name: "lookup", tier: "read" as const };
const dayMs = 86_400_000;

describeRedis("redis store retention: every log and index is bounded", () => {
  const redis = useRedisServer();

  async function open(
    options: { auditEventsMax?: number; settledReservationsMax?: number; idempotencyKeysMax?: number } = {},
  ) {
    let offsetMs = 0;
    const prefix = uniquePrefix("retention");
    const store = await createRedisStore({ redis: redis.client, prefix, timeOffsetMs: () => offsetMs, ...options });
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    return {
      ledger,
      key: (suffix: string) => `${prefix}:{tenant:acme}:${suffix}`,
      advance: (ms: number) => {
        offsetMs += ms;
      },
    };
  }

  it("drops idle window counters, keeps lifetime ones", async () => {
    const { ledger, key, advance } = await open();
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    await ledger.setBudget({ scope: "tenant:acme/agent:a", limit: 10, window: "run" });
    for (const runId of ["r1", "r2", "r3"]) {
      const response = await ledger.reserve({
        subject: { tenant: "acme", agent: "a" },
        action: read,
        estimate: 2,
        runId,
      });
      await ledger.commit(response.reservationId as string);
    }
    // The counters hash also mirrors the definitions version ("~ver", see lua/prelude.ts).
    const counterFields = async () =>
      ((await redis.client.sendCommand(["HKEYS", key("counters")])) as string[]).filter((f) => !f.startsWith("~"));
    expect(await counterFields()).toHaveLength(4); // lifetime + three runs

    advance(8 * dayMs); // past the 7-day idle retention of run windows
    const later = await ledger.reserve({
      subject: { tenant: "acme", agent: "a" },
      action: read,
      estimate: 2,
      runId: "r4",
    });
    await ledger.commit(later.reservationId as string);
    expect(await counterFields()).toHaveLength(2); // lifetime + r4
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 8 });
    expect(await ledger.getBalance({ scope: "tenant:acme/agent:a", runId: "r1" })).toMatchObject({ spent: 0 });
    await ledger.close();
  });

  it("caps the audit stream, expires idempotency records and settled reservations", async () => {
    const auditEventsMax = 50;
    const { ledger, key } = await open({ auditEventsMax });
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000_000 });
    for (let n = 0; n < 400; n++) await ledger.decide({ subject: { tenant: "acme" }, action: read, estimate: 1 });
    for (let n = 0; n < 300; n++) {
      await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1, idempotencyKey: `k${n}` });
    }
    // Approximate trimming keeps the stream within one stream node (100 entries) of the cap.
    const length = Number(await redis.client.sendCommand(["XLEN", key("audit")]));
    expect(length).toBeGreaterThanOrEqual(auditEventsMax);
    expect(length).toBeLessThanOrEqual(auditEventsMax + 100);
    const events = await ledger.audit({ scope: "tenant:acme", limit: 1_000 });
    expect(events.length).toBe(length);
    expect(events.at(-1)?.seq).toBe(301); // budget.set + 300 reserves; decide writes nothing
    expect(events.map((event) => event.seq)).toEqual([...events.map((event) => event.seq)].sort((a, b) => a - b));

    const idempotencyTtlMs = Number(await redis.client.sendCommand(["PTTL", key("i:reserve:k0")]));
    expect(idempotencyTtlMs).toBeGreaterThan(dayMs - 60_000);
    expect(idempotencyTtlMs).toBeLessThanOrEqual(dayMs);

    const response = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1 });
    const id = response.reservationId as string;
    expect(Number(await redis.client.sendCommand(["PTTL", key(`r:${id}`)]))).toBe(-1); // held: kept
    await ledger.commit(id);
    const settledTtlMs = Number(await redis.client.sendCommand(["PTTL", key(`r:${id}`)]));
    expect(settledTtlMs).toBeGreaterThan(3_500_000);
    expect(settledTtlMs).toBeLessThanOrEqual(3_600_000);
    await ledger.close();
  });

  it("keeps at most settledReservationsMax settled reservations and idempotencyKeysMax records per tenant", async () => {
    const { ledger, key } = await open({ settledReservationsMax: 5, idempotencyKeysMax: 5 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) {
      const response = await ledger.reserve({
        subject: { tenant: "acme" },
        action: read,
        estimate: 1,
        idempotencyKey: `k${n}`,
      });
      ids.push(response.reservationId as string);
      await ledger.release(response.reservationId as string);
    }
    expect(await ledger.getReservation(ids[0])).toBeNull();
    expect(await ledger.getReservation(ids[9])).toMatchObject({ status: "released" });
    expect(await redis.client.sendCommand(["LLEN", key("settled")])).toBe(5);
    expect(await redis.client.sendCommand(["LLEN", key("idempotency")])).toBe(5);
    // k0 was forgotten: a retry now is a new request (retention is documented for this reason).
    const again = await ledger.reserve({
      subject: { tenant: "acme" },
      action: read,
      estimate: 1,
      idempotencyKey: "k0",
    });
    expect(again.replayed).toBeUndefined();
    expect(again.reservationId).not.toBe(ids[0]);
    const retry = await ledger.reserve({
      subject: { tenant: "acme" },
      action: read,
      estimate: 1,
      idempotencyKey: "k9",
    });
    expect(retry).toMatchObject({ replayed: true, reservationId: ids[9] });
    await ledger.close();
  });

  it("trims settled reservations in batches: never more than settledReservationsMax plus 1/64 of it, the newest kept", async () => {
    const settledReservationsMax = 256; // a slack of 4
    const { ledger, key } = await open({ settledReservationsMax });
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000_000 });
    const ids: string[] = [];
    const lengths: number[] = [];
    for (let n = 0; n < 300; n++) {
      const response = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1 });
      ids.push(response.reservationId as string);
      await ledger.commit(response.reservationId as string);
      lengths.push(Number(await redis.client.sendCommand(["LLEN", key("settled")])));
    }
    expect(Math.max(...lengths)).toBe(settledReservationsMax + 4);
    expect(lengths.at(-1)).toBeGreaterThanOrEqual(settledReservationsMax);
    // What the list forgot is gone, what it keeps is there: the newest settledReservationsMax at least.
    const kept = lengths.at(-1) as number;
    for (const id of ids.slice(0, ids.length - kept)) expect(await ledger.getReservation(id)).toBeNull();
    for (const id of ids.slice(-settledReservationsMax)) {
      expect(await redis.client.sendCommand(["EXISTS", key(`r:${id}`)])).toBe(1);
    }
    await ledger.close();
  });

  it("merges audit events of several tenants by time, newest last", async () => {
    const { ledger } = await open();
    for (const tenant of ["a", "b", "c"]) await ledger.setBudget({ scope: `tenant:${tenant}`, limit: 10 });
    const order: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const tenant of ["c", "a", "b"]) {
        await ledger.reserve({ subject: { tenant }, action: read, estimate: 1 });
        order.push(`tenant:${tenant}`);
      }
    }
    const reserves = (await ledger.audit({ type: "reserve" })).map((event) => event.scope);
    expect(reserves).toEqual(order);
    expect((await ledger.audit({ type: "reserve", limit: 2 })).map((event) => event.scope)).toEqual(order.slice(-2));
    await ledger.close();
  });
});
