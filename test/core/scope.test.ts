import { describe, expect, it } from "vitest";
import { applicableScopes, parseScopeId, scopeIdOf } from "../../src/core/scope.js";

describe("scope ids", () => {
  it("orders levels canonically and skips absent ones", () => {
    expect(scopeIdOf({ toolset: "send-email", tenant: "acme", agent: "resolver" } as never)).toBe(
      "tenant:acme/agent:resolver/toolset:send-email",
    );
  });

  it("round-trips through parseScopeId", () => {
    const id =
      "tenant:acme/workspace:production/app:support-bot/workflow:billing-dispute/agent:resolver/toolset:send-email";
    expect(scopeIdOf(parseScopeId(id))).toBe(id);
  });

  it("rejects smuggled separators instead of escaping them into another scope", () => {
    expect(() => scopeIdOf({ tenant: "acme/toolset:x" })).toThrow(/subject.tenant/);
    expect(() => scopeIdOf({ tenant: "acme", agent: "a:b" })).toThrow(/subject.agent/);
    expect(() => parseScopeId("tenant:acme/agent:a/workspace:b")).toThrow(/out of order/);
    expect(() => parseScopeId("tenant:acme/tenant:other")).toThrow(/out of order/);
  });

  it("lists every scope an action draws on, outermost first", () => {
    expect(applicableScopes("tenant:acme/agent:resolver/toolset:send-email")).toEqual([
      "tenant:acme",
      "tenant:acme/agent:resolver",
      "tenant:acme/toolset:send-email",
      "tenant:acme/agent:resolver/toolset:send-email",
    ]);
    expect(applicableScopes("tenant:acme/workspace:w/app:a/workflow:f/agent:r/toolset:t")).toHaveLength(32);
  });
});
