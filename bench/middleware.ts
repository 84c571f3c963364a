/**
 * The cost of tollgateMiddleware in a createAgent run against the same agent without it (target
 * ≤ 1.10×), over the embedded ledger and over an instant stub ledger; a pass-through middleware
 * and langchain's toolCallLimitMiddleware for scale. The same scripted model everywhere.
 *
 *   npx tsx bench/middleware.ts [invokesPerRound=40] [rounds=15]
 *
 * Each invoke makes 3 model calls and 3 tool calls (two of them in parallel).
 */
import { pathToFileURL } from "node:url";
import { BaseChatModel, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { tool } from "@langchain/core/tools";
import { type AgentMiddleware, createAgent, toolCallLimitMiddleware } from "langchain";
import { z } from "zod";
import { toolsetFromName } from "../src/core/tool-rules.js";
import { tollgateMiddleware } from "../src/integrations/langchain/middleware.js";
import { embeddedLedger, instantLedger, leanLedger, measuredPair, scaleLine, targetLine } from "./graph.js";
import { formatMeasurement } from "./measure.js";
import { minimalMiddleware, minimalOfferingMiddleware } from "./minimal-gates.js";

const toolCallsPerInvoke = 3;
const modelCallsPerInvoke = 3;

/** Answers by how far the conversation got: no timers, no network, the same for every variant. */
export class ScriptedBenchModel extends BaseChatModel {
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

export const tools = [
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

export const rules = [
  { match: "lookup", tier: "read" as const, estimate: 2 },
  { match: "send_email", tier: "write-external" as const, estimate: 20 },
];
export const subject = { tenant: "acme", agent: "bench" };

export function agentWith(middleware: AgentMiddleware[]): () => Promise<unknown> {
  const agent = createAgent({ model: new ScriptedBenchModel({}), tools, middleware });
  const input = { messages: [{ role: "user", content: "help" }] };
  return () => agent.invoke(input);
}

/**
 * What langchain charges for any middleware with both hooks: one that only passes each call
 * through. tollgateMiddleware cannot cost less than this.
 */
export const passThroughMiddleware = {
  [Symbol.for("AgentMiddleware")]: true,
  name: "PassThrough",
  wrapModelCall: (request: unknown, handler: (request: unknown) => unknown) => handler(request),
  wrapToolCall: (request: unknown, handler: (request: unknown) => unknown) => handler(request),
} as unknown as AgentMiddleware;

/** tollgateMiddleware on `ledger`, except that its model-call hook (the tool offer) asks an instant stub ledger. */
function offerOnStub(ledger: Awaited<ReturnType<typeof embeddedLedger>>): AgentMiddleware {
  const enforcing = tollgateMiddleware({ ledger, subject, rules });
  const offering = tollgateMiddleware({ ledger: instantLedger(), subject, rules });
  return { ...enforcing, wrapModelCall: offering.wrapModelCall } as AgentMiddleware;
}

/**
 * Each target as a pair, interleaved round by round (measurePair): createAgent without middleware
 * against the same agent with tollgateMiddleware, over the embedded ledger, a lean prototype of
 * the ledger's hot path and the instant stub ledger (the middleware's own cost), beside a
 * pass-through middleware (langchain's share) and langchain's toolCallLimitMiddleware for scale.
 */
export async function benchMiddleware(invokesPerRound = 40, rounds = 15): Promise<string[]> {
  const ledger = await embeddedLedger(["send_email"]);
  const leanLimits = {
    "tenant:acme": Number.MAX_SAFE_INTEGER,
    "tenant:acme/toolset:send_email": Number.MAX_SAFE_INTEGER,
  };
  const plain = agentWith([]);
  // The minimal gate charges what the rules say, resolved here once rather than per call.
  const minimalInputs = Object.fromEntries(
    rules.map((rule) => [
      rule.match,
      {
        subject: { ...subject, toolset: toolsetFromName(rule.match) },
        action: { name: rule.match, tier: rule.tier },
        estimate: rule.estimate,
      },
    ]),
  );
  const loop = (run: () => Promise<unknown>) => async () => {
    for (let index = 0; index < invokesPerRound; index++) await run();
  };
  const pairs: [string, () => Promise<unknown>, number | undefined][] = [
    ["+ tollgateMiddleware, embedded ledger", agentWith([tollgateMiddleware({ ledger, subject, rules })]), 1.1],
    [
      "+ tollgateMiddleware, lean prototype ledger",
      agentWith([tollgateMiddleware({ ledger: leanLedger(leanLimits), subject, rules })]),
      1.1,
    ],
    [
      // What the tool offer's decides cost: the same middleware with its model-call hook on the stub.
      "+ tollgateMiddleware, embedded ledger, its tool offer (wrapModelCall) on the stub ledger",
      agentWith([offerOnStub(ledger)]),
      1.1,
    ],
    [
      "+ tollgateMiddleware, instant stub ledger",
      agentWith([tollgateMiddleware({ ledger: instantLedger(), subject, rules })]),
      1.1,
    ],
    [
      "+ a minimal gate middleware (wrapToolCall: reserve, run, commit), embedded ledger",
      agentWith([minimalMiddleware(ledger, minimalInputs)]),
      1.1,
    ],
    [
      // The floor under the whole middleware: the same work (offer, then enforce) done minimally.
      "+ a minimal gate middleware that also offers only allowed tools (a decide per tool per model call), embedded ledger",
      agentWith([minimalOfferingMiddleware(ledger, minimalInputs)]),
      1.1,
    ],
    ["+ a pass-through middleware (both hooks)", agentWith([passThroughMiddleware]), undefined],
    [
      "+ toolCallLimitMiddleware({ runLimit: 1000 })",
      agentWith([toolCallLimitMiddleware({ runLimit: 1_000 })]),
      undefined,
    ],
  ];
  const lines = [
    `## createAgent middleware, ${rounds} rounds of ${invokesPerRound} invokes per variant, pairs interleaved round by round; ${modelCallsPerInvoke} model calls and ${toolCallsPerInvoke} tool calls per invoke`,
  ];
  const verdicts: string[] = [];
  for (const [name, run, max] of pairs) {
    const pair = await measuredPair(
      { name: "createAgent, no middleware", run: loop(plain) },
      { name: `createAgent ${name}`, run: loop(run) },
      invokesPerRound,
      rounds,
    );
    lines.push(formatMeasurement(pair.base), formatMeasurement(pair.gated));
    verdicts.push(
      max !== undefined
        ? targetLine({
            label: `createAgent ${name} / without`,
            pair,
            max,
            forScale: name !== "+ tollgateMiddleware, embedded ledger",
          })
        : scaleLine(`createAgent ${name} / without (for scale)`, pair),
    );
  }
  // Ours against the same-work floor directly, in the same rounds: what the middleware adds over it.
  const overFloor = await measuredPair(
    {
      name: "createAgent + the minimal offering gate middleware",
      run: loop(agentWith([minimalOfferingMiddleware(ledger, minimalInputs)])),
    },
    {
      name: "createAgent + tollgateMiddleware",
      run: loop(agentWith([tollgateMiddleware({ ledger, subject, rules })])),
    },
    invokesPerRound,
    rounds,
  );
  lines.push(formatMeasurement(overFloor.base), formatMeasurement(overFloor.gated));
  verdicts.push(
    scaleLine("createAgent + tollgateMiddleware / + the minimal offering gate middleware, embedded ledger", overFloor),
  );
  await ledger.close();
  return [...lines, "", ...verdicts];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [invokes, rounds] = process.argv.slice(2).map(Number);
  console.log(`tollgate middleware benchmark — node ${process.version}, ${new Date().toISOString()}`);
  for (const line of await benchMiddleware(invokes || undefined, rounds || undefined)) console.log(line);
}
