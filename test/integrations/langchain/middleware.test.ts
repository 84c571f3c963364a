import { type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { Command, MemorySaver } from "@langchain/langgraph";
import { createAgent } from "langchain";
import { beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Subject } from "../../../src/core/scope.js";
import { createLedger, type Ledger, ValidationError } from "../../../src/index.js";
import { TollgateCallbackHandler } from "../../../src/integrations/langchain/callback-handler.js";
import { tollgateMiddleware } from "../../../src/integrations/langchain/middleware.js";
import { denialOf, deniedMessageId } from "../../../src/integrations/shared/denial.js";
import { ScriptedChatModel, type ScriptedTurn } from "./callback-handler-scripted-model.js";

const subject: Subject = { tenant: "acme", agent: "resolver" };

const rules = [
  { match: "send_email", tier: "write-external" as const, estimate: 20 },
  { match: "lookup", tier: "read" as const, estimate: 2 },
  { match: "deploy", tier: "execution" as const, estimate: 50 },
  { match: "flaky", tier: "write-local" as const, estimate: 10 },
];

/** Real tools with side-effect counters. */
function makeTools() {
  const ran = { send_email: [] as string[], lookup: 0, deploy: 0, flaky: 0 };
  const sendEmail = tool(
    async ({ to }) => {
      ran.send_email.push(to);
      return `sent to ${to}`;
    },
    { name: "send_email", description: "Send an email", schema: z.object({ to: z.string() }) },
  );
  const lookup = tool(
    async ({ query }) => {
      ran.lookup++;
      return `found ${query}`;
    },
    { name: "lookup", description: "Look up", schema: z.object({ query: z.string() }) },
  );
  const deploy = tool(
    async () => {
      ran.deploy++;
      return "deployed";
    },
    { name: "deploy", description: "Deploy", schema: z.object({}) },
  );
  const flaky = tool(
    async () => {
      ran.flaky++;
      throw new Error("upstream 503");
    },
    { name: "flaky", description: "Fails", schema: z.object({}) },
  );
  return { ran, tools: [sendEmail, lookup, deploy, flaky] };
}

function toolMessages(messages: BaseMessage[]): ToolMessage[] {
  return messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message));
}

async function reserveEvents(ledger: Ledger, actionName: string) {
  return (await ledger.audit()).filter((event) => event.type === "reserve" && event.action?.name === actionName);
}

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe("tollgateMiddleware: what the model is offered", () => {
  let ledger: Ledger;
  beforeEach(() => {
    ledger = createLedger({ sweepIntervalMs: 0 });
  });

  it("withholds tools whose tier the caps disable and tools whose toolset is spent, and says why", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 100, narrowing: "progressive" });
    await ledger.setBudget({ scope: "tenant:acme/toolset:deploy", limit: 0 });
    // 60 of 100 already spent: the 0.5 band disables write-external and above.
    const earlier = await ledger.reserve({ subject, action: { name: "earlier", tier: "read" }, estimate: 60 });
    await ledger.commit(earlier.reservationId!);
    const { tools } = makeTools();
    const model = new ScriptedChatModel([{ content: "nothing to do" }]);
    const agent = createAgent({
      model,
      tools,
      systemPrompt: "You resolve tickets.",
      middleware: [tollgateMiddleware({ ledger, subject, rules })],
    });

    await agent.invoke(user("hi"));

    // write-local (flaky) and read (lookup) stay below the disabled tiers.
    expect(model.record.offeredTools).toEqual([["lookup", "flaky"]]);
    const [systemPrompt] = model.record.systemPrompts;
    expect(systemPrompt).toContain("You resolve tickets.");
    expect(systemPrompt).toContain("send_email (TIER_DISABLED)");
    expect(systemPrompt).toContain("deploy (BUDGET_EXCEEDED)");
    expect(systemPrompt).not.toContain("flaky");
    // Offering is a dry run: nothing was reserved or audited for the tools.
    expect((await ledger.audit()).filter((event) => event.type === "reserve")).toHaveLength(1);
  });

  it("offers everything while the budgets allow it, and leaves the prompt alone", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 100, narrowing: "progressive" });
    const { tools } = makeTools();
    const model = new ScriptedChatModel([{ content: "ok" }]);
    const agent = createAgent({
      model,
      tools,
      systemPrompt: "You resolve tickets.",
      middleware: [tollgateMiddleware({ ledger, subject, rules })],
    });

    await agent.invoke(user("hi"));

    expect(model.record.offeredTools).toEqual([["send_email", "lookup", "deploy", "flaky"]]);
    expect(model.record.systemPrompts).toEqual(["You resolve tickets."]);
  });
});

