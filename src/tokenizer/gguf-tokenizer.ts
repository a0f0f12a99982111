import { TokenizerError } from '../errors.js';
import { GgufFile } from '../formats/gguf.js';
import { BpeRanks, bpeSymbols, fromByteLevel, toByteLevel } from './byte-bpe.js';
import { TOKEN_TYPE, readGgufTokenizerVocab, type GgufTokenizerModel, type GgufTokenizerVocab } from './gguf-tokenizer-vocab.js';
import { preTokenizerFor, type PreTokenizer } from './pretokenizers.js';
import { orderSpecialTokens, splitOnSpecialTokens, type SpecialToken } from './special-split.js';
import { overrideId, type SpecialTokenOverrides } from './special-ids.js';
import { encodeSpmText, type SpmVocabulary } from './spm-text.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.js';

/** SentencePiece vocabularies' default ids when the file names none (llama.cpp's). */
const SPM_DEFAULT_IDS = { unk: 0, bos: 1, eos: 2 } as const;
const SPACE = 0x20;
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8'); // non-fatal: invalid bytes become U+FFFD

/**
 * The tokenizer embedded in a GGUF file, encoding as llama.cpp's `llama_tokenize` does with
 * `parse_special` on:
 *
 * - `llama` (SentencePiece-style): special/added tokens split out first; each text fragment at the
 *   start or after a special token gets a space prefix (`add_space_prefix`, default true), spaces
 *   become `▁`, then pairs merge by token score (spm-text.ts). Without `tokenizer.ggml.scores` (as in
 *   XVERSE's official GGUF files) every score is 0, so the leftmost pair that forms a token merges
 *   first — not the merge ranks of the model's tokenizer.json.
 * - `gpt2` (byte-level BPE): special tokens split out; fragments split by the pre-tokenizer named in
 *   `tokenizer.ggml.pre`; each word, in GPT-2's byte characters, merged by merge rank.
 *
 * BOS (EOS) is added when `addSpecialTokens` (default true) and the file's `add_bos_token`
 * (`add_eos_token`) say so, with llama.cpp's defaults: BOS for SentencePiece and Llama 3-style BPE.
 */
export class GgufTokenizer implements Tokenizer {
  readonly kind = 'gguf' as const;
  readonly model: GgufTokenizerModel;
  readonly source: string;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  readonly eosToken: string | null;
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  /** SentencePiece only: a space before the text and after each special token; one is removed on decode. */
  readonly addSpacePrefix: boolean;
  /** False when the file has no `tokenizer.ggml.scores` (SentencePiece merging with all scores 0). */
  readonly hasScores: boolean;
  /** The byte-level BPE pre-tokenizer's name (`tokenizer.ggml.pre`), null for SentencePiece. */
  readonly preTokenizer: string | null;

  readonly #tokens: readonly string[];
  readonly #types: Uint8Array;
  readonly #scores: Float32Array | null;
  /** Token text → id; on duplicates the last id wins, as in llama.cpp's token_to_id. */
  readonly #idOf: ReadonlyMap<string, number>;
  readonly #specials: readonly SpecialToken[];
  readonly #pieces: Array<Uint8Array | undefined>;
  readonly #ranks: BpeRanks | null;
  readonly #pre: PreTokenizer | null;

  private constructor(vocab: GgufTokenizerVocab, overrides: SpecialTokenOverrides) {
    this.source = vocab.source;
    this.model = vocab.model;
    this.#tokens = vocab.tokens;
    this.#types = vocab.types;
    this.vocabSize = vocab.tokens.length;
    this.#scores = vocab.scores ? Float32Array.from(vocab.scores) : null;
    this.hasScores = vocab.scores !== undefined;
    this.#idOf = new Map(vocab.tokens.map((t, id) => [t, id]));
    this.#pieces = new Array(this.vocabSize);

    const specials: SpecialToken[] = [];
    vocab.types.forEach((type, id) => {
      if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.userDefined || type === TOKEN_TYPE.unknown) {
        specials.push({ id, text: vocab.tokens[id]! });
      }
    });
    this.#specials = orderSpecialTokens(specials);

