import { registerConfigureHook, setContextVariable } from "@langchain/core/context";
import { AIMessage, type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { RunnableLambda } from "@langchain/core/runnables";
import { tool } from "@langchain/core/tools";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt";
import { createAgent, createMiddleware } from "langchain";
import { beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Subject } from "../../../src/core/scope.js";
import { createLedger, type Ledger } from "../../../src/index.js";
import { BudgetExceededError } from "../../../src/integrations/errors.js";
import { TollgateCallbackHandler } from "../../../src/integrations/langchain/callback-handler.js";
import { guardTool } from "../../../src/integrations/langchain/index.js";
import { withReservedCall } from "../../../src/integrations/shared/context.js";
import { ScriptedChatModel, type ScriptedTurn } from "./callback-handler-scripted-model.js";

const subject: Subject = { tenant: "acme", agent: "resolver" };

/** Real tools with side-effect counters: what ran is counted, never mocked. */
function makeTools() {
  const ran = { send_email: 0, lookup: 0, flaky: 0, wipe_disk: 0 };
  const sendEmail = tool(
    async ({ to }) => {
      ran.send_email++;
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
  const flaky = tool(
    async () => {
      ran.flaky++;
      throw new Error("upstream 503");
    },
    { name: "flaky", description: "Fails", schema: z.object({}) },
  );
  const wipeDisk = tool(
    async () => {
      ran.wipe_disk++;
      return "wiped";
    },
    { name: "wipe_disk", description: "Not in any rule", schema: z.object({}) },
  );
  return { ran, sendEmail, lookup, flaky, wipeDisk };
}

const rules = [
  { match: "send_email", tier: "write-external" as const, estimate: 20 },
  { match: "lookup", tier: "read" as const, estimate: 2 },
  { match: "flaky", tier: "write-local" as const, estimate: 10 },
];

async function reserveEvents(ledger: Ledger, actionName: string) {
  return (await ledger.audit()).filter((event) => event.type === "reserve" && event.action?.name === actionName);
}

function toolMessages(messages: BaseMessage[]): ToolMessage[] {
  return messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message));
}

describe("TollgateCallbackHandler on tools", () => {
  let ledger: Ledger;
  beforeEach(() => {
    ledger = createLedger({ sweepIntervalMs: 0 });
  });

  it("blocks a tool nobody wrapped before it runs, and the DENY reason reaches the model", async () => {
    await ledger.setBudget({ scope: "tenant:acme/toolset:send_email", limit: 10 });
    const { ran, sendEmail } = makeTools();
    const agent = createAgent({
      model: new ScriptedChatModel([{ toolCalls: [{ name: "send_email", args: { to: "a@x.io" } }] }]),
      tools: [sendEmail],
    });
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    const result = await agent.invoke({ messages: [{ role: "user", content: "refund" }] }, { callbacks: [handler] });

    expect(ran.send_email).toBe(0);
    const [denied] = toolMessages(result.messages);
    expect(denied.status).toBe("error");
    expect(denied.content).toContain("BUDGET_EXCEEDED");
    expect(denied.content).toContain("tenant:acme/toolset:send_email");
    const events = await reserveEvents(ledger, "send_email");
    expect(events.map((event) => [event.decision, event.reasonCode])).toEqual([["DENY", "BUDGET_EXCEEDED"]]);
  });

  it("fails closed on a tool nothing names, even under a tenant-wide budget: TOOL_NOT_COVERED", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    const { ran, wipeDisk } = makeTools();
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    const call = { name: "wipe_disk", args: {}, id: "c1", type: "tool_call" as const };
    const error = await wipeDisk.invoke(call, { callbacks: [handler] }).catch((caught: unknown) => caught);

    expect(ran.wipe_disk).toBe(0);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).reasonCode).toBe("TOOL_NOT_COVERED");
    expect((error as BudgetExceededError).action).toMatchObject({ name: "wipe_disk", tier: "execution" });
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 0, reserved: 0 });
  });

  it("commits on end and releases on error", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { ran, lookup, flaky } = makeTools();
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    await lookup.invoke(
      { name: "lookup", args: { query: "q" }, id: "c1", type: "tool_call" },
      { callbacks: [handler] },
    );
    await expect(
      flaky.invoke({ name: "flaky", args: {}, id: "c2", type: "tool_call" }, { callbacks: [handler] }),
    ).rejects.toThrow("upstream 503");

    expect([ran.lookup, ran.flaky]).toEqual([1, 1]);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 2, reserved: 0, remaining: 98 });
    const settlements = (await ledger.audit()).filter((event) => event.type === "commit" || event.type === "release");
    expect(settlements.map((event) => [event.type, event.amount])).toEqual([
      ["commit", 2],
      ["release", 10],
    ]);
    expect(handler.pendingCount).toBe(0);
  });

  it("skips a tool call an outer layer already reserved", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { ran, sendEmail } = makeTools();
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    const config = withReservedCall({ callbacks: [handler] }, "send_email", "c1");
    await sendEmail.invoke({ name: "send_email", args: { to: "a@x.io" }, id: "c1", type: "tool_call" }, config);
    // A different call id is not covered by the outer reservation: charged once here.
    await sendEmail.invoke({ name: "send_email", args: { to: "b@x.io" }, id: "c2", type: "tool_call" }, config);

    expect(ran.send_email).toBe(2);
    expect(await reserveEvents(ledger, "send_email")).toHaveLength(1);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 20 });
  });
});

