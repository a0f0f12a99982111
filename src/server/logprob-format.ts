import type { TokenLogprob } from '../generation/logprobs.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/**
 * The text of one token as OpenAI reports it: SentencePiece's `▁` is a space and a byte-fallback
 * token `<0xNN>` is that byte (as a lone byte may not be valid UTF-8, `bytes` carries it exactly).
 */
export function tokenText(tokenizer: Tokenizer, id: number): { token: string; bytes: number[] } {
  const piece = tokenizer.idToToken(id) ?? '';
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (byte) {
    const value = parseInt(byte[1]!, 16);
    return { token: value < 0x80 ? String.fromCharCode(value) : piece, bytes: [value] };
  }
  const token = piece.replace(/\u2581/g, ' ');
  return { token, bytes: [...Buffer.from(token, 'utf8')] };
}

/** One entry of chat's `choices[].logprobs.content[]`. */
export interface ChatLogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }>;
}

export function chatLogprobEntry(tokenizer: Tokenizer, id: number, logprob: number, top: readonly TokenLogprob[]): ChatLogprobEntry {
  return {
    ...tokenText(tokenizer, id),
    logprob,
    top_logprobs: top.map((t) => ({ ...tokenText(tokenizer, t.id), logprob: t.logprob })),
  };
}

/** Legacy completions `choices[].logprobs`: parallel arrays, `null` where there is no value (first prompt token). */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null>;
  text_offset: number[];
}

export class CompletionLogprobsBuilder {
  readonly value: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  private offset: number;

  constructor(private readonly tokenizer: Tokenizer, startOffset = 0) {
    this.offset = startOffset;
  }

  add(id: number, logprob: number | null, top: readonly TokenLogprob[] | null): void {
    const { token } = tokenText(this.tokenizer, id);
    this.value.tokens.push(token);
    this.value.token_logprobs.push(logprob);
    this.value.top_logprobs.push(top === null ? null : Object.fromEntries(top.map((t) => [tokenText(this.tokenizer, t.id).token, t.logprob])));
    this.value.text_offset.push(this.offset);
    // Special tokens (BOS …) are not in the returned text, so they take no room in it.
    if (!this.tokenizer.isSpecial(id)) this.offset += token.length;
  }

  /** Takes the entries added so far (for a stream chunk) and starts a new batch at the same offset. */
  take(): CompletionLogprobs {
    const out = { ...this.value, tokens: [...this.value.tokens], token_logprobs: [...this.value.token_logprobs], top_logprobs: [...this.value.top_logprobs], text_offset: [...this.value.text_offset] };
    this.value.tokens.length = 0;
    this.value.token_logprobs.length = 0;
    this.value.top_logprobs.length = 0;
    this.value.text_offset.length = 0;
    return out;
  }
}