    const spm = vocab.model === 'llama';
    const inVocab = (id: number) => (id < this.vocabSize ? id : null);
    if (spm) {
      this.#ranks = null;
      this.#pre = null;
      this.preTokenizer = null;
    } else {
      this.#ranks = new BpeRanks(vocab.merges ?? [], vocab.source);
      // llama.cpp falls back to its 'default' pre-tokenizer when the key is missing.
      this.#pre = preTokenizerFor(vocab.pre ?? 'default', vocab.source);
      this.preTokenizer = this.#pre.name;
    }
    this.addSpacePrefix = spm && (vocab.addSpacePrefix ?? true);
    this.addBosToken = vocab.addBosToken ?? (spm || this.#pre!.addBosByDefault);
    this.addEosToken = vocab.addEosToken ?? false;

    const override = (field: string, value: number | null | undefined, own: number | null): number | null =>
      overrideId(field, value, own, this.vocabSize, this.source);
    this.bosTokenId = override('bos_token_id', overrides.bosTokenId, vocab.bosTokenId ?? (spm ? inVocab(SPM_DEFAULT_IDS.bos) : null));
    this.eosTokenId = override('eos_token_id', overrides.eosTokenId, vocab.eosTokenId ?? (spm ? inVocab(SPM_DEFAULT_IDS.eos) : null));
    this.padTokenId = override('pad_token_id', overrides.padTokenId, vocab.padTokenId ?? null);
    this.unkTokenId = vocab.unkTokenId ?? (spm ? inVocab(SPM_DEFAULT_IDS.unk) : null);
    this.eosToken = this.eosTokenId === null ? null : this.#tokens[this.eosTokenId]!;
  }

  /** Reads the tokenizer of a GGUF file (a full model or a vocab-only file); tensors are not read. */
  static fromFile(file: string, overrides: SpecialTokenOverrides = {}): GgufTokenizer {
    const gguf = GgufFile.open(file);
    try {
      return new GgufTokenizer(readGgufTokenizerVocab(gguf.metadata, file), overrides);
    } finally {
      gguf.close();
    }
  }

  static fromVocab(vocab: GgufTokenizerVocab, overrides: SpecialTokenOverrides = {}): GgufTokenizer {
    return new GgufTokenizer(vocab, overrides);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`${this.source}: encode expects a string, got ${typeof text}`);
    const addSpecial = options.addSpecialTokens ?? true;
    const out: number[] = [];
    if (addSpecial && this.addBosToken) out.push(this.#required(this.bosTokenId, 'BOS', 'add_bos_token'));
    const fragments = splitOnSpecialTokens(text, this.#specials);
    if (this.model === 'llama') this.#encodeSpm(fragments, out);
    else this.#encodeBpe(fragments, out);
    if (addSpecial && this.addEosToken) out.push(this.#required(this.eosTokenId, 'EOS', 'add_eos_token'));
    return out;
  }

  /**
   * Token pieces joined and read as UTF-8 (invalid bytes → U+FFFD): `▁` as space and `<0xNN>` as a
   * byte for SentencePiece, GPT-2's byte characters as bytes for BPE, special and user-defined tokens
   * as their text. With a space prefix, the first token decoded loses one leading space, so that
   * decode(encode(text)) is the text (skipped special tokens do not count as first; llama.cpp keeps
   * the space when it skips a leading BOS).
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    const chunks: Uint8Array[] = [];
    let total = 0;
    let first = true;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      // Like the other tokenizers: ids past the vocabulary (a padded embedding) add nothing.
      if (Number.isInteger(id) && id >= this.vocabSize) continue;
      this.#checkId(id);
      if (skip && this.isSpecial(id)) continue;
      let piece = this.#piece(id);
      if (first && this.addSpacePrefix && piece[0] === SPACE) piece = piece.subarray(1);
      first = false;
      chunks.push(piece);
      total += piece.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return utf8Decoder.decode(out);
  }

  /** The token's text as the file stores it (`▁Hello`, `ĠHello`, `<0x0A>`, `<|endoftext|>`). */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.#tokens[id] : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.#idOf.get(token);
  }

  /** CONTROL and UNKNOWN tokens (what llama.cpp leaves out of text unless asked) and the special ids. */
  isSpecial(id: number): boolean {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return false;
    const type = this.#types[id];
    return type === TOKEN_TYPE.control || type === TOKEN_TYPE.unknown
      || id === this.bosTokenId || id === this.eosTokenId || id === this.padTokenId || id === this.unkTokenId;
  }

  /** The GGUF token type of an id (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte; 0 other). */
  tokenType(id: number): number | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.#types[id] : undefined;
  }

