/**
 * Minimal prototypes of each integration, outside the project's adapters: the least a gate can do
 * around one tool call (reserve, run, commit) on the same ledger, with none of the adapters' work
 * (no charge resolution, no binding from the run config, no denial records, caps, state channel,
 * routing, spans or paid-for marks). Measured beside the real adapters, they say what a figure
 * comes to with any gate at all over that ledger: where one of them misses its target too, the
 * target is out of reach of the gate and lies in the ledger's cost or LangChain's.
 */
import type { ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { StructuredToolInterface } from "@langchain/core/tools";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { ToolNode } from "@langchain/langgraph/prebuilt";
import type { AgentMiddleware } from "langchain";
import type { Ledger } from "../src/ledger/ledger.js";

type ReserveInput = Parameters<Ledger["reserve"]>[0];

/** The one call every prototype makes: reserve, run what was allowed, commit its estimate. */
async function reserveRunCommit<T>(ledger: Ledger, input: ReserveInput, run: () => Promise<T>, denied: () => T) {
  const held = await ledger.reserve(input);
  if (held.decision === "DENY" || held.reservationId === undefined) return denied();
  const result = await run();
  await ledger.commit(held.reservationId, { actual: input.estimate });
  return result;
}

/** A ToolNode with its runTool step gated and nothing else: the floor under PermissionedToolNode. */
export class MinimalGatedToolNode extends ToolNode {
  constructor(
    tools: StructuredToolInterface[],
    private readonly ledger: Ledger,
    private readonly input: ReserveInput,
  ) {
    super(tools);
  }

  protected override runTool(call: ToolCall, config: LangGraphRunnableConfig, state: unknown) {
    return reserveRunCommit(
      this.ledger,
      this.input,
      () => super.runTool(call, config, state),
      () => ({ content: "denied", tool_call_id: call.id }) as unknown as ToolMessage,
    );
  }
}

/** A plain function around `tool.invoke`: the floor under guardTool. */
export function minimalGuard(
  tool: StructuredToolInterface,
  ledger: Ledger,
  input: ReserveInput,
): (args: unknown) => Promise<unknown> {
  return (args) =>
    reserveRunCommit(
      ledger,
      input,
      () => tool.invoke(args as never),
      () => "denied",
    );
}

/** A middleware whose wrapToolCall gates each call by the tool's name: the floor under tollgateMiddleware's enforcing. */
export function minimalMiddleware(ledger: Ledger, inputs: Record<string, ReserveInput>): AgentMiddleware {
  return {
    [Symbol.for("AgentMiddleware")]: true,
    name: "MinimalGate",
    wrapToolCall: (request: { toolCall: ToolCall }, handler: (request: unknown) => Promise<unknown>) =>
      reserveRunCommit(
        ledger,
        inputs[request.toolCall.name],
        () => handler(request),
        () => "denied",
      ),
  } as unknown as AgentMiddleware;
}

/**
 * The same work as tollgateMiddleware, minimally: before each model call a `decide` per offered
 * tool and only the tools not denied passed on, then each tool call gated as minimalMiddleware
 * does. The floor under the whole middleware, tool offer included.
 */
export function minimalOfferingMiddleware(ledger: Ledger, inputs: Record<string, ReserveInput>): AgentMiddleware {
  const enforcing = minimalMiddleware(ledger, inputs);
  return {
    ...enforcing,
    name: "MinimalOfferingGate",
    wrapModelCall: async (request: { tools: { name: string }[] }, handler: (request: unknown) => Promise<unknown>) => {
      const answers = await Promise.all(request.tools.map((tool) => ledger.decide(inputs[tool.name])));
      const tools = request.tools.filter((_, index) => answers[index].decision !== "DENY");
      return handler(tools.length === request.tools.length ? request : { ...request, tools });
    },
  } as unknown as AgentMiddleware;
}
