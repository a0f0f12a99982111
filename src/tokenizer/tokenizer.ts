/**
 * What the rest of the engine needs from a tokenizer. Implementations: HF tokenizer.json
 * (hf-tokenizer.ts), llama2.c's tokenizer.bin (llama2c-tokenizer.ts) and the tokenizer embedded in
 * a GGUF file (gguf-tokenizer.ts).
 */
export interface EncodeOptions {
  /**
   * Add the tokenizer's own special tokens (BOS where the tokenizer adds one). Defaults to
   * `addBosToken`'s behaviour for llama2.c files and to tokenizer.json's post-processor otherwise.
   */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special/control tokens (BOS, EOS, pad, `<|startofthink|>`, …) from the text. */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** Number of ids the tokenizer can produce (vocabulary plus added tokens). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  /** The string of the EOS token (e.g. `<|endoftext|>`), stripped from streamed chat text. */
  readonly eosToken: string | null;
  /** Which file format it was loaded from, for `xverse info` and error messages. */
  readonly kind: 'tokenizer.json' | 'llama2c' | 'gguf';

  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** True for special/control tokens (the ones `skipSpecialTokens` drops). */
  isSpecial(id: number): boolean;
}
