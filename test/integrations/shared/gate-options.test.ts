import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { tool } from "@langchain/core/tools";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ValidationError } from "../../../src/core/errors.js";
import { guardTool } from "../../../src/integrations/langchain/guard-tool.js";
import { tollgateMiddleware } from "../../../src/integrations/langchain/middleware.js";
import { humanApprovalFallback } from "../../../src/integrations/langgraph/human-approval-fallback.js";
import { PermissionedToolNode } from "../../../src/integrations/langgraph/permissioned-tool-node.js";
import { tollgateStateDefault } from "../../../src/integrations/langgraph/state.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";

let ledger: Ledger;
afterEach(async () => {
  await ledger?.close();
});

const echo = tool(async ({ text }: { text: string }) => text, {
  name: "echo",
  description: "Echo",
  schema: z.object({ text: z.string() }),
});

function issuesOf(build: () => unknown): { path: string; message: string }[] {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error("expected a ValidationError");
}

describe("adapter options are checked when the adapter is built", () => {
  it("a misspelt remember is refused at build time, naming the field, not at resume", () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    const issues = issuesOf(() =>
      humanApprovalFallback({ ledger, tools: [echo], remember: "forevr" as unknown as "always" }),
    );
    expect(issues.map((issue) => issue.path)).toEqual(["remember"]);
    expect(issues[0].message).toMatch(/once, run, always/);
  });

  it("an unknown option is an error naming it, in every adapter", () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    const unknown = { ledger, tools: [echo], toolSpec: {} } as never;
    expect(issuesOf(() => humanApprovalFallback(unknown)).map((issue) => issue.path)).toEqual(["toolSpec"]);
    expect(issuesOf(() => tollgateMiddleware({ ledger, tools: {} } as never))[0].path).toBe("tools");
    expect(issuesOf(() => new PermissionedToolNode([echo], { ledger, fallbak: "x" } as never))[0].path).toMatch(
      /fallbak/,
    );
  });

  it("bad tool specs, rules and defaults are all named at once", () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    const issues = issuesOf(
      () =>
        new PermissionedToolNode([echo], {
          ledger,
          fallback: "escalate",
          toolSpecs: { echo: { tier: "mutaton" as never } },
          rules: [{ match: "x_*", tier: "read", annotations: { readOnly: true } as never }],
          defaultTool: { tier: "read", estimate: -1 },
        }),
    );
    expect(issues.map((issue) => issue.path).sort()).toEqual(
      ["defaultTool.estimate", "rules.0.annotations.readOnly", "toolSpecs.echo.tier"].sort(),
    );
  });

  it("a policy-style fallback without a default is accepted by the tool node", () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    expect(
      () =>
        new PermissionedToolNode([echo], {
          ledger,
          subject: { tenant: "acme" },
          fallback: { tiers: { execution: "escalate" } },
        }),
    ).not.toThrow();
  });

  it("the options object is copied: changing it after building changes nothing", async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:echo", limit: 10 });
    const options = {
      ledger,
      subject: { tenant: "acme" },
      toolSpecs: { echo: { tier: "read" as const, estimate: 1 } },
    };
    const node = new PermissionedToolNode([echo], options);
    options.subject.tenant = "victim";
    options.toolSpecs.echo.estimate = 1_000;
    const call = { name: "echo", args: { text: "hi" }, id: "c1", type: "tool_call" as const };
    const out = await node.invoke({
      messages: [new AIMessage({ content: "", tool_calls: [call] })],
      tollgate: tollgateStateDefault(),
    });
    expect(JSON.stringify(out)).toContain("hi");
    expect(await ledger.getBalance({ scope: "tenant:acme/toolset:echo" })).toMatchObject({ spent: 1 });
  });
});

describe("a guardTool inside a stock ToolNode", () => {
  it("answers a denial with the denial message, telling the model not to retry", async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 20 });
    let sent = 0;
    const sendEmail = guardTool(
      tool(
        async ({ to }: { to: string }) => {
          sent++;
          return `sent to ${to}`;
        },
        { name: "send_email", description: "Email", schema: z.object({ to: z.string() }) },
      ),
      { ledger, subject: { tenant: "acme" }, toolset: "send-email", tier: "write-external", estimate: 20 },
    );
    const model = fakeModel()
      .respondWithTools([
        { name: "send_email", args: { to: "a@example.com" }, id: "e1" },
        { name: "send_email", args: { to: "b@example.com" }, id: "e2" },
      ])
      .respond(new AIMessage("done"));
    const bound = model.bindTools([sendEmail]);
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("agent", async (state) => ({ messages: [await bound.invoke(state.messages)] }))
      .addNode("tools", new ToolNode([sendEmail]))
      .addEdge(START, "agent")
      .addConditionalEdges("agent", toolsCondition, ["tools", END])
      .addEdge("tools", "agent")
      .compile();
    const result = await graph.invoke({ messages: [new HumanMessage("email both")] });
    const answers = result.messages.filter((message) => ToolMessage.isInstance(message)) as ToolMessage[];
    expect(sent).toBe(1);
    expect(answers.map((answer) => answer.status)).toEqual(["success", "error"]);
    expect(answers[1].content).toMatch(
      /^Not run: send_email \(write-external, 20 RISK_POINTS\) was denied: BUDGET_EXCEEDED/,
    );
    expect(answers[1].content).toMatch(/Do not retry it/);
    expect(answers[1].content).not.toMatch(/Please fix your mistakes/);
  });
});

describe("a guard spec", () => {
  it("with a misspelt key is refused, naming it", () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    const issues = issuesOf(() =>
      guardTool(echo, { ledger, toolset: "echo", tier: "read", onSettleErorr: () => undefined } as never),
    );
    expect(issues.map((issue) => issue.path)).toEqual(["onSettleErorr"]);
  });
});
