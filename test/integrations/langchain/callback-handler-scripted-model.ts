import type { BaseChatModelCallOptions, BindToolsInput } from "@langchain/core/language_models/chat_models";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, SystemMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";

/** One model turn: the tool calls it makes (all in one message, so they run in parallel), or a final answer. */
export interface ScriptedTurn {
  toolCalls?: { name: string; args?: Record<string, unknown>; id?: string }[];
  content?: string;
  /** Reported as the message's usage_metadata. */
  usage?: { input: number; output: number };
}

/** What the model saw, per call: the tools it was offered and its system prompt. */
export interface ModelRecord {
  offeredTools: string[][];
  systemPrompts: string[];
}

/**
 * A chat model that follows a script. The turn is picked by how many AI messages the conversation
 * already has, so the same model serves repeated and concurrent runs. `bindTools` records what the
 * model was offered, which is how tests see the tools a middleware withheld.
 */
export class ScriptedChatModel extends BaseChatModel {
  readonly record: ModelRecord;
  private readonly turns: ScriptedTurn[];
  private readonly boundToolNames: string[];

  constructor(turns: ScriptedTurn[], record?: ModelRecord, boundToolNames: string[] = []) {
    super({});
    this.turns = turns;
    this.record = record ?? { offeredTools: [], systemPrompts: [] };
    this.boundToolNames = boundToolNames;
  }

  _llmType(): string {
    return "scripted";
  }

  override bindTools(tools: BindToolsInput[]) {
    const names = tools.map((tool) => ("name" in tool && typeof tool.name === "string" ? tool.name : "(server tool)"));
    return new ScriptedChatModel(this.turns, this.record, names).withConfig({} as BaseChatModelCallOptions);
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    this.record.offeredTools.push([...this.boundToolNames]);
    const system = messages.find((message) => SystemMessage.isInstance(message));
    this.record.systemPrompts.push(system ? system.text : "");
    const step = messages.filter((message) => AIMessage.isInstance(message)).length;
    const turn = this.turns[step] ?? { content: "done" };
    const message = new AIMessage({
      content: turn.content ?? "",
      tool_calls: (turn.toolCalls ?? []).map((call, index) => ({
        name: call.name,
        args: call.args ?? {},
        id: call.id ?? `${call.name}-${step}-${index}`,
        type: "tool_call" as const,
      })),
      ...(turn.usage
        ? {
            usage_metadata: {
              input_tokens: turn.usage.input,
              output_tokens: turn.usage.output,
              total_tokens: turn.usage.input + turn.usage.output,
            },
          }
        : {}),
    });
    return { generations: [{ text: message.text, message }] };
  }
}
