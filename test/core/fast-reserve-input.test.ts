import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fastReserveInput } from "../../src/core/fast-reserve-input.js";
import { reserveSchema } from "../../src/core/schemas.js";
import { scopeIdOf } from "../../src/core/scope.js";

const value = fc.oneof(
  fc.constantFrom("acme", "a.b-c_d", "", "a/b", "a:b", "x".repeat(128), "x".repeat(129), " "),
  fc.string({ maxLength: 6 }),
  fc.integer(),
  fc.constant(undefined),
);
const input = fc.record(
  {
    subject: fc.record(
      { tenant: value, workspace: value, agent: value, toolset: value, team: value },
      { requiredKeys: ["tenant"] },
    ),
    action: fc.record(
      {
        name: fc.oneof(fc.constantFrom("send_email", ""), fc.string({ maxLength: 4 })),
        tier: fc.constantFrom("read", "execution", "nuclear"),
        kind: fc.option(fc.string(), { nil: undefined }),
        extra: fc.string(),
      },
      { requiredKeys: ["name", "tier"] },
    ),
    estimate: fc.oneof(fc.integer({ min: -2, max: 100 }), fc.double(), fc.constant(2 ** 53)),
    unit: fc.constantFrom("RISK_POINTS", "TOKENS", "DOLLARS"),
    runId: fc.string({ maxLength: 3 }),
    ttlMs: fc.oneof(fc.integer({ min: -1, max: 100_000_000 }), fc.double()),
    overagePolicy: fc.constantFrom("REJECT", "ALLOW_IF_AVAILABLE", "NEVER"),
  },
  { requiredKeys: ["subject", "action", "estimate"] },
);

describe("fastReserveInput", () => {
  it("accepts only what the zod schema accepts, and builds the same scope id", () => {
    fc.assert(
      fc.property(input, (candidate) => {
        const fast = fastReserveInput(candidate);
        const slow = reserveSchema.safeParse(candidate);
        if (fast) {
          expect(slow.success).toBe(true);
          if (slow.success) expect(fast.scopeId).toBe(scopeIdOf(slow.data.subject));
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("refuses an unknown subject key even when its value is undefined, as the schema does", () => {
    const candidate = {
      subject: { tenant: "acme", team: undefined },
      action: { name: "x", tier: "read" },
      estimate: 1,
    };
    expect(reserveSchema.safeParse(candidate).success).toBe(false);
    expect(fastReserveInput(candidate)).toBeUndefined();
  });

  it("takes the common, well-formed request", () => {
    const fast = fastReserveInput({
      subject: { tenant: "acme", workspace: "production", agent: "resolver", toolset: "send-email" },
      action: { name: "send_email", tier: "write-external" },
      estimate: 20,
      runId: "thread-1",
    });
    expect(fast?.scopeId).toBe("tenant:acme/workspace:production/agent:resolver/toolset:send-email");
  });

  it("answers a fresh copy, reading every field of the caller's object exactly once", () => {
    const reads = new Map<string, number>();
    const counted = <T extends object>(prefix: string, value: T): T =>
      new Proxy(value, {
        get(target, key, receiver) {
          if (typeof key === "string") reads.set(`${prefix}${key}`, (reads.get(`${prefix}${key}`) ?? 0) + 1);
          return Reflect.get(target, key, receiver);
        },
      });
    const subject = counted("subject.", { tenant: "acme", agent: "resolver" });
    const action = counted("action.", { name: "send_email", tier: "write-external" });
    const candidate = counted("", { subject, action, estimate: 20, runId: "thread-1", idempotencyKey: "k" });
    const fast = fastReserveInput(candidate);
    const readsByTheCall = [...reads];
    expect(fast?.scopeId).toBe("tenant:acme/agent:resolver");
    expect(fast?.input).not.toBe(candidate);
    expect(fast?.input.subject).not.toBe(subject);
    expect(fast?.input.action).not.toBe(action);
    for (const [field, count] of readsByTheCall) expect(count, field).toBe(1);
    expect(readsByTheCall).toContainEqual(["estimate", 1]);
    expect(readsByTheCall).toContainEqual(["subject.tenant", 1]);
    // Nothing done to the caller's object afterwards reaches the copy.
    (candidate as { estimate: number }).estimate = -1_000;
    (subject as { tenant: string }).tenant = "victim";
    expect(fast?.input).toMatchObject({ estimate: 20, subject: { tenant: "acme" }, idempotencyKey: "k" });
  });

  it("answers undefined (the zod path then names the field) when a read throws", () => {
    const candidate = {
      subject: { tenant: "acme" },
      action: { name: "a", tier: "read" },
      get estimate(): number {
        throw new Error("no");
      },
    };
    expect(fastReserveInput(candidate)).toBeUndefined();
  });
});
