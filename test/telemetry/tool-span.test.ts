import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { telemetryReady } from "../../src/ledger/telemetry.js";
import { runScenario } from "../integrations/gate/adapters.js";
import { type AdapterName, adapterNames, scenarios } from "../integrations/gate/scenarios.js";

/**
 * The OpenTelemetry SDK, really registered (tracer provider and an AsyncLocalStorage context
 * manager, as an application's setup does), exporting to memory: every adapter's runs through real
 * graphs and agents must show one GenAI execute_tool span per gated tool call.
 */
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  await telemetryReady();
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const scenario = (prefix: string) => {
  const found = scenarios.find((row) => row.name.startsWith(prefix));
  if (!found) throw new Error(`no scenario "${prefix}"`);
  return found;
};
const toolSpans = () => exporter.getFinishedSpans().filter((span) => span.name.startsWith("execute_tool "));
const attr = (span: ReadableSpan, key: string) => span.attributes[key];

describe.each(adapterNames.filter((name) => name !== "approvalFallback"))("execute_tool spans: %s", (adapter) => {
  it("one span per gated call, in the GenAI conventions, with tollgate's decision", async () => {
    const row = scenario("guardTool spec charged");
    await runScenario(adapter as AdapterName, row);
    const spans = toolSpans();
    expect(spans).toHaveLength(6);
    for (const span of spans) {
      expect(span.name).toBe("execute_tool send_email");
      expect(span.kind).toBe(0); // INTERNAL
      expect(attr(span, "gen_ai.operation.name")).toBe("execute_tool");
      expect(attr(span, "gen_ai.tool.name")).toBe("send_email");
      expect(attr(span, "gen_ai.tool.type")).toBe("function");
      expect(attr(span, "tollgate.scope")).toBe("tenant:acme/agent:resolver/toolset:send-email");
      expect(attr(span, "tollgate.tier")).toBe("write-external");
      expect(attr(span, "tollgate.estimate")).toBe(20);
    }
    // Every call the ledger decided names its reserve's audit event: the join key with the evidence chain.
    const seqs = spans.map((span) => attr(span, "tollgate.audit.seq"));
    expect(seqs.every((seq) => Number.isSafeInteger(seq) && (seq as number) > 0)).toBe(true);
    expect(new Set(seqs).size).toBe(seqs.length);
    const decisions = spans.map((span) => attr(span, "tollgate.decision"));
    expect(decisions.filter((decision) => decision !== "DENY")).toHaveLength(5);
    const denied = spans.filter((span) => attr(span, "tollgate.decision") === "DENY");
    expect(denied).toHaveLength(1);
    expect(attr(denied[0], "tollgate.reason")).toBe("BUDGET_EXCEEDED");
    expect(attr(denied[0], "tollgate.remaining")).toBe(0);
    expect(denied[0].status.code).toBe(0); // an answer, not an error
    const callIds = spans.map((span) => attr(span, "gen_ai.tool.call.id")).sort();
    expect(callIds).toEqual(["e1", "e2", "e3", "e4", "e5", "e6"]);
    // The ledger's own spans nest under the call's span: traces join on it.
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const reserves = exporter.getFinishedSpans().filter((span) => span.name === "tollgate.reserve");
    expect(reserves.length).toBeGreaterThanOrEqual(6);
    for (const reserve of reserves) expect(byId.has(reserve.parentSpanContext?.spanId ?? "")).toBe(true);
    const commits = exporter.getFinishedSpans().filter((span) => span.name === "tollgate.commit");
    expect(commits).toHaveLength(5);
    for (const commit of commits) expect(byId.has(commit.parentSpanContext?.spanId ?? "")).toBe(true);
  });

  it("a tool that throws ends its span as an error with error.type", async () => {
    await runScenario(adapter as AdapterName, scenario("a tool that throws"));
    const [span] = toolSpans();
    expect(toolSpans()).toHaveLength(1);
    expect(attr(span, "tollgate.decision")).toBe("ALLOW");
    expect(span.status.code).toBe(2);
    // ToolNode turns a throw into an error ToolMessage before the gate sees it; elsewhere the error's name.
    expect(attr(span, "error.type")).toBe(adapter === "toolNode" ? "tool_error" : "Error");
  });

  it("a tool nothing names is denied TOOL_NOT_COVERED on its span", async () => {
    const row = scenario("a tool nothing names");
    if (row.notFor?.[adapter as AdapterName]) return;
    await runScenario(adapter as AdapterName, row);
    const uncovered = toolSpans().filter((span) => attr(span, "gen_ai.tool.name") === "wipe_disk");
    expect(uncovered).toHaveLength(1);
    expect(attr(uncovered[0], "tollgate.decision")).toBe("DENY");
    expect(attr(uncovered[0], "tollgate.reason")).toBe("TOOL_NOT_COVERED");
  });
});

describe.each(["approvalFallback", "middleware"] as const)("execute_tool spans on approval: %s", (adapter) => {
  it("the denied call's span, then the approved run's span naming the approver", async () => {
    await runScenario(adapter, scenario("approve: the denied call runs once"));
    const spans = toolSpans();
    const decisions = spans.map((span) => attr(span, "tollgate.decision"));
    // LangGraph runs the middleware's node again on resume, so the ledger is asked (and denies)
    // once more before the approval answers: one span per ledger decision, then the approved run.
    expect(decisions.slice(0, -1)).toEqual(adapter === "middleware" ? ["DENY", "DENY"] : ["DENY"]);
    const approved = spans.at(-1) as ReadableSpan;
    expect(attr(approved, "tollgate.decision")).toBe("ALLOW");
    expect(attr(approved, "tollgate.approved_by")).toBeTypeOf("string");
    expect(attr(approved, "gen_ai.tool.call.id")).toBe(attr(spans[0], "gen_ai.tool.call.id"));
    expect(approved.status.code).toBe(0);
  });
});
