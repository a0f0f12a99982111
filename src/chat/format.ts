import { ChatError } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import type { ChatMessage } from './messages.js';
import { buildChatInputV1, type ChatTokenizer } from './prompt-v1.js';
import { buildChatInputV2 } from './prompt-v2.js';

/** v1: XVERSE-13B-Chat (Aug 2023, spec §3.1); v2: 13B-2-Chat / 7B-Chat / 65B-Chat (spec §3.2). */
export type ChatFormat = 'v1' | 'v2';

export const CHAT_FORMATS: readonly ChatFormat[] = ['v1', 'v2'];

/** The vocabulary size of the original XVERSE-13B(-Chat) tokenizer; v2 models have 100,534 (spec §0). */
export const V1_VOCAB_SIZE = 100_278;

export interface ChatFormatChoice {
  readonly format: ChatFormat;
  /** Why this format was chosen, for `xverse info` / verbose output. */
  readonly reason: string;
}

/** Parses a user-supplied format name (CLI flag, API option). */
export function parseChatFormat(value: string): ChatFormat {
  if (value === 'v1' || value === 'v2') return value;
  throw new ChatError(`chat format must be "v1" or "v2", got ${JSON.stringify(value)}`);
}

/**
 * Chooses the prompt format "from the model folder when it can be told, otherwise v2": an explicit
 * override wins; then config.json's `chat_format` (an xverse-ts extension); then the vocabulary size
 * — only the original XVERSE-13B-Chat has 100,278 ids, so that size means v1; anything else gets v2,
 * the format of every later XVERSE chat model.
 */
export function detectChatFormat(config: Pick<ModelConfig, 'chatFormat' | 'vocabSize'>, override?: ChatFormat): ChatFormatChoice {
  if (override !== undefined) return { format: parseChatFormat(override), reason: `chat format ${override} requested explicitly` };
  if (config.chatFormat !== null) {
    return { format: config.chatFormat, reason: `config.json sets chat_format "${config.chatFormat}"` };
  }
  if (config.vocabSize === V1_VOCAB_SIZE) {
    return { format: 'v1', reason: `vocab size ${V1_VOCAB_SIZE} is the original XVERSE-13B-Chat tokenizer's` };
  }
  return { format: 'v2', reason: `vocab size ${config.vocabSize} is not the v1 tokenizer's ${V1_VOCAB_SIZE}; v2 is the default` };
}

export interface ChatLimits {
  readonly maxPositionEmbeddings: number;
  readonly maxNewTokens: number;
  readonly eosTokenId: number;
  /** v2 only (ignored by v1); null or absent = no `max_tokenizer_truncation` cap. */
  readonly maxTokenizerTruncation?: number | null;
}

/** Prompt ids for `messages` in the given format (see buildChatInputV1 / buildChatInputV2). */
export function buildChatInput(tokenizer: ChatTokenizer, messages: readonly ChatMessage[], format: ChatFormat, limits: ChatLimits): number[] {
  switch (format) {
    case 'v1':
      return buildChatInputV1(tokenizer, messages, limits);
    case 'v2':
      return buildChatInputV2(tokenizer, messages, { ...limits, maxTokenizerTruncation: limits.maxTokenizerTruncation ?? null });
    default:
      throw new ChatError(`chat format must be "v1" or "v2", got ${JSON.stringify(format as unknown)}`);
  }
}

/**
 * Removes the eos string (e.g. `<|endoftext|>`) from streamed chat text. XVERSE's Python does this
 * per chunk (`.replace(eos_token, "")` in v2; `.rstrip(eos_token)` in v1, which actually strips any
 * of the eos string's *characters* from the chunk end — a bug we do not copy). Here the guarantee
 * is on the whole stream: the concatenation of everything `push` and `flush` return never contains
 * the eos string, even when it arrives split over chunks or is formed only after an inner
 * occurrence is removed (`<|endo<|endoftext|>ftext|>` → ``). To do that the stripper holds back a
 * chunk tail that could still turn into part of the eos string; `flush` releases it at the end.
 *
 * Algorithm: a stack of received-but-unreleased UTF-16 units with the KMP match state after each,
 * popping the eos string whenever it completes on top. A unit whose state is 0 can never be part
 * of a later match (a match covering it would need a partial match ending on it), and then nothing
 * below it can be either, so everything up to the last state-0 unit is safe to release.
 */
export class EosTextStripper {
  private readonly eos: string;
  private readonly failure: number[];
  private readonly chars: string[] = [];
  private readonly states: number[] = [];

  constructor(eosToken: string | null) {
    this.eos = eosToken ?? '';
    this.failure = kmpFailure(this.eos);
  }

  /** Feeds a chunk; returns the text that is now safe to show. */
  push(chunk: string): string {
    if (this.eos.length === 0) return chunk;
    for (let k = 0; k < chunk.length; k++) this.pushUnit(chunk[k] as string);
    let safe = this.states.lastIndexOf(0) + 1;
    // Never hand out half of a surrogate pair.
    if (safe > 0 && isHighSurrogate(this.chars[safe - 1] as string)) safe--;
    const out = this.chars.slice(0, safe).join('');
    this.chars.splice(0, safe);
    this.states.splice(0, safe);
    return out;
  }

  /** Ends the stream, releasing any held-back text (it can no longer become the eos string). */
  flush(): string {
    const out = this.chars.join('');
    this.chars.length = 0;
    this.states.length = 0;
    return out;
  }

  /** Matching runs on UTF-16 units so that KMP works on plain string indices. */
  private pushUnit(unit: string): void {
    let state = this.states.length > 0 ? (this.states[this.states.length - 1] as number) : 0;
    while (state > 0 && this.eos[state] !== unit) state = this.failure[state - 1] as number;
    if (this.eos[state] === unit) state++;
    this.chars.push(unit);
    this.states.push(state);
    if (state === this.eos.length) {
      // A complete eos string on top of the stack: drop it; the state below it resumes.
      this.chars.length -= this.eos.length;
      this.states.length -= this.eos.length;
    }
  }
}

function isHighSurrogate(unit: string): boolean {
  const c = unit.charCodeAt(0);
  return c >= 0xd800 && c <= 0xdbff;
}

/** Removes every occurrence of the eos string from a complete text (same rule as EosTextStripper). */
export function stripEosText(text: string, eosToken: string | null): string {
  const stripper = new EosTextStripper(eosToken);
  return stripper.push(text) + stripper.flush();
}

/** failure[k] = length of the longest proper prefix of s[0..k] that is also its suffix. */
function kmpFailure(s: string): number[] {
  const failure = new Array<number>(s.length).fill(0);
  let k = 0;
  for (let i = 1; i < s.length; i++) {
    while (k > 0 && s[i] !== s[k]) k = failure[k - 1] as number;
    if (s[i] === s[k]) k++;
    failure[i] = k;
  }
  return failure;
}
