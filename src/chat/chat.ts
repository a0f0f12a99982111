import { generate, type GenerateOptions, type GenerationResult } from '../generation/generate.js';
import { resolveGenerationConfig } from '../generation/config.js';
import type { CausalLM } from '../model/causal-lm.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { buildChatInput, detectChatFormat, EosTextStripper, type ChatFormat } from './format.js';
import type { ChatMessage } from './messages.js';

export interface ChatOptions extends GenerateOptions {
  /** Prompt format; default: detected from the model config (see detectChatFormat). */
  format?: ChatFormat;
}

/** What a chat turn will run: the prompt ids in XVERSE's format and the settings for generate(). */
export interface PreparedChat {
  format: ChatFormat;
  formatReason: string;
  promptIds: number[];
  options: GenerateOptions;
}

/**
 * Builds the prompt for `messages` as XVERSE's `_build_chat_input` does (spec §3): the input budget
 * uses the same max_new_tokens that generation will use (the per-call value, else the model's
 * generation_config.json, else our default).
 */
export function prepareChat(model: CausalLM, tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {}): PreparedChat {
  const { format: override, ...generateOptions } = options;
  const { format, reason } = detectChatFormat(model.config, override);
  const maxNewTokens = resolveGenerationConfig(options.generationConfig, options).maxNewTokens;
  const eosTokenId = tokenizer.eosTokenId ?? model.config.eosTokenIds[0];
  if (eosTokenId === undefined) throw new RangeError('chat needs an EOS token id (tokenizer or config.json eos_token_id)');
  const promptIds = buildChatInput(tokenizer, messages, format, {
    maxPositionEmbeddings: model.config.maxPositionEmbeddings,
    maxNewTokens,
    eosTokenId,
    maxTokenizerTruncation: model.config.maxTokenizerTruncation,
  });
  return {
    format,
    formatReason: reason,
    promptIds,
    // Like XVERSE's streaming chat: only the reply is decoded (no prompt context, so a leading
    // space is stripped as HF's skip_prompt streamer does), special tokens such as
    // <|startofthink|> stay in the text (function calls need them) and the EOS string is removed.
    options: { skipSpecialTokens: false, detokenizeContext: [], ...generateOptions },
  };
}

/**
 * One chat turn, streamed: yields text deltas of the assistant's reply (never containing the EOS
 * string) and returns the full GenerationResult (ids, stats, finish reason, the cache for reuse).
 */
export async function* chatStream(
  model: CausalLM, tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {},
): AsyncGenerator<string, GenerationResult, void> {
  const prepared = prepareChat(model, tokenizer, messages, options);
  const stripper = new EosTextStripper(tokenizer.eosToken);
  const run = generate(model, tokenizer, prepared.promptIds, prepared.options);
  let text = '';
  for (;;) {
    const step = await run.next();
    if (step.done) {
      const tail = stripper.flush();
      if (tail) yield tail;
      text += tail;
      return { ...step.value, text };
    }
    const delta = stripper.push(step.value.text);
    text += delta;
    if (delta) yield delta;
  }
}

/** One chat turn, returning the whole reply (XVERSE's `model.chat(tokenizer, messages)`). */
export async function chat(model: CausalLM, tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<string> {
  const run = chatStream(model, tokenizer, messages, options);
  for (;;) {
    const step = await run.next();
    if (step.done) return step.value.text;
  }
}