describe("tollgateMiddleware: enforcing tool calls", () => {
  let ledger: Ledger;
  beforeEach(() => {
    ledger = createLedger({ sweepIntervalMs: 0 });
  });

  it("runs exactly five of six parallel 20-point emails on a 100-point budget", async () => {
    await ledger.setBudget({ scope: "tenant:acme/toolset:send_email", limit: 100 });
    const { ran, tools } = makeTools();
    const sixEmails: ScriptedTurn = {
      toolCalls: Array.from({ length: 6 }, (_, index) => ({ name: "send_email", args: { to: `c${index}@x.io` } })),
    };
    const model = new ScriptedChatModel([sixEmails, { content: "sent what I could" }]);
    const agent = createAgent({ model, tools, middleware: [tollgateMiddleware({ ledger, subject, rules })] });

    const result = await agent.invoke(user("notify all six"));

    expect(ran.send_email).toHaveLength(5);
    const replies = toolMessages(result.messages);
    expect(replies.filter((message) => message.status !== "error")).toHaveLength(5);
    const denied = replies.filter((message) => message.status === "error");
    expect(denied).toHaveLength(1);
    expect(denied[0].content).toContain("BUDGET_EXCEEDED at tenant:acme/toolset:send_email");
    // The same denial message as the tool node's: stable id, the denial record as the artifact.
    expect(denied[0].id).toBe(deniedMessageId(denied[0].tool_call_id));
    expect(denialOf(denied[0])).toMatchObject({
      toolCallId: denied[0].tool_call_id,
      toolName: "send_email",
      args: { to: expect.stringMatching(/@x\.io$/) },
      tier: "write-external",
      estimate: 20,
      unit: "RISK_POINTS",
      reasonCode: "BUDGET_EXCEEDED",
      deniedScope: "tenant:acme/toolset:send_email",
      status: "denied",
    });
    // One reservation per tool call, six calls.
    expect(await reserveEvents(ledger, "send_email")).toHaveLength(6);
    expect(await ledger.getBalance({ scope: "tenant:acme/toolset:send_email" })).toMatchObject({
      spent: 100,
      reserved: 0,
    });
    // The next model call was no longer offered the spent tool.
    expect(model.record.offeredTools[1]).not.toContain("send_email");
  });

  it("denies a call to a tool the model was not offered, as an error ToolMessage", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:deploy", limit: 0 });
    const { ran, tools } = makeTools();
    const model = new ScriptedChatModel([{ toolCalls: [{ name: "deploy" }] }]);
    const agent = createAgent({ model, tools, middleware: [tollgateMiddleware({ ledger, subject, rules })] });

    const result = await agent.invoke(user("ship it"));

    expect(model.record.offeredTools[0]).not.toContain("deploy");
    expect(ran.deploy).toBe(0);
    const [denied] = toolMessages(result.messages);
    expect(denied.status).toBe("error");
    expect(denied.content).toMatch(
      /^Not run: deploy \(execution, 50 RISK_POINTS\) was denied: BUDGET_EXCEEDED at tenant:acme\/toolset:deploy\. Do not retry it/,
    );
  });

  it("commits on success and releases when the tool throws", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { ran, tools } = makeTools();
    const agent = createAgent({
      model: new ScriptedChatModel([
        { toolCalls: [{ name: "lookup", args: { query: "q" } }] },
        { toolCalls: [{ name: "flaky" }] },
      ]),
      tools,
      middleware: [tollgateMiddleware({ ledger, subject, rules })],
    });

    // With a wrapToolCall middleware present, langchain lets a tool's own error end the run.
    await expect(agent.invoke(user("go"))).rejects.toThrow("upstream 503");

    expect([ran.lookup, ran.flaky]).toEqual([1, 1]);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 2, reserved: 0 });
    const settlements = (await ledger.audit()).filter((event) => event.type === "commit" || event.type === "release");
    expect(settlements.map((event) => event.type)).toEqual(["commit", "release"]);
  });

  it("charges once when the callback handler also watches the run", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { ran, tools } = makeTools();
    const agent = createAgent({
      model: new ScriptedChatModel([{ toolCalls: [{ name: "send_email", args: { to: "a@x.io" } }] }]),
      tools,
      middleware: [tollgateMiddleware({ ledger, subject, rules })],
    });
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    await agent.invoke(user("mail"), { callbacks: [handler] });

    expect(ran.send_email).toEqual(["a@x.io"]);
    expect(await reserveEvents(ledger, "send_email")).toHaveLength(1);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 20, reserved: 0 });
  });

  it("reads the ledger and subject from the run's context when the options leave them out", async () => {
    await ledger.setBudget({ scope: "tenant:globex/toolset:send_email", limit: 20 });
    const { ran, tools } = makeTools();
    const agent = createAgent({
      model: new ScriptedChatModel([
        {
          toolCalls: [
            { name: "send_email", args: { to: "a@x.io" } },
            { name: "send_email", args: { to: "b@x.io" } },
          ],
        },
      ]),
      tools,
      middleware: [tollgateMiddleware({ rules })],
    });

    await agent.invoke(user("mail"), { context: { tollgate: { ledger, subject: { tenant: "globex" } } } });

    expect(ran.send_email).toHaveLength(1);
    expect(await ledger.getBalance({ scope: "tenant:globex/toolset:send_email" })).toMatchObject({ spent: 20 });
  });
});

