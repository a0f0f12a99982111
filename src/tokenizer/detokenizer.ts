import type { Tokenizer } from './tokenizer.js';

export interface IncrementalDetokenizerOptions {
  /** Ids that precede the generated ones (the prompt), so leading-space rules come out as in a full decode. */
  context?: readonly number[];
  skipSpecialTokens?: boolean;
}

/**
 * How many pushed tokens may be held back while the text decoded so far ends in U+FFFD. A UTF-8
 * character is at most 4 bytes, so after 4 byte tokens an unfinished character is not coming and the
 * replacement characters are shown.
 */
const MAX_PENDING_TOKENS = 4;
const REPLACEMENT = '\uFFFD';
/** Byte-fallback tokens are spelled `<0xNN>` in both tokenizer.json and llama2.c vocabularies. */
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * Turns generated ids into text as they arrive.
 *
 * Each push decodes a small window `ids[prefixStart..]` and emits what it adds to the text of
 * `ids[prefixStart..readStart]`, which was emitted before. The window starts at a token that itself
 * produces text and begins a character (see #anchorBefore), so rules that act on the start of a
 * decode (the Strip decoder removing one leading space, llama2.c removing the space of the piece
 * after BOS) hit that already-emitted token in both decodes and cancel out; the new tokens come out
 * as they would in a decode of the whole sequence. A window is at most the anchor character's tokens
 * plus the pending ones (8 for byte-fallback text), however long the sequence.
 * While the window's text ends in U+FFFD (a character split over byte-fallback tokens, not complete
 * yet) nothing is emitted and the window grows, up to MAX_PENDING_TOKENS.
 */
export class IncrementalDetokenizer {
  readonly #tokenizer: Tokenizer;
  readonly #skipSpecial: boolean;
  readonly #ids: number[];
  #prefixStart: number;
  #readStart: number;
  #prefixText: string;
  #text = '';

  constructor(tokenizer: Tokenizer, options: IncrementalDetokenizerOptions = {}) {
    this.#tokenizer = tokenizer;
    this.#skipSpecial = options.skipSpecialTokens ?? false;
    this.#ids = [...(options.context ?? [])];
    this.#readStart = this.#ids.length;
    this.#prefixStart = this.#anchorBefore(this.#readStart);
    this.#prefixText = this.#decodeRange(this.#prefixStart, this.#readStart);
  }

  /** Everything emitted so far (pushes and flushes). */
  get text(): string {
    return this.#text;
  }

  /** Adds one generated id; returns the text it completes (often '', never a broken character unless given up on). */
  push(id: number): string {
    this.#ids.push(id);
    let windowText: string;
    try {
      windowText = this.#decodeRange(this.#prefixStart, this.#ids.length);
    } catch (err) {
      this.#ids.pop(); // a rejected id (e.g. outside the vocabulary) leaves the state as it was
      throw err;
    }
    const pending = this.#ids.length - this.#readStart;
    if (windowText.endsWith(REPLACEMENT) && pending < MAX_PENDING_TOKENS) return '';
    return this.#emit(windowText);
  }

  /** Emits whatever is held back (an unfinished character comes out as U+FFFD). */
  flush(): string {
    if (this.#readStart === this.#ids.length) return '';
    return this.#emit(this.#decodeRange(this.#prefixStart, this.#ids.length));
  }

  #emit(windowText: string): string {
    const prefix = this.#prefixText;
    // The window's text extends the prefix's text unless the bytes are invalid UTF-8: after giving up,
    // a byte shown as U+FFFD may turn out to start a valid character; and the HF ByteFallback decoder
    // turns a whole run into U+FFFD once invalid bytes join it, including a character already shown.
    // Then emit from where the two diverge: text already shown stays, no later character is lost.
    let start = prefix.length;
    if (!windowText.startsWith(prefix)) {
      start = 0;
      while (start < prefix.length && start < windowText.length && prefix.charCodeAt(start) === windowText.charCodeAt(start)) start++;
    }
    const delta = windowText.slice(start);
    const end = this.#ids.length;
    const anchor = this.#anchorBefore(end);
    this.#prefixText = anchor === this.#prefixStart ? windowText : this.#decodeRange(anchor, end);
    this.#prefixStart = anchor;
    this.#readStart = end;
    this.#text += delta;
    return delta;
  }

  /**
   * The start of the next window: the last token before `end` that produces text (a known id
   * that `skipSpecialTokens` does not drop) and starts a character: not a byte-fallback token holding a
   * UTF-8 continuation byte. Starting inside a character would make the window's first bytes
   * invalid, and the HF ByteFallback decoder turns a whole invalid run of byte tokens into U+FFFD.
   * With no such token, 0: the window then starts where a full decode starts, so start-of-text rules
   * apply to the new tokens exactly as they should.
   */
  #anchorBefore(end: number): number {
    for (let i = end - 1; i >= 0; i--) {
      const id = this.#ids[i]!;
      if (this.#skipSpecial && this.#tokenizer.isSpecial(id)) continue;
      const token = this.#tokenizer.idToToken(id);
      if (token === undefined) continue; // past the vocabulary or a gap in it: decodes to nothing
      const byte = BYTE_TOKEN.exec(token);
      if (byte && (parseInt(byte[1]!, 16) & 0xc0) === 0x80) continue;
      return i;
    }
    return 0;
  }

  #decodeRange(start: number, end: number): string {
    if (start >= end) return '';
    return this.#tokenizer.decode(this.#ids.slice(start, end), { skipSpecialTokens: this.#skipSpecial });
  }
}