describe("TollgateCallbackHandler next to guardTool", () => {
  it("charges a guarded tool once: the guard reserves and marks the call, the handler stands aside", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { ran, sendEmail } = makeTools();
    const guarded = guardTool(sendEmail, { ledger, subject, tier: "write-external", estimate: 25 });
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    await guarded.invoke(
      { name: "send_email", args: { to: "a@x.io" }, id: "c1", type: "tool_call" },
      { callbacks: [handler] },
    );

    expect(ran.send_email).toBe(1);
    const events = await reserveEvents(ledger, "send_email");
    // The guard's own estimate (25), not the handler's rule (20): one reservation, by the guard.
    expect(events.map((event) => event.estimate)).toEqual([25]);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 25, reserved: 0 });
  });

  it("charges once when the handler sits on the wrapped tool's own callbacks, not the run's", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });
    let ran = 0;
    const sendEmail = tool(
      async ({ to }) => {
        ran++;
        return `sent to ${to}`;
      },
      { name: "send_email", description: "Send an email", schema: z.object({ to: z.string() }), callbacks: [handler] },
    );
    const guarded = guardTool(sendEmail, { ledger, subject, tier: "write-external", estimate: 25 });

    await guarded.invoke({ to: "a@x.io" });

    expect(ran).toBe(1);
    expect((await reserveEvents(ledger, "send_email")).map((event) => event.estimate)).toEqual([25]);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 25, reserved: 0 });
  });

  it("charges once when a configure hook adds the handler to every run", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { ran, sendEmail } = makeTools();
    const guarded = guardTool(sendEmail, { ledger, subject, tier: "write-external", estimate: 25 });
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    // Inside a runnable, so the hook and its variable stay in this run's context.
    await RunnableLambda.from(async () => {
      registerConfigureHook({ contextVar: "tollgate_test_handler" });
      setContextVariable("tollgate_test_handler", handler);
      return guarded.invoke({ to: "a@x.io" });
    }).invoke({});

    expect(ran.send_email).toBe(1);
    expect((await reserveEvents(ledger, "send_email")).map((event) => event.estimate)).toEqual([25]);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 25, reserved: 0 });
  });
});

