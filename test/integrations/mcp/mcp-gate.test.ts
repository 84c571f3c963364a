import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { toolsCondition } from "@langchain/langgraph/prebuilt";
import { createAgent } from "langchain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ToolRule } from "../../../src/core/tool-rules.js";
import { tollgateMiddleware } from "../../../src/integrations/langchain/middleware.js";
import { PermissionedToolNode } from "../../../src/integrations/langgraph/permissioned-tool-node.js";
import { TollgateAgentState } from "../../../src/integrations/langgraph/state.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import { type McpServerHandle, startMcpServer } from "../../helpers/mcp.js";

// MCP tools reach tollgate with their server's hints in metadata.annotations and no tags: they are
// charged from the annotations by default, rules can match annotations and the server, and a tool
// with no hints at all (run_command) is not covered.

const subject = { tenant: "acme", agent: "files-agent" };
const everyCall = [
  { name: "read_file", args: { path: "a.txt" } },
  { name: "search_docs", args: { query: "budgets" } },
  { name: "write_file", args: { path: "b.txt", content: "x" } },
  { name: "delete_file", args: { path: "c.txt" } },
  { name: "send_message", args: { to: "ops", body: "hi" } },
  { name: "failing_write", args: { path: "d.txt" } },
  { name: "run_command", args: { command: "ls" } },
].map((call, index) => ({ ...call, id: `m${index}` }));

async function ledgerWithTenantBudget(limit = 1_000): Promise<Ledger> {
  const ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: "tenant:acme", limit });
  return ledger;
}

function answersOf(messages: readonly unknown[]): Record<string, ToolMessage> {
  const answers: Record<string, ToolMessage> = {};
  for (const message of messages) if (ToolMessage.isInstance(message)) answers[message.name ?? ""] = message;
  return answers;
}

async function chargesOf(ledger: Ledger): Promise<Record<string, number>> {
  const commits = (await ledger.audit({ scope: "tenant:acme", type: "commit" })) as {
    action?: { name: string };
    amount?: number;
  }[];
  return Object.fromEntries(commits.map((event) => [event.action?.name ?? "?", event.amount ?? 0]));
}

describe("MCP tools from a real stdio server, through the gate", () => {
  let server: McpServerHandle;
  beforeAll(async () => {
    server = await startMcpServer();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  async function runToolNode(ledger: Ledger, rules?: ToolRule[]) {
    const model = fakeModel().respondWithTools(everyCall).respond(new AIMessage("done"));
    const bound = model.bindTools(server.tools);
    const graph = new StateGraph(TollgateAgentState)
      .addNode("agent", async (state) => ({ messages: [await bound.invoke(state.messages)] }))
      .addNode("tools", new PermissionedToolNode(server.tools, { ledger, subject, rules, next: "agent" }), {
        ends: ["agent"],
      })
      .addEdge(START, "agent")
      .addConditionalEdges("agent", toolsCondition, ["tools", END])
      .compile({ checkpointer: new MemorySaver() });
    return graph.invoke({ messages: [new HumanMessage("tidy the files")] }, { configurable: { thread_id: "mcp-1" } });
  }

  it("charges each tool by its annotations; the one with none is TOOL_NOT_COVERED under a tenant-wide budget", async () => {
    const ledger = await ledgerWithTenantBudget();
    const final = await runToolNode(ledger);
    const answers = answersOf(final.messages);
    expect(await chargesOf(ledger)).toEqual({
      read_file: 5,
      search_docs: 5,
      write_file: 10,
      delete_file: 25,
      send_message: 20,
    });
    expect(answers.failing_write.status).toBe("error");
    expect(answers.run_command.status).toBe("error");
    expect(final.tollgate.denials.map((denial) => [denial.toolName, denial.reasonCode])).toEqual([
      ["run_command", "TOOL_NOT_COVERED"],
    ]);
    // The failed MCP call (an error result, thrown by the adapter) was released, not charged.
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 65, reserved: 0 });
    await ledger.close();
  }, 60_000);

  it("rules on annotations win over the default table, and one glob rule names one toolset", async () => {
    const ledger = await ledgerWithTenantBudget();
    await ledger.setBudget({ scope: "tenant:acme/toolset:files-destructive", limit: 0 });
    const rules: ToolRule[] = [
      { annotations: { destructiveHint: true }, tier: "mutation", estimate: 40, toolset: "files-destructive" },
      { match: "*", annotations: { readOnlyHint: true }, tier: "read", estimate: 1, toolset: "files-read" },
      { match: "run_*", tier: "execution", estimate: 50, toolset: "files-exec" },
    ];
    const final = await runToolNode(ledger, rules);
    const reasons = Object.fromEntries(final.tollgate.denials.map((denial) => [denial.toolName, denial.reasonCode]));
    expect(reasons).toEqual({ delete_file: "BUDGET_EXCEEDED" });
    expect(await chargesOf(ledger)).toMatchObject({ read_file: 1, search_docs: 1, run_command: 50 });
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 1 + 1 + 10 + 20 + 50 });
    await ledger.close();
  }, 60_000);

  it("the createAgent middleware charges and withholds the same way", async () => {
    const ledger = await ledgerWithTenantBudget();
    await ledger.setBudget({ scope: "tenant:acme/toolset:delete_file", limit: 0 });
    const model = fakeModel().respondWithTools(everyCall.slice(0, 5)).respond(new AIMessage("done"));
    const agent = createAgent({ model, tools: server.tools, middleware: [tollgateMiddleware({ ledger, subject })] });
    const result = await agent.invoke({ messages: [new HumanMessage("tidy the files")] });
    const answers = answersOf(result.messages);
    expect(answers.delete_file.status).toBe("error");
    expect(String(answers.delete_file.content)).toMatch(/BUDGET_EXCEEDED at tenant:acme\/toolset:delete_file/);
    expect(await chargesOf(ledger)).toEqual({ read_file: 5, search_docs: 5, write_file: 10, send_message: 20 });
    await ledger.close();
  }, 60_000);
});

describe("MCP server rules", () => {
  let prefixed: McpServerHandle;
  beforeAll(async () => {
    prefixed = await startMcpServer({ prefixToolNameWithServerName: true });
  }, 60_000);
  afterAll(async () => {
    await prefixed?.close();
  });

  it("a server rule covers every tool of that server, the unannotated one included", async () => {
    const ledger = await ledgerWithTenantBudget();
    const rules: ToolRule[] = [{ server: "files", tier: "write-local", estimate: 3, toolset: "files" }];
    const call = { name: "files__run_command", args: { command: "ls" }, id: "r1" };
    const model = fakeModel().respondWithTools([call]).respond(new AIMessage("done"));
    const bound = model.bindTools(prefixed.tools);
    const graph = new StateGraph(TollgateAgentState)
      .addNode("agent", async (state) => ({ messages: [await bound.invoke(state.messages)] }))
      .addNode("tools", new PermissionedToolNode(prefixed.tools, { ledger, subject, rules, next: "agent" }), {
        ends: ["agent"],
      })
      .addEdge(START, "agent")
      .addConditionalEdges("agent", toolsCondition, ["tools", END])
      .compile();
    const final = await graph.invoke({ messages: [new HumanMessage("list")] });
    expect(final.tollgate.denials).toEqual([]);
    expect(await ledger.getBalance({ scope: "tenant:acme/toolset:files" })).toBeNull();
    expect(await chargesOf(ledger)).toEqual({ files__run_command: 3 });
    await ledger.close();
  }, 60_000);
});