  #encodeSpm(fragments: ReadonlyArray<string | number>, out: number[]): void {
    const vocab: SpmVocabulary = {
      source: this.source,
      idOf: (text) => this.#idOf.get(text),
      score: (id) => (this.#scores ? this.#scores[id]! : 0),
    };
    let afterSpecial = true; // the start of the text counts as "after a special token"
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        afterSpecial = true;
        continue;
      }
      const text = this.addSpacePrefix && afterSpecial ? ' ' + f : f;
      encodeSpmText(text.replaceAll(' ', '\u2581'), vocab, out);
      afterSpecial = false;
    }
  }

  #encodeBpe(fragments: ReadonlyArray<string | number>, out: number[]): void {
    const pre = this.#pre!;
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        continue;
      }
      for (const word of pre.split(f)) {
        const chars = toByteLevel(word);
        const whole = pre.ignoreMerges ? this.#idOf.get(chars) : undefined;
        if (whole !== undefined) {
          out.push(whole);
          continue;
        }
        for (const symbol of bpeSymbols(chars, this.#ranks!)) this.#pushBpeSymbol(symbol, out);
      }
    }
  }

  /**
   * A merged symbol is normally a token. If not (only with merges that build non-tokens), llama.cpp
   * falls back to its single characters; it silently drops those that are not tokens either, which
   * we refuse instead.
   */
  #pushBpeSymbol(symbol: string, out: number[]): void {
    const id = this.#idOf.get(symbol);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    for (const ch of symbol) {
      const charId = this.#idOf.get(ch);
      if (charId === undefined) {
        throw new TokenizerError(`${this.source}: cannot encode byte 0x${fromByteLevel(ch)[0]!.toString(16).toUpperCase().padStart(2, '0')}: no token for it in the vocabulary`);
      }
      out.push(charId);
    }
  }

  /** The bytes a token decodes to (computed once per id). */
  #piece(id: number): Uint8Array {
    let piece = this.#pieces[id];
    if (piece === undefined) {
      piece = this.#computePiece(id);
      this.#pieces[id] = piece;
    }
    return piece;
  }

  #computePiece(id: number): Uint8Array {
    const text = this.#tokens[id]!;
    switch (this.#types[id]) {
      case TOKEN_TYPE.control:
      case TOKEN_TYPE.unknown:
      case TOKEN_TYPE.userDefined:
        return utf8.encode(text);
      case TOKEN_TYPE.normal:
        return this.model === 'llama' ? utf8.encode(text.replaceAll('\u2581', ' ')) : fromByteLevel(text);
      case TOKEN_TYPE.byte:
        return this.model === 'llama' ? Uint8Array.of(spmByteValue(text)) : fromByteLevel(text);
      default:
        return EMPTY; // UNUSED and undefined types print nothing in llama.cpp
    }
  }

  #required(id: number | null, what: string, flag: string): number {
    if (id === null) throw new TokenizerError(`${this.source}: tokenizer.ggml.${flag} is set but the file names no ${what} token`);
    return id;
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`cannot decode token id ${id}: outside the vocabulary of ${this.source} (ids 0..${this.vocabSize - 1})`);
    }
  }
}

/**
 * The byte of a SentencePiece BYTE token: llama.cpp reads the two characters after `<0x` as hex
 * (`strtol`), so `<0x0A>` is 10 and the converter's `<b'\x00'>` (XVERSE's NUL token) reads as 0.
 */
function spmByteValue(text: string): number {
  const digits = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(3, 5));
  return digits ? parseInt(digits[0], 16) : 0;
}
