import { ToolMessage } from "@langchain/core/messages";
import { RunnableLambda } from "@langchain/core/runnables";
import { tool } from "@langchain/core/tools";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { TollgateError, ValidationError } from "../../../src/core/errors.js";
import { BudgetExceededError } from "../../../src/integrations/errors.js";
import { guard } from "../../../src/integrations/langchain/guard.js";
import { guardTool } from "../../../src/integrations/langchain/guard-tool.js";
import { withReservedCall } from "../../../src/integrations/shared/context.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";

const subject = { tenant: "acme", workspace: "production", agent: "resolver" };
const emailScope = "tenant:acme/toolset:send-email";
let ledger: Ledger;

afterEach(async () => {
  await ledger?.close();
});

async function ledgerWithEmailBudget(limit = 100): Promise<Ledger> {
  ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: emailScope, limit });
  return ledger;
}

describe("guard(spec, fn)", () => {
  it("runs five 20-point emails on a 100-point budget and denies the sixth without running it", async () => {
    await ledgerWithEmailBudget();
    let sent = 0;
    const sendEmail = guard(
      { ledger, subject, toolset: "send-email", tier: "write-external", estimate: 20 },
      async function sendEmail(to: string) {
        sent++;
        return `sent to ${to}`;
      },
    );
    for (let index = 0; index < 5; index++) await expect(sendEmail(`c${index}@example.com`)).resolves.toMatch(/sent/);
    const denied = await sendEmail("c6@example.com").catch((error) => error);
    expect(denied).toBeInstanceOf(BudgetExceededError);
    expect(denied).toBeInstanceOf(TollgateError);
    expect(denied.code).toBe("BUDGET_EXCEEDED");
    expect(denied.reasonCode).toBe("BUDGET_EXCEEDED");
    expect(denied.decision).toBe("DENY");
    expect(denied.deniedScope).toBe(emailScope);
    expect(denied.action).toMatchObject({
      name: "sendEmail",
      tier: "write-external",
      toolset: "send-email",
      estimate: 20,
    });
    expect(sent).toBe(5);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 100, reserved: 0, remaining: 0 });
  });

  it("charges an estimate computed from the arguments and commits the actual", async () => {
    await ledgerWithEmailBudget();
    const broadcast = guard(
      {
        ledger,
        subject,
        toolset: "send-email",
        tier: "write-external",
        estimate: (args: { to: string[] }) => 20 * args.to.length,
        actual: (_args, result: { delivered: number }) => 20 * result.delivered,
      },
      async (args: { to: string[] }) => ({ delivered: args.to.length - 1 }),
    );
    await broadcast({ to: ["a", "b", "c"] });
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 40, reserved: 0 });
    // Five recipients need 100 points; only 60 are left: denied before anything is held.
    await expect(broadcast({ to: ["a", "b", "c", "d", "e"] })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 40, reserved: 0 });
  });

  it("releases the hold when the function throws", async () => {
    await ledgerWithEmailBudget();
    const failing = guard(
      { ledger, subject, toolset: "send-email", tier: "write-external", estimate: 20 },
      async () => {
        throw new Error("smtp down");
      },
    );
    await expect(failing(undefined)).rejects.toThrow("smtp down");
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 0, reserved: 0, remaining: 100 });
    const events = await ledger.audit({ scope: "tenant:acme" });
    expect(events.map((event) => event.type)).toEqual(["budget.set", "reserve", "release"]);
  });

  it("takes the ledger and subject from the run config, per tenant", async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 20 });
    await ledger.setBudget({ scope: "tenant:globex/toolset:send-email", limit: 40 });
    const sendEmail = guard({ toolset: "send-email", tier: "write-external", estimate: 20 }, async () => "ok");
    const configFor = (tenant: string) => ({ configurable: { tollgate: { ledger, subject: { tenant } } } });
    await sendEmail(undefined, configFor("acme"));
    await expect(sendEmail(undefined, configFor("acme"))).rejects.toBeInstanceOf(BudgetExceededError);
    await sendEmail(undefined, configFor("globex"));
    await sendEmail(undefined, configFor("globex"));
    expect(await ledger.getBalance({ scope: "tenant:globex/toolset:send-email" })).toMatchObject({ spent: 40 });
  });

  it("names the bad field of a spec, and a missing subject", async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    const negative = (() =>
      guard({ ledger, subject, toolset: "x", tier: "read", estimate: -1 }, async () => 1)) as () => unknown;
    expect(negative).toThrow(ValidationError);
    expect(issuePaths(negative)).toEqual(["estimate"]);
    const badTier = () => guard({ ledger, subject, toolset: "x", tier: "nope" as never }, async () => 1);
    expect(issuePaths(badTier)).toEqual(["tier"]);
    const noSubject = guard({ ledger, toolset: "x", tier: "read", estimate: 1 }, async () => 1);
    const error = await noSubject(undefined).catch((caught) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues.map((issue: { path: string }) => issue.path)).toEqual(["subject"]);
    const badEstimateFn = guard({ ledger, subject, toolset: "x", tier: "read", estimate: () => -5 }, async () => 1);
    const fnError = await badEstimateFn(undefined).catch((caught) => caught);
    expect(fnError.issues[0].path).toBe("estimate");
  });
});