describe("how a raiseError denial surfaces in @langchain/core 1.4", () => {
  let ledger: Ledger;
  beforeEach(async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send_email", limit: 0 });
  });

  function toolsGraph(handleToolErrors: boolean, sendEmail: ReturnType<typeof makeTools>["sendEmail"]) {
    return new StateGraph(MessagesAnnotation)
      .addNode("tools", new ToolNode([sendEmail], { handleToolErrors }))
      .addEdge(START, "tools")
      .addEdge("tools", END)
      .compile();
  }

  const emailCall = new AIMessage({
    content: "",
    tool_calls: [{ name: "send_email", args: { to: "a@x.io" }, id: "c1", type: "tool_call" }],
  });

  it("LangGraph's ToolNode (handleToolErrors, the default) turns it into an error ToolMessage; the body never runs", async () => {
    const { ran, sendEmail } = makeTools();
    const handler = new TollgateCallbackHandler({ ledger, subject, rules });

    const result = await toolsGraph(true, sendEmail).invoke({ messages: [emailCall] }, { callbacks: [handler] });

    expect(ran.send_email).toBe(0);
    const [message] = toolMessages(result.messages);
    expect(message.content).toMatch(
      /^Error: send_email \(write-external, 20 RISK_POINTS\) was denied: BUDGET_EXCEEDED/,
    );
  });

  it("with handleToolErrors false the run rejects with BudgetExceededError", async () => {
    const { ran, sendEmail } = makeTools();
    const handler = new TollgateCallbackHandler({ ledger, subject, rules });

    const error = await toolsGraph(false, sendEmail)
      .invoke({ messages: [emailCall] }, { callbacks: [handler] })
      .catch((caught: unknown) => caught);

    expect(ran.send_email).toBe(0);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).code).toBe("BUDGET_EXCEEDED");
  });
});

describe("how a raiseError denial surfaces in langchain 1.5 createAgent", () => {
  it("without wrapToolCall middleware: an error ToolMessage; with any, the run rejects (langchain rethrows middleware-path errors)", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send_email", limit: 0 });
    const { ran, sendEmail } = makeTools();
    const script = [{ toolCalls: [{ name: "send_email", args: { to: "a@x.io" } }] }];
    const handler = new TollgateCallbackHandler({ ledger, subject, rules, meterModelCalls: false });

    const bare = createAgent({ model: new ScriptedChatModel(script), tools: [sendEmail] });
    const result = await bare.invoke({ messages: [{ role: "user", content: "mail" }] }, { callbacks: [handler] });
    expect(toolMessages(result.messages)[0].content).toMatch(/^BudgetExceededError: send_email .* BUDGET_EXCEEDED/);

    const wrapped = createAgent({
      model: new ScriptedChatModel(script),
      tools: [sendEmail],
      middleware: [createMiddleware({ name: "PassThrough", wrapToolCall: (request, handler) => handler(request) })],
    });
    const error = await wrapped
      .invoke({ messages: [{ role: "user", content: "mail" }] }, { callbacks: [handler] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(ran.send_email).toBe(0);
  });
});

describe("TollgateCallbackHandler reaches nested runs", () => {
  it("charges tools inside a subgraph and inside a subagent called from a tool", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send_email", limit: 30 });
    const { ran, sendEmail, lookup } = makeTools();

    // Innermost: a subagent that sends two emails at once; only one fits the 30-point toolset budget.
    const subagent = createAgent({
      model: new ScriptedChatModel([
        {
          toolCalls: [
            { name: "send_email", args: { to: "a@x.io" } },
            { name: "send_email", args: { to: "b@x.io" } },
          ],
        },
      ]),
      tools: [sendEmail],
    });
    const delegate = tool(
      async ({ task }, config) => {
        const result = await subagent.invoke({ messages: [{ role: "user", content: task }] }, config);
        return String(result.messages.at(-1)?.content);
      },
      { name: "delegate", description: "Ask the mail subagent", schema: z.object({ task: z.string() }) },
    );

    // Middle: a hand-built agent loop compiled as a subgraph of the outer graph.
    const innerModel = new ScriptedChatModel([
      { toolCalls: [{ name: "lookup", args: { query: "account" } }] },
      { toolCalls: [{ name: "delegate", args: { task: "notify" } }] },
    ]);
    const inner = new StateGraph(MessagesAnnotation)
      .addNode("agent", async (state, config) => ({ messages: [await innerModel.invoke(state.messages, config)] }))
      .addNode("tools", new ToolNode([lookup, delegate]))
      .addEdge(START, "agent")
      .addConditionalEdges("agent", toolsCondition, ["tools", END])
      .addEdge("tools", "agent")
      .compile();
    const outer = new StateGraph(MessagesAnnotation).addNode("research", inner).addEdge(START, "research").compile();

    const handler = new TollgateCallbackHandler({
      ledger,
      subject,
      rules: [...rules, { match: "delegate", tier: "read", estimate: 1 }],
      meterModelCalls: false,
    });
    await outer.invoke({ messages: [{ role: "user", content: "go" }] }, { callbacks: [handler] });

    expect([ran.lookup, ran.send_email]).toEqual([1, 1]);
    expect(await reserveEvents(ledger, "lookup")).toHaveLength(1);
    expect(await reserveEvents(ledger, "delegate")).toHaveLength(1);
    const emails = await reserveEvents(ledger, "send_email");
    expect(emails.map((event) => event.decision).sort()).toEqual(["ALLOW", "DENY"]);
    // lookup 2 + delegate 1 + one email 20.
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 23, reserved: 0 });
  });
});

