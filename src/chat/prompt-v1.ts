import { ChatError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { validateChatMessages, type ChatMessage } from './messages.js';

/** Only `encode` is needed; taking the narrow type keeps test tokenizers small. */
export type ChatTokenizer = Pick<Tokenizer, 'encode'>;

export interface ChatInputV1Options {
  /** `config.max_position_embeddings` (8192 for XVERSE-13B-Chat). */
  readonly maxPositionEmbeddings: number;
  /** Tokens reserved for the answer (`generation_config.max_new_tokens`, 2048 by default). */
  readonly maxNewTokens: number;
  /** Appended after every assistant turn (3 = `<|endoftext|>` for XVERSE). */
  readonly eosTokenId: number;
}

/**
 * `max_input_tokens = max(max_position_embeddings // 2, max_position_embeddings − max_new_tokens)`
 * (spec §3.1 step 1; 8192 & 2048 → 6144). Half the context always stays available to the prompt,
 * however large max_new_tokens is.
 */
export function maxInputTokensV1(maxPositionEmbeddings: number, maxNewTokens: number): number {
  checkInteger('maxPositionEmbeddings', maxPositionEmbeddings, 1);
  checkInteger('maxNewTokens', maxNewTokens, 0);
  const budget = Math.max(Math.floor(maxPositionEmbeddings / 2), maxPositionEmbeddings - maxNewTokens);
  // Only reachable with max_position_embeddings 1; Python's `ids[-0:]` would then keep everything.
  if (budget < 1) {
    throw new ChatError(`chat prompt budget is ${budget} tokens (max_position_embeddings ${maxPositionEmbeddings}, max_new_tokens ${maxNewTokens})`);
  }
  return budget;
}

/**
 * XVERSE-13B-Chat (v1) prompt ids, exactly as its `_build_chat_input` builds them (spec §3.1):
 *
 *   `Human: q1\n\nAssistant: a1<eos>Human: q2\n\nAssistant: `
 *
 * Unlike v2, each user turn is one encode call covering role marker and content (and, for the newest
 * message, the trailing `Assistant: ` too); an assistant turn is one call on `"Assistant: {content}"`
 * followed by the eos id. Every call uses `addSpecialTokens: false`: XVERSE never inserts BOS.
 *
 * Walking newest → oldest, assistant turns collect into a pending round that the next (older) user
 * turn closes. The newest round is always kept; an older round is added only if the whole round fits
 * in what is left of `max_input_tokens`, otherwise it and everything older is dropped — an even older,
 * smaller round is not tried. Assistant turns older than every user turn are never closed into a
 * round, so they are dropped (as in the Python).
 *
 * The newest round alone may exceed the budget (its user message is not truncated here); the final
 * step keeps only the last `max_input_tokens` ids, so an over-long newest question loses its start,
 * `Human: ` marker included (spec §3.1 step 3).
 */
export function buildChatInputV1(tokenizer: ChatTokenizer, messages: readonly ChatMessage[], options: ChatInputV1Options): number[] {
  validateChatMessages(messages, 'v1');
  const maxInput = maxInputTokensV1(options.maxPositionEmbeddings, options.maxNewTokens);
  const eos = checkInteger('eosTokenId', options.eosTokenId, 0);
  const encode = (text: string): number[] => tokenizer.encode(text, { addSpecialTokens: false });

  let total: number[] = [];
  let round: number[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message = messages[messages.length - 1 - i] as ChatMessage;
    if (message.role === 'assistant') {
      round = [...encode(`Assistant: ${message.content}`), eos, ...round];
      continue;
    }
    // A user turn (validation allows nothing else in v1) closes the pending round.
    const newest = i === 0;
    round = [...encode(`Human: ${message.content}\n\n${newest ? 'Assistant: ' : ''}`), ...round];
    if (newest) {
      total = round;
      if (total.length >= maxInput) break;
    } else {
      if (total.length + round.length > maxInput) break;
      total = [...round, ...total];
    }
    round = [];
  }
  return total.length > maxInput ? total.slice(total.length - maxInput) : total;
}

/** Shared with prompt-v2.ts (not part of the public chat API): limits come from JS callers and configs. */
export function checkInteger(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ChatError(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}