describe("guardTool(tool, spec)", () => {
  function emailTool(counter: { sent: number }) {
    return tool(
      async ({ to }: { to: string[] }) => {
        counter.sent++;
        return `sent to ${to.join(", ")}`;
      },
      {
        name: "send_email",
        description: "Send an email",
        schema: z.object({ to: z.array(z.string()) }),
      },
    );
  }

  it("keeps name, description and schema, and guards invoke", async () => {
    await ledgerWithEmailBudget(60);
    const counter = { sent: 0 };
    const inner = emailTool(counter);
    const guarded = guardTool(inner, {
      ledger,
      subject,
      toolset: "send-email",
      tier: "write-external",
      estimate: (args: { to: string[] }) => 20 * args.to.length,
    });
    expect(guarded.name).toBe("send_email");
    expect(guarded.description).toBe("Send an email");
    expect(guarded.schema).toBe(inner.schema);
    await expect(guarded.invoke({ to: ["a", "b"] })).resolves.toBe("sent to a, b");
    const message = await guarded.invoke({ type: "tool_call", id: "call-1", name: "send_email", args: { to: ["c"] } });
    expect(message).toBeInstanceOf(ToolMessage);
    expect((message as ToolMessage).tool_call_id).toBe("call-1");
    await expect(guarded.invoke({ to: ["d"] })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(counter.sent).toBe(2);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 60, reserved: 0 });
  });

  it("takes the binding from the run it is invoked in, under a config that names only some keys", async () => {
    await ledgerWithEmailBudget(40);
    const counter = { sent: 0 };
    const guarded = guardTool(emailTool(counter), { toolset: "send-email", tier: "write-external", estimate: 20 });
    // Invoked inside a run whose configurable carries the binding, with a config of its own that
    // says nothing about it: the run's configurable still applies, as LangChain merges them. (The
    // run is found through async local storage, which LangGraph sets up in Node.)
    await import("@langchain/langgraph");
    const step = RunnableLambda.from(async (to: string) => guarded.invoke({ to: [to] }, { tags: ["inner"] }));
    const config = { configurable: { tollgate: { ledger, subject }, thread_id: "t-run" } };
    await expect(step.invoke("a", config)).resolves.toBe("sent to a");
    await expect(step.invoke("b", config)).resolves.toBe("sent to b");
    await expect(step.invoke("c", config)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(counter.sent).toBe(2);
    const reserves = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.type === "reserve");
    expect(reserves.map((event) => event.runId)).toEqual(["t-run", "t-run", "t-run"]);
  });

  it("does not charge a call an outer layer already reserved", async () => {
    await ledgerWithEmailBudget(20);
    const counter = { sent: 0 };
    const guarded = guardTool(emailTool(counter), { ledger, subject, toolset: "send-email", tier: "write-external" });
    const call = { type: "tool_call" as const, id: "call-9", name: "send_email", args: { to: ["a"] } };
    await guarded.invoke(call, withReservedCall(undefined, "send_email", "call-9"));
    await guarded.invoke(call, withReservedCall(undefined, "send_email", "call-9"));
    expect(counter.sent).toBe(2);
    const reserves = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.type === "reserve");
    expect(reserves).toHaveLength(0);
  });
});

function issuePaths(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    return (error as ValidationError).issues.map((issue) => issue.path);
  }
  return [];
}
