import { expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { BudgetShapes, shapeOf } from "../../../src/store/redis/budget-shapes.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const subject = { tenant: "acme", workspace: "prod", agent: "resolver", toolset: "email" };
const send = { name: "send_email", tier: "write-external" as const };

describeRedis("redis store: a reserve sends only the candidate scopes whose shape has a budget", () => {
  const redis = useRedisServer();

  /** A store on the shared client that records the candidate scopes of each reserve it sends. */
  async function recordingLedger(prefix: string) {
    const sentScopes: string[][] = [];
    const client = new Proxy(redis.client, {
      get(target, property) {
        if (property === "sendCommand") {
          return (args: string[]) => {
            if (args[0] === "FCALL" && args[1].endsWith("_reserve")) {
              // FCALL fn 1 key, then ARGV: 3 common, the id, the estimate, the plan (lua/prelude.ts
              // planOf: 9 newline-separated parts, then the candidate scopes).
              sentScopes.push(args[4 + 3 + 2].split("\n").slice(9));
            }
            return target.sendCommand(args);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const store = await createRedisStore({ redis: client, prefix });
    return { ledger: new StoreLedger(store, { sweepIntervalMs: 0 }), sentScopes };
  }

  /** Reserves and releases until the store has learnt the tenant's shapes (a background read). */
  async function warm(ledger: StoreLedger, sentScopes: string[][]) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const response = await ledger.reserve({ subject, action: send, estimate: 1 });
      if (response.reservationId) await ledger.release(response.reservationId);
      if ((sentScopes.at(-1)?.length ?? 8) < 8) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error("the shapes were never learnt");
  }

  it("names a scope's levels as its shape", () => {
    expect(shapeOf("tenant:acme/agent:a.b-c")).toBe("tenant/agent");
  });

  it("reads a tenant's shapes only once it comes back, then keeps them", async () => {
    let reads = 0;
    const shapes = new BudgetShapes(async () => {
      reads++;
      return { generation: "3", fields: ["tenant:acme/toolset:x|RISK_POINTS"] };
    });
    expect(shapes.missed("tenant:acme")).toBe(false);
    expect(shapes.missed("tenant:acme")).toBe(true);
    await Promise.all([shapes.refresh("tenant:acme"), shapes.refresh("tenant:acme")]);
    expect(reads).toBe(1);
    const all = ["tenant:acme", "tenant:acme/agent:a", "tenant:acme/toolset:x", "tenant:acme/agent:a/toolset:x"];
    expect(shapes.get("tenant:acme")?.candidates("tenant:acme/agent:a/toolset:x", "RISK_POINTS", all)).toEqual([
      "tenant:acme/toolset:x",
    ]);
    expect(shapes.get("tenant:acme")?.candidates("tenant:acme/agent:a/toolset:x", "TOKENS", all)).toEqual([]);
  });

  it("filters by what exists, and a budget another process adds or removes is never missed", async () => {
    const prefix = uniquePrefix("shapes");
    const first = await recordingLedger(prefix);
    const other = await recordingLedger(prefix);
    await first.ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await first.ledger.setBudget({ scope: "tenant:acme/workspace:prod/toolset:email", limit: 100 });
    await warm(first.ledger, first.sentScopes);
    // 8 candidates (every subset of workspace, agent, toolset), 2 shapes with a budget.
    expect(first.sentScopes.at(-1)).toEqual(["tenant:acme", "tenant:acme/workspace:prod/toolset:email"]);

    // Another process revokes the action with a zero budget on a shape this one has not seen.
    await other.ledger.setBudget({ scope: "tenant:acme/agent:resolver", limit: 0 });
    expect(await first.ledger.reserve({ subject, action: send, estimate: 1 })).toMatchObject({
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
      deniedScope: "tenant:acme/agent:resolver",
    });
    expect(first.sentScopes.at(-1)).toContain("tenant:acme/agent:resolver");

    // ...and grants it again by removing that budget: the next reserve sees only what is left.
    await other.ledger.removeBudget({ scope: "tenant:acme/agent:resolver" });
    const allowed = await first.ledger.reserve({ subject, action: send, estimate: 1 });
    expect(allowed.decision).toBe("ALLOW");
    expect(allowed.balances.map((balance) => balance.scope)).toEqual([
      "tenant:acme",
      "tenant:acme/workspace:prod/toolset:email",
    ]);
    expect(first.sentScopes.at(-1)).toHaveLength(2);

    // Changing a limit keeps the shapes: no refresh needed, the new limit applies at once.
    await other.ledger.setBudget({ scope: "tenant:acme", limit: 1 });
    expect(await first.ledger.reserve({ subject, action: send, estimate: 1 })).toMatchObject({
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
      deniedScope: "tenant:acme",
    });
    await first.ledger.close();
    await other.ledger.close();
  });

  it("a decide (dry run) is filtered and checked the same way", async () => {
    const prefix = uniquePrefix("shapes-decide");
    const first = await recordingLedger(prefix);
    const other = await recordingLedger(prefix);
    await first.ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await warm(first.ledger, first.sentScopes);
    await other.ledger.setBudget({ scope: "tenant:acme/workspace:prod/agent:resolver/toolset:email", limit: 0 });
    expect(await first.ledger.decide({ subject, action: send, estimate: 1 })).toMatchObject({
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
    });
    await first.ledger.close();
    await other.ledger.close();
  });
});
