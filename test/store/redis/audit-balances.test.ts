import { expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const read = { name: "lookup", tier: "read" as const };
const levels = ["tenant", "workspace", "app", "workflow", "agent", "toolset"] as const;

/** appendAudit (lua/prelude.ts) joins an event's balances four at a time: chains of 1 to 6 budgets. */
describeRedis("redis store: an audit event's balances on chains of any length", () => {
  const redis = useRedisServer();

  for (let depth = 1; depth <= 6; depth++) {
    it(`names all ${depth} budgets of the chain, in order, with what each has left`, async () => {
      const store = await createRedisStore({ redis: redis.client, prefix: uniquePrefix("audit-balances") });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      const subject = Object.fromEntries(levels.slice(0, depth).map((level) => [level, `${level}-x`]));
      const scopes = levels.slice(0, depth).map((_, index) =>
        levels
          .slice(0, index + 1)
          .map((level) => `${level}:${level}-x`)
          .join("/"),
      );
      for (const [index, scope] of scopes.entries()) await ledger.setBudget({ scope, limit: 100 + index });
      for (let round = 0; round < 2; round++) {
        const held = await ledger.reserve({ subject: subject as never, action: read, estimate: 3 });
        await ledger.commit(held.reservationId as string, { actual: 2 });
      }
      const [commit] = await ledger.audit({ type: "commit", limit: 1 });
      expect(commit.balances).toEqual(
        scopes.map((scope, index) => ({ scope, allocated: 100 + index, remaining: 100 + index - 4 })),
      );
      await ledger.close();
    });
  }
});
