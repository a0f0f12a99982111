import { ChatError } from '../errors.js';
import { validateChatMessages, type ChatMessage } from './messages.js';
import { checkInteger, maxInputTokensV1, type ChatInputV1Options, type ChatTokenizer } from './prompt-v1.js';

export interface ChatInputV2Options extends ChatInputV1Options {
  /**
   * `config.max_tokenizer_truncation` (6144 in the XVERSE v2 chat configs), or null when the
   * config has none — then the budget is the `max(...)` expression alone (see maxInputTokensV2).
   */
  readonly maxTokenizerTruncation: number | null;
}

/**
 * `max_input_tokens = min(max_tokenizer_truncation, max(max_pos // 2, max_pos − max_new_tokens))`
 * (spec §3.2 step 1). The Python reads `config.max_tokenizer_truncation` unconditionally; a config
 * without the field (e.g. a v1 or converted checkpoint run in v2 format) would crash there, so we
 * treat a missing value as "no extra cap" and use the `max(...)` term alone.
 */
export function maxInputTokensV2(maxPositionEmbeddings: number, maxNewTokens: number, maxTokenizerTruncation: number | null): number {
  const budget = maxInputTokensV1(maxPositionEmbeddings, maxNewTokens);
  if (maxTokenizerTruncation === null) return budget;
  checkInteger('maxTokenizerTruncation', maxTokenizerTruncation, 1);
  return Math.min(maxTokenizerTruncation, budget);
}

/**
 * XVERSE v2 chat prompt ids (XVERSE-13B-2-Chat, 7B-Chat, 65B-Chat), exactly as spec §3.2 describes:
 *
 *   `Human: {system}\n` `Human: {user}\n\n` `Assistant: {reply}<eos>` `Exec: {result}\n\n` `Assistant: `
 *
 * The role prefixes `Human: `, `Exec: `, `Assistant: ` are encoded on their own and every content
 * piece separately, so per-call tokenizer effects (the Metaspace `▁` prefix) appear at every segment
 * boundary — a port must not encode the concatenated string (spec §3.2 "Tokenisation caveat").
 * All encode calls use `addSpecialTokens: false`; no BOS is ever inserted.
 *
 * Round admission, walking newest → oldest (spec §3.2 step 3, "identical to v1"), as we read it:
 * - Assistant turns are prepended to a pending round. A user or exec message closes the round
 *   (it becomes the round's first message), and so does the system message: being first, it is the
 *   last one visited and the pending round (any assistant turns between it and the first user
 *   message) goes in or out together with it. Assistant turns older than every user/exec message
 *   with no system message before them are never closed into a round and are dropped, as in the
 *   original code.
 * - The newest message (always user or exec) is the newest round and is always kept; it is first
 *   right-truncated to `max_input_tokens − len(P_asst)` tokens — its role prefix counts toward that
 *   and is cut too if the budget is smaller than the prefix — and then `P_asst` is appended, so the
 *   newest round never exceeds the budget. If it fills the budget, nothing older is considered.
 * - An older round is added only if `len(total) + len(round) ≤ max_input_tokens`; the first one that
 *   does not fit stops the walk: it and everything older (system included) is dropped, even if an
 *   even older round would fit.
 * - The system message is added only if it (with its pending round) still fits; otherwise dropped.
 * There is no final left truncation in v2 (spec §3.2 step 4): the result is never longer than the
 * budget by construction.
 *
 * Throws ChatError if the budget cannot even hold `P_asst` (Python would slice with a negative
 * bound there and silently cut tokens off the end of the newest message instead).
 */
export function buildChatInputV2(tokenizer: ChatTokenizer, messages: readonly ChatMessage[], options: ChatInputV2Options): number[] {
  validateChatMessages(messages, 'v2');
  const maxInput = maxInputTokensV2(options.maxPositionEmbeddings, options.maxNewTokens, options.maxTokenizerTruncation);
  const eos = checkInteger('eosTokenId', options.eosTokenId, 0);
  const encode = (text: string): number[] => tokenizer.encode(text, { addSpecialTokens: false });

  const userPrefix = encode('Human: ');
  const execPrefix = encode('Exec: ');
  const assistantPrefix = encode('Assistant: ');
  const newestKeep = maxInput - assistantPrefix.length;
  if (newestKeep < 0) {
    throw new ChatError(
      `chat prompt budget of ${maxInput} tokens cannot hold the "Assistant: " prefix (${assistantPrefix.length} tokens)`,
    );
  }

  let total: number[] = [];
  let round: number[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message = messages[messages.length - 1 - i] as ChatMessage;
    switch (message.role) {
      case 'assistant':
        round = [...assistantPrefix, ...encode(message.content), eos, ...round];
        break;
      case 'user':
      case 'exec': {
        let piece = [...(message.role === 'user' ? userPrefix : execPrefix), ...encode(`${message.content}\n\n`)];
        if (i === 0) {
          // Newest message: nothing can be pending after it, so it is the whole newest round.
          total = [...piece.slice(0, newestKeep), ...assistantPrefix];
          if (total.length >= maxInput) return total;
          break;
        }
        piece = [...piece, ...round];
        if (total.length + piece.length > maxInput) return total;
        total = [...piece, ...total];
        round = [];
        break;
      }
      case 'system': {
        // Validation guarantees this is messages[0], the last one visited.
        const piece = [...userPrefix, ...encode(`${message.content}\n`), ...round];
        if (total.length + piece.length > maxInput) return total;
        total = [...piece, ...total];
        round = [];
        break;
      }
    }
  }
  return total;
}
