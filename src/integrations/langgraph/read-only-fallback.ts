import type { BaseMessage } from "@langchain/core/messages";
import { Command } from "@langchain/langgraph";
import { denialMessage, describeDenial, type TollgateDenial } from "../shared/denial.js";
import { pendingDenials } from "./denial-messages.js";
import type { TollgateStateUpdate } from "./state.js";

export interface ReadOnlyFallbackOptions {
  /** Where the agent carries on. Default "agent". */
  next?: string;
}

/**
 * A fallback node after which the agent keeps working with read-tier tools only: it sets
 * `tollgate.mode` to "read-only" (permittedTools / permittedModelNode offer only read tools and the
 * tool node denies the rest) and rewrites each pending denial message to tell the model what was
 * denied, why, and what it can still do. Rewriting in place (same message id) keeps one answer per
 * tool call, which chat APIs require. The mode lasts for the thread until the state sets it back.
 *
 * `graph.addNode("readOnly", readOnlyFallback(), { ends: ["agent"] })`
 */
export function readOnlyFallback(options: ReadOnlyFallbackOptions = {}) {
  const next = options.next ?? "agent";
  return function readOnlyFallbackNode(state: { messages: BaseMessage[] }) {
    const resolved: TollgateDenial[] = pendingDenials(state.messages).map(({ denial }) => ({
      ...denial,
      status: "read-only",
    }));
    const messages = resolved.map((denial) =>
      denialMessage(
        denial,
        `Not run: ${describeDenial(denial)}. The run is now in read-only mode: only read tools are available. ` +
          "Continue with them: look things up, summarize, or prepare a draft for a person to review and send.",
      ),
    );
    const tollgate: TollgateStateUpdate = { mode: "read-only", denials: resolved };
    return new Command({ update: { messages, tollgate }, goto: next });
  };
}
