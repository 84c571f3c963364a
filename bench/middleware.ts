/**
 * The cost of tollgateMiddleware in a createAgent run, next to langchain's toolCallLimitMiddleware
 * and no middleware at all: the same agent, the same scripted model, side by side in one process.
 *
 *   npx tsx bench/middleware.ts [invokesPerRound=200] [rounds=7]
 *
 * Each invoke makes 3 model calls and 3 tool calls (two of them in parallel). The variants take
 * turns invoke by invoke, so drift (JIT, GC, a busy machine) spreads over all of them alike.
 */
import { pathToFileURL } from "node:url";
import { BaseChatModel, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { tool } from "@langchain/core/tools";
import { type AgentMiddleware, createAgent, toolCallLimitMiddleware } from "langchain";
import { z } from "zod";
import { createLedger } from "../src/index.js";
import { tollgateMiddleware } from "../src/integrations/langchain/middleware.js";

const toolCallsPerInvoke = 3;
const modelCallsPerInvoke = 3;

/** Answers by how far the conversation got: no timers, no network, the same for every variant. */
class ScriptedBenchModel extends BaseChatModel {
  _llmType(): string {
    return "scripted-bench";
  }

  override bindTools(_tools: BindToolsInput[]) {
    return this;
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const step = messages.filter((message) => AIMessage.isInstance(message)).length;
    const toolCalls =
      step === 0
        ? [
            { name: "lookup", args: { query: "account" }, id: "c0", type: "tool_call" as const },
            { name: "send_email", args: { to: "a@x.io" }, id: "c1", type: "tool_call" as const },
          ]
        : step === 1
          ? [{ name: "lookup", args: { query: "history" }, id: "c2", type: "tool_call" as const }]
          : [];
    const message = new AIMessage({ content: step === 2 ? "resolved" : "", tool_calls: toolCalls });
    return { generations: [{ text: message.text, message }] };
  }
}

const tools = [
  tool(async ({ query }) => `found ${query}`, {
    name: "lookup",
    description: "Look something up",
    schema: z.object({ query: z.string() }),
  }),
  tool(async ({ to }) => `sent to ${to}`, {
    name: "send_email",
    description: "Send an email",
    schema: z.object({ to: z.string() }),
  }),
];

interface Variant {
  name: string;
  invoke: () => Promise<unknown>;
  samplesMs: number[];
}

async function variants(): Promise<Variant[]> {
  // Budgets far above what the benchmark spends: every call is allowed, the full path is timed.
  const ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: "tenant:acme", limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({ scope: "tenant:acme/toolset:send_email", limit: Number.MAX_SAFE_INTEGER });
  const make = (name: string, middleware: AgentMiddleware[]): Variant => {
    const agent = createAgent({ model: new ScriptedBenchModel({}), tools, middleware });
    const input = { messages: [{ role: "user", content: "help" }] };
    return { name, invoke: () => agent.invoke(input), samplesMs: [] };
  };
  return [
    make("(a) createAgent, no middleware", []),
    make("(b) + toolCallLimitMiddleware({ runLimit: 1000 })", [toolCallLimitMiddleware({ runLimit: 1_000 })]),
    make("(c) + tollgateMiddleware (keyv in-memory ledger)", [
      tollgateMiddleware({
        ledger,
        subject: { tenant: "acme", agent: "bench" },
        rules: [
          { match: "lookup", tier: "read", estimate: 2 },
          { match: "send_email", tier: "write-external", estimate: 20 },
        ],
      }),
    ]),
  ];
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Invokes are interleaved one by one (a, b, c, then b, c, a, ...), so a burst of load on a shared
 * machine lands on every variant alike. Means are reported as asked; medians beside them resist outliers.
 */
export async function benchMiddleware(invokesPerRound = 200, rounds = 7): Promise<string[]> {
  const all = await variants();
  // Warm-up: compile every path before timing.
  for (const variant of all) for (let index = 0; index < 100; index++) await variant.invoke();
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < invokesPerRound; index++) {
      for (let turn = 0; turn < all.length; turn++) {
        const variant = all[(index + turn) % all.length];
        const startNs = process.hrtime.bigint();
        await variant.invoke();
        variant.samplesMs.push(Number(process.hrtime.bigint() - startNs) / 1e6);
      }
    }
  }
  const [plain, limit, tollgate] = all.map((variant) => ({
    ...variant,
    meanMs: mean(variant.samplesMs),
    medianMs: median(variant.samplesMs),
  }));
  const perToolCallUs = ((tollgate.meanMs - plain.meanMs) * 1_000) / toolCallsPerInvoke;
  const line = (label: string, value: string) => `${label.padEnd(52)} ${value}`;
  return [
    `createAgent middleware overhead — ${rounds * invokesPerRound} interleaved invokes per variant; ${modelCallsPerInvoke} model calls and ${toolCallsPerInvoke} tool calls per invoke`,
    ...[plain, limit, tollgate].map((variant) =>
      line(
        variant.name,
        `mean ${(variant.meanMs * 1_000).toFixed(0).padStart(6)} µs/invoke   median ${(variant.medianMs * 1_000).toFixed(0).padStart(6)} µs`,
      ),
    ),
    line(
      "ratio (b) / (a)",
      `mean ${(limit.meanMs / plain.meanMs).toFixed(3)}×   median ${(limit.medianMs / plain.medianMs).toFixed(3)}×`,
    ),
    line(
      "ratio (c) / (a)",
      `mean ${(tollgate.meanMs / plain.meanMs).toFixed(3)}×   median ${(tollgate.medianMs / plain.medianMs).toFixed(3)}×`,
    ),
    line(
      "ratio (c) / (b)",
      `mean ${(tollgate.meanMs / limit.meanMs).toFixed(3)}×   median ${(tollgate.medianMs / limit.medianMs).toFixed(3)}×`,
    ),
    line(
      "tollgate cost per tool call over (a), by means",
      `${perToolCallUs.toFixed(0)} µs (reserve + commit per call, plus a dry run per offered tool per model call)`,
    ),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [invokes, rounds] = process.argv.slice(2).map(Number);
  console.log(`tollgate middleware benchmark — node ${process.version}, ${new Date().toISOString()}`);
  for (const line of await benchMiddleware(invokes || undefined, rounds || undefined)) console.log(line);
}