describe("TollgateCallbackHandler on model calls", () => {
  let ledger: Ledger;
  beforeEach(() => {
    ledger = createLedger({ sweepIntervalMs: 0 });
  });

  const script: ScriptedTurn[] = [
    { toolCalls: [{ name: "lookup", args: { query: "q" } }], usage: { input: 100, output: 20 } },
    { content: "answer", usage: { input: 150, output: 30 } },
  ];

  function agentWithLookup() {
    const { ran, lookup } = makeTools();
    return { ran, agent: createAgent({ model: new ScriptedChatModel(script), tools: [lookup] }) };
  }

  it("charges 1 risk point per model call when a RISK_POINTS budget covers it", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { agent } = agentWithLookup();
    const handler = new TollgateCallbackHandler({ ledger, subject, rules });

    await agent.invoke({ messages: [{ role: "user", content: "hi" }] }, { callbacks: [handler] });

    expect(await reserveEvents(ledger, "model_call")).toHaveLength(2);
    // Two model calls at 1 point, one lookup at 2.
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 4, reserved: 0 });
  });

  it("lets an unbudgeted model call through unless strict, and stops the run once the budget is spent", async () => {
    const lenient = new TollgateCallbackHandler({ ledger, subject, rules });
    const strict = new TollgateCallbackHandler({ ledger, subject, rules, strictModelCalls: true });
    const model = new ScriptedChatModel([{ content: "hello" }]);

    await expect(model.invoke("hi", { callbacks: [lenient] })).resolves.toBeInstanceOf(AIMessage);
    const strictError = await model.invoke("hi", { callbacks: [strict] }).catch((caught: unknown) => caught);
    expect((strictError as BudgetExceededError).reasonCode).toBe("BUDGET_NOT_FOUND");

    await ledger.setBudget({ scope: "tenant:acme", limit: 1 });
    await model.invoke("hi", { callbacks: [lenient] });
    const spentError = await model.invoke("hi", { callbacks: [lenient] }).catch((caught: unknown) => caught);
    expect(spentError).toBeInstanceOf(BudgetExceededError);
    expect((spentError as BudgetExceededError).reasonCode).toBe("BUDGET_EXCEEDED");
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 1, reserved: 0 });
  });

  it("holds a token estimate at model start and commits the reported usage at the end", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 10_000, unit: "TOKENS" });
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000_000, unit: "USD_MICROCENTS" });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const { ran, agent } = agentWithLookup();
    const handler = new TollgateCallbackHandler({
      ledger,
      subject,
      rules,
      meterModelCalls: false,
      meterTokens: true,
      usdMicrocentsPerToken: { input: 15, output: 60 },
    });

    await agent.invoke({ messages: [{ role: "user", content: "hi" }] }, { callbacks: [handler] });

    expect(ran.lookup).toBe(1);
    const tokenHolds = (await reserveEvents(ledger, "model_call")).filter((event) => event.unit === "TOKENS");
    // Held up front: the prompt's length / 4 ("hi", then "hi" + "found q") plus 1,024 output tokens.
    expect(tokenHolds.map((event) => event.estimate)).toEqual([1 + 1_024, 3 + 1_024]);
    expect(await ledger.getBalance({ scope: "tenant:acme", unit: "TOKENS" })).toMatchObject({
      spent: 100 + 20 + 150 + 30,
      reserved: 0,
    });
    expect(await ledger.getBalance({ scope: "tenant:acme", unit: "USD_MICROCENTS" })).toMatchObject({
      spent: (100 + 150) * 15 + (20 + 30) * 60,
      reserved: 0,
    });
  });

  it("blocks a model call whose token estimate the TOKENS budget cannot hold", async () => {
    await ledger.setBudget({ scope: "tenant:acme", limit: 500, unit: "TOKENS" });
    const model = new ScriptedChatModel([{ content: "hello", usage: { input: 10, output: 5 } }]);
    const handler = new TollgateCallbackHandler({ ledger, subject, meterModelCalls: false, meterTokens: true });

    const error = await model.invoke("hi", { callbacks: [handler] }).catch((caught: unknown) => caught);
    expect((error as BudgetExceededError).reasonCode).toBe("BUDGET_EXCEEDED");
    expect((error as BudgetExceededError).action.unit).toBe("TOKENS");

    const sized = new TollgateCallbackHandler({
      ledger,
      subject,
      meterModelCalls: false,
      meterTokens: true,
      tokensEstimate: 100,
    });
    await model.invoke("hi", { callbacks: [sized] });
    expect(await ledger.getBalance({ scope: "tenant:acme", unit: "TOKENS" })).toMatchObject({ spent: 15, reserved: 0 });
  });
});