describe("tollgateMiddleware: approval instead of denial", () => {
  const emailScope = "tenant:acme/toolset:send_email";

  async function deniedEmailAgent(
    options: { turns?: ScriptedTurn[]; middleware?: Partial<Parameters<typeof tollgateMiddleware>[0]> } = {},
  ) {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await ledger.setBudget({ scope: emailScope, limit: 0 });
    const { ran, tools } = makeTools();
    const turns = options.turns ?? [{ toolCalls: [{ name: "send_email", args: { to: "ceo@x.io" }, id: "mail-1" }] }];
    const agent = createAgent({
      model: new ScriptedChatModel(turns),
      tools,
      checkpointer: new MemorySaver(),
      middleware: [tollgateMiddleware({ ledger, subject, rules, onDeny: "interrupt", ...options.middleware })],
    });
    return { ledger, ran, agent };
  }

  const resume = (...decisions: Record<string, unknown>[]) => new Command({ resume: { decisions } });

  /** Audit events written with this actor, as [type, decision or amount, scope]. */
  async function actedBy(ledger: Ledger, actor: string) {
    return (await ledger.audit())
      .filter((event) => event.actor === actor)
      .map((event) => [event.type, event.decision ?? event.amount, event.scope]);
  }

  it("pauses with a request in langchain's human-in-the-loop format, and runs the call once when approved", async () => {
    const { ledger, ran, agent } = await deniedEmailAgent();
    const config = { configurable: { thread_id: "t-approve" } };

    const paused = await agent.invoke(user("mail the ceo"), config);

    expect(ran.send_email).toEqual([]);
    const [pending] = paused.__interrupt__ ?? [];
    expect(pending.value).toMatchObject({
      actionRequests: [{ name: "send_email", args: { to: "ceo@x.io" } }],
      reviewConfigs: [{ actionName: "send_email", allowedDecisions: ["approve", "edit", "reject"] }],
      // The same request type as humanApprovalFallback's, denial record included.
      tollgate: { denials: [{ toolCallId: "mail-1", reasonCode: "BUDGET_EXCEEDED", status: "pending" }] },
    });
    expect((pending.value as { actionRequests: { description: string }[] }).actionRequests[0].description).toContain(
      "BUDGET_EXCEEDED at tenant:acme/toolset:send_email",
    );

    const resumed = await agent.invoke(resume({ type: "approve" }), config);

    expect(ran.send_email).toEqual(["ceo@x.io"]);
    const [reply] = toolMessages(resumed.messages);
    expect(reply.status).not.toBe("error");
    expect(reply.content).toBe("sent to ceo@x.io");
    // Approving is adding a budget: the denying toolset budget is untouched, the tenant's ceiling is charged.
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 0, reserved: 0 });
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 20, reserved: 0 });
  });

  it("charges an approved call to a one-off grant, audited with the approver as actor", async () => {
    const { ledger, ran, agent } = await deniedEmailAgent({ middleware: { approver: "ops-on-call" } });
    const config = { configurable: { thread_id: "t-actor" } };
    await agent.invoke(user("mail the ceo"), config);

    await agent.invoke(resume({ type: "approve", approver: "alice" }), config);

    expect(ran.send_email).toEqual(["ceo@x.io"]);
    const [[, , grantScope]] = await actedBy(ledger, "alice");
    expect(grantScope).toMatch(/^tenant:acme\/toolset:approved-once\./);
    expect(await actedBy(ledger, "alice")).toEqual([
      ["reserve", "ALLOW", grantScope],
      ["commit", 20, grantScope],
    ]);
    // The decision's approver wins over the option's; the one-off grant is gone once settled.
    expect(await actedBy(ledger, "ops-on-call")).toEqual([]);
    expect((await ledger.listBudgets({ allTenants: true })).map((budget) => budget.scope).sort()).toEqual([
      "tenant:acme",
      emailScope,
    ]);
  });

  it("records the option's approver when the decision names none", async () => {
    const { ledger, agent } = await deniedEmailAgent({ middleware: { approver: () => "ops-on-call" } });
    const config = { configurable: { thread_id: "t-approver-option" } };
    await agent.invoke(user("mail the ceo"), config);
    await agent.invoke(resume({ type: "approve" }), config);
    expect((await actedBy(ledger, "ops-on-call")).map(([type]) => type)).toEqual(["reserve", "commit"]);
  });

  it("runs an approved call exactly once across a replayed resume", async () => {
    const { ledger, ran, agent } = await deniedEmailAgent({
      turns: [
        { toolCalls: [{ name: "send_email", args: { to: "ceo@x.io" }, id: "mail-1" }] },
        { content: "sent" },
        { content: "sent again" },
      ],
    });
    const config = { configurable: { thread_id: "t-replay" } };
    await agent.invoke(user("mail the ceo"), config);
    const interrupted = (await agent.graph.getState(config)).config;
    const approve = resume({ type: "approve", approver: "alice" });
    await agent.invoke(approve, config);
    expect(ran.send_email).toEqual(["ceo@x.io"]);

    // Replay the resume from the interrupted checkpoint (time travel): the tools node runs again.
    const replayed = await agent.invoke(approve, interrupted);

    expect(ran.send_email).toEqual(["ceo@x.io"]);
    const [reply] = toolMessages(replayed.messages);
    expect(reply.content).toContain("not run again");
    expect(denialOf(reply)).toMatchObject({ toolCallId: "mail-1", status: "approved", resolvedBy: "alice" });
    expect((await actedBy(ledger, "alice")).filter(([type]) => type === "commit")).toHaveLength(1);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 20, reserved: 0 });
  });

  it("runs the edited call when edited, charged by the edited arguments", async () => {
    const { ledger, ran, agent } = await deniedEmailAgent();
    const config = { configurable: { thread_id: "t-edit" } };
    await agent.invoke(user("mail the ceo"), config);
    const edit = { type: "edit", editedAction: { name: "send_email", args: { to: "support@x.io" } }, approver: "bob" };

    await agent.invoke(resume(edit), config);

    expect(ran.send_email).toEqual(["support@x.io"]);
    expect((await actedBy(ledger, "bob")).map(([type, outcome]) => [type, outcome])).toEqual([
      ["reserve", "ALLOW"],
      ["commit", 20],
    ]);
  });

  it("answers a rejected call with APPROVAL_REJECTED and the reviewer's reason, running nothing", async () => {
    const { ledger, ran, agent } = await deniedEmailAgent();
    const config = { configurable: { thread_id: "t-reject" } };
    await agent.invoke(user("mail the ceo"), config);

    const result = await agent.invoke(
      resume({ type: "reject", message: "Not to the CEO.", approver: "carol" }),
      config,
    );

    expect(ran.send_email).toEqual([]);
    const [reply] = toolMessages(result.messages);
    expect(reply.status).toBe("error");
    expect(reply.id).toBe(deniedMessageId("mail-1"));
    expect(reply.content).toContain("APPROVAL_REJECTED");
    expect(reply.content).toContain("Not to the CEO.");
    expect(denialOf(reply)).toMatchObject({
      status: "rejected",
      reasonCode: "APPROVAL_REJECTED",
      detail: "Not to the CEO.",
      resolvedBy: "carol",
    });
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 0, reserved: 0 });
    const approvals = (await ledger.audit({ type: "approval" })).map(({ decision, reasonCode, actor, detail }) => ({
      decision,
      reasonCode,
      actor,
      detail,
    }));
    expect(approvals).toEqual([
      { decision: "DENY", reasonCode: "APPROVAL_REJECTED", actor: "carol", detail: "Not to the CEO." },
    ]);
  });

  it("remembered for the run: a later denial in the same thread is paid by the run grant without asking", async () => {
    const email = (id: string, to: string): ScriptedTurn => ({ toolCalls: [{ name: "send_email", args: { to }, id }] });
    const { ledger, ran, agent } = await deniedEmailAgent({
      turns: [email("mail-1", "ceo@x.io"), email("mail-2", "cfo@x.io"), { content: "done" }],
    });
    const config = { configurable: { thread_id: "t-run" } };
    await agent.invoke(user("mail the ceo"), config);

    const done = await agent.invoke(
      resume({ type: "approve", remember: "run", grantAmount: 40, approver: "dave" }),
      config,
    );

    expect(done.__interrupt__).toBeUndefined();
    expect(ran.send_email).toEqual(["ceo@x.io", "cfo@x.io"]);
    const grant = "tenant:acme/toolset:approved-run.send_email";
    expect(await ledger.getBalance({ scope: grant, runId: "t-run" })).toMatchObject({ allocated: 40, spent: 40 });
    const paidByGrant = (await ledger.audit({ scope: grant })).filter((event) => event.type === "commit");
    expect(paidByGrant.map((event) => event.actor)).toEqual(["dave", "tollgate.remembered-approval"]);
  });

  it("rejects a resume without one decision, naming the field", async () => {
    const { ran, agent } = await deniedEmailAgent();
    const config = { configurable: { thread_id: "t-bad" } };
    await agent.invoke(user("mail the ceo"), config);
    const error = await agent.invoke(resume(), config).catch((caught: unknown) => caught);
    // langchain wraps a middleware's error in a MiddlewareError; ours is its cause.
    const cause = (error as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(ValidationError);
    expect((cause as ValidationError).issues[0].path).toBe("decisions");
    expect(ran.send_email).toEqual([]);
  });
});

