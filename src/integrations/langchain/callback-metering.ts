import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { ValidationError } from "../../core/errors.js";
import { isAmount } from "../../core/units.js";

/** Output tokens assumed for a model call that names no `max_tokens`, when holding an estimate. */
export const modelOutputTokensEstimateDefault = 1_024;
/** A rough, provider-neutral ratio for estimating input tokens from text before the call. */
export const charsPerTokenEstimate = 4;

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Price per token in USD_MICROCENTS (1e-8 USD): one price for all tokens, or input and output apart. */
export type UsdMicrocentsPerToken = number | { input: number; output: number };

export interface ModelCallEstimateInput {
  /** The prompt: chat messages, or plain prompts for a completion model. */
  messages: readonly BaseMessage[] | readonly string[];
  /** The invocation parameters the model reported (`max_tokens`, `maxTokens`, ...). */
  invocationParams: Record<string, unknown> | undefined;
}

/** How many tokens to hold before a model call: a number, or a function of the prompt. */
export type TokensEstimate = number | ((input: ModelCallEstimateInput) => number);

/**
 * Input tokens from the prompt's length plus the output the model may produce. An estimate only:
 * the actual usage replaces it at the end of the call.
 */
export function estimateModelTokens(input: ModelCallEstimateInput): TokenUsage {
  let chars = 0;
  for (const message of input.messages) chars += typeof message === "string" ? message.length : textLength(message);
  const maxTokens = maxTokensOf(input.invocationParams);
  return {
    inputTokens: Math.ceil(chars / charsPerTokenEstimate),
    outputTokens: maxTokens ?? modelOutputTokensEstimateDefault,
  };
}

function textLength(message: BaseMessage): number {
  const content = message.content;
  if (typeof content === "string") return content.length;
  return JSON.stringify(content).length;
}

function maxTokensOf(params: Record<string, unknown> | undefined): number | undefined {
  const value = params?.max_tokens ?? params?.maxTokens ?? params?.max_completion_tokens ?? params?.maxOutputTokens;
  return isAmount(value) && value > 0 ? value : undefined;
}

/**
 * The usage a model reported, from the messages' `usage_metadata` (every current chat model) or the
 * older `llmOutput.tokenUsage`. Undefined when the model reported nothing.
 */
export function usageOf(output: LLMResult): TokenUsage | undefined {
  let found = false;
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  for (const generation of output.generations.flat()) {
    const metadata = (generation as { message?: { usage_metadata?: Record<string, unknown> } }).message?.usage_metadata;
    if (!metadata) continue;
    found = true;
    usage.inputTokens += amountOr0(metadata.input_tokens);
    usage.outputTokens += amountOr0(metadata.output_tokens);
  }
  if (found) return usage;
  const legacy = (output.llmOutput?.tokenUsage ?? output.llmOutput?.estimatedTokenUsage) as
    | Record<string, unknown>
    | undefined;
  if (!legacy) return undefined;
  return { inputTokens: amountOr0(legacy.promptTokens), outputTokens: amountOr0(legacy.completionTokens) };
}

function amountOr0(value: unknown): number {
  return isAmount(value) ? value : 0;
}

export function totalTokens(usage: TokenUsage): number {
  return usage.inputTokens + usage.outputTokens;
}

/** Cost in USD_MICROCENTS, rounded up so a fraction of a micro-cent is never given away. */
export function usdMicrocentsOf(usage: TokenUsage, price: UsdMicrocentsPerToken): number {
  const inputPrice = typeof price === "number" ? price : price.input;
  const outputPrice = typeof price === "number" ? price : price.output;
  return Math.ceil(usage.inputTokens * inputPrice + usage.outputTokens * outputPrice);
}

/** Validates the price option: finite, non-negative numbers (fractions allowed, the total is rounded up). */
export function validateUsdMicrocentsPerToken(price: UsdMicrocentsPerToken, path: string): UsdMicrocentsPerToken {
  const parts =
    typeof price === "number"
      ? { [path]: price }
      : { [`${path}.input`]: price?.input, [`${path}.output`]: price?.output };
  const issues = Object.entries(parts)
    .filter(([, value]) => typeof value !== "number" || !Number.isFinite(value) || value < 0)
    .map(([at]) => ({ code: "invalid_value", path: at, message: "must be a finite, non-negative number" }));
  if (issues.length > 0) throw new ValidationError(issues);
  return price;
}