describe("TollgateCallbackHandler with rules for tools discovered at run time", () => {
  it("charges each tool of a dynamically built list by name glob, tag, or the default", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    // As an MCP client would build them: names and tags known only once the server answered.
    const served = [
      { name: "github_search", tags: [] },
      { name: "github_create_issue", tags: [] },
      { name: "fs_delete", tags: ["destructive"] },
      { name: "mystery", tags: [] },
    ];
    const calls: string[] = [];
    const tools = served.map((spec) =>
      tool(
        async () => {
          calls.push(spec.name);
          return "ok";
        },
        { name: spec.name, description: spec.name, schema: z.object({}), tags: spec.tags },
      ),
    );
    const handler = new TollgateCallbackHandler({
      ledger,
      subject,
      meterModelCalls: false,
      rules: [
        { match: "github_search", tier: "read" },
        { match: "github_*", tier: "write-external", toolset: "github" },
        { tag: "destructive", tier: "mutation", estimate: 40 },
      ],
      defaultTool: { tier: "write-local", estimate: 7 },
    });

    for (const [index, dynamicTool] of tools.entries()) {
      await dynamicTool.invoke(
        { name: dynamicTool.name, args: {}, id: `c${index}`, type: "tool_call" },
        { callbacks: [handler] },
      );
    }

    expect(calls).toEqual(["github_search", "github_create_issue", "fs_delete", "mystery"]);
    const reserves = (await ledger.audit()).filter((event) => event.type === "reserve");
    expect(reserves.map((event) => [event.action?.name, event.action?.tier, event.scope, event.estimate])).toEqual([
      ["github_search", "read", "tenant:acme/agent:resolver/toolset:github_search", 2],
      ["github_create_issue", "write-external", "tenant:acme/agent:resolver/toolset:github", 20],
      ["fs_delete", "mutation", "tenant:acme/agent:resolver/toolset:fs_delete", 40],
      ["mystery", "write-local", "tenant:acme/agent:resolver/toolset:mystery", 7],
    ]);
  });
});