describe("tollgateMiddleware with rules for tools discovered at run time", () => {
  it("charges and filters a dynamically built tool list by name glob, tag, or the default", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:github", limit: 25 });
    // As an MCP client would build them: names and tags known only once the server answered.
    const served = [
      { name: "github_search", tags: [] },
      { name: "github_create_issue", tags: [] },
      { name: "github_close_issue", tags: [] },
      { name: "fs_delete", tags: ["destructive"] },
      { name: "mystery", tags: [] },
    ];
    const ran: string[] = [];
    const tools = served.map((spec) =>
      tool(
        async () => {
          ran.push(spec.name);
          return "ok";
        },
        { name: spec.name, description: spec.name, schema: z.object({}), tags: spec.tags },
      ),
    );
    const model = new ScriptedChatModel([
      { toolCalls: served.map((spec) => ({ name: spec.name })) },
      { content: "done" },
    ]);
    const agent = createAgent({
      model,
      tools,
      middleware: [
        tollgateMiddleware({
          ledger,
          subject,
          rules: [
            { match: "github_search", tier: "read" },
            { match: "github_*", tier: "write-external", toolset: "github" },
            { tag: "destructive", tier: "mutation", estimate: 40 },
          ],
          defaultTool: { tier: "write-local", estimate: 7 },
        }),
      ],
    });

    await agent.invoke(user("triage"));

    // Both github writes share the 25-point "github" toolset: only one of the two fits.
    expect(ran.filter((name) => name === "github_create_issue" || name === "github_close_issue")).toHaveLength(1);
    expect(ran.filter((name) => !name.endsWith("_issue")).sort()).toEqual(["fs_delete", "github_search", "mystery"]);
    const reserves = (await ledger.audit()).filter((event) => event.type === "reserve");
    const byName = Object.fromEntries(reserves.map((event) => [event.action?.name, event]));
    expect(byName.github_search).toMatchObject({
      estimate: 2,
      scope: "tenant:acme/agent:resolver/toolset:github_search",
    });
    expect(byName.fs_delete).toMatchObject({ estimate: 40, action: { tier: "mutation" } });
    expect(byName.mystery).toMatchObject({ estimate: 7, action: { tier: "write-local" } });
    const githubWrites = [byName.github_create_issue, byName.github_close_issue];
    expect(githubWrites.map((event) => event.scope)).toEqual([
      "tenant:acme/agent:resolver/toolset:github",
      "tenant:acme/agent:resolver/toolset:github",
    ]);
    expect(githubWrites.map((event) => event.reasonCode ?? "ALLOW").sort()).toEqual(["ALLOW", "BUDGET_EXCEEDED"]);
    // Afterwards the spent github toolset is no longer offered; the rest still is.
    expect(model.record.offeredTools[1]).toEqual(["github_search", "fs_delete", "mystery"]);
  });
});
