import fs from 'node:fs';

import { ConfigError, FormatError, TokenizerError } from '../errors.js';
import { overrideId, type SpecialTokenOverrides } from './special-ids.js';
import { mergePieces } from './spm-merge.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.js';

export interface Llama2cOptions extends SpecialTokenOverrides {
  /** Names the file in error messages (default `tokenizer.bin`). */
  source?: string;
  /** How many tokens to read; without it the file is read to its end (llama2.c takes it from the model). */
  vocabSize?: number;
}

export interface Llama2cEncodeOptions extends EncodeOptions {
  /** Append EOS, like run.c's `encode(..., eos=1)` (generation never does). */
  addEos?: boolean;
}

/** llama2.c's fixed ids: id 0 `<unk>`, 1 BOS, 2 EOS, then the 256 byte tokens from id 3. */
const UNK_ID = 0;
const DEFAULT_BOS_ID = 1;
const DEFAULT_EOS_ID = 2;
const BYTE_TOKEN_OFFSET = 3;
/** run.c starts its best-score search at -1e10, so a pair scored at or below that never merges. */
const MIN_MERGE_SCORE = -1e10;
/** Sanity bound on the header's max_token_len (real files hold single digits to a few dozen). */
const MAX_TOKEN_LENGTH_LIMIT = 1 << 16;
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8'); // non-fatal: invalid bytes become U+FFFD

/**
 * llama2.c's `tokenizer.bin` (SentencePiece pieces with scores, a space where SentencePiece has `▁`),
 * encoding and decoding exactly as its `run.c` does.
 *
 * Pieces are kept as bytes; lookups use "binary strings" (one char per byte, latin1) so that joining
 * two keys gives the key of the joined bytes, whatever the pieces contain.
 */
export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c' as const;
  readonly vocabSize: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number | null;
  readonly unkTokenId = UNK_ID;
  readonly eosToken: string | null;
  /** Longest piece in bytes (the file header's max_token_len). */
  readonly maxTokenLength: number;
  readonly source: string;

  readonly #pieces: readonly Uint8Array[];
  readonly #keys: readonly string[];
  readonly #scores: Float32Array;
  readonly #idOfKey: ReadonlyMap<string, number>;
  /** Byte value for `<0xNN>` pieces, -1 for the others. */
  readonly #byteOf: Int16Array;

  private constructor(pieces: Uint8Array[], scores: Float32Array, maxTokenLength: number, options: Llama2cOptions) {
    this.source = options.source ?? 'tokenizer.bin';
    if (pieces.length <= DEFAULT_EOS_ID) {
      throw new FormatError(`${this.source}: ${pieces.length} tokens; a llama2.c vocabulary needs at least <unk>, BOS and EOS`);
    }
    this.vocabSize = pieces.length;
    this.maxTokenLength = maxTokenLength;
    this.#pieces = pieces;
    this.#scores = scores;
    this.#keys = pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('latin1'));
    const idOfKey = new Map<string, number>();
    // run.c binary-searches a sorted copy; with duplicate pieces which one it finds is unspecified.
    // We keep the lowest id.
    this.#keys.forEach((key, id) => {
      if (!idOfKey.has(key)) idOfKey.set(key, id);
    });
    this.#idOfKey = idOfKey;
    this.#byteOf = new Int16Array(pieces.length).fill(-1);
    this.#keys.forEach((key, id) => {
      const m = BYTE_PIECE.exec(key);
      if (m) this.#byteOf[id] = parseInt(m[1]!, 16);
    });

    const override = (field: string, value: number | null | undefined, own: number | null): number | null =>
      overrideId(field, value, own, this.vocabSize, this.source);
    this.bosTokenId = override('bos_token_id', options.bosTokenId, DEFAULT_BOS_ID)!;
    this.eosTokenId = override('eos_token_id', options.eosTokenId, DEFAULT_EOS_ID)!;
    this.padTokenId = override('pad_token_id', options.padTokenId, null);
    this.eosToken = this.idToToken(this.eosTokenId) ?? null;
  }

  static fromFile(file: string, options: Omit<Llama2cOptions, 'source'> = {}): Llama2cTokenizer {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FormatError(`${file}: cannot read llama2.c tokenizer (${code === 'ENOENT' ? 'file not found' : String(code ?? err)})`, { cause: err });
    }
    return Llama2cTokenizer.fromBuffer(bytes, { ...options, source: file });
  }

  /**
   * Parses the tokenizer.bin layout: int32 max_token_len, then per token f32 score, int32 length and
   * that many bytes (all little-endian). Every length is checked against max_token_len and against
   * what is left of the buffer before anything is read.
   */
  static fromBuffer(bytes: Uint8Array, options: Llama2cOptions = {}): Llama2cTokenizer {
    const source = options.source ?? 'tokenizer.bin';
    const wanted = options.vocabSize;
    if (wanted !== undefined && (!Number.isInteger(wanted) || wanted <= 0)) {
      throw new ConfigError(`${source}: vocab size ${wanted} must be a positive integer`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 4) throw new FormatError(`${source}: ${bytes.byteLength} bytes, too short for the max_token_len header`);
    const maxTokenLength = view.getInt32(0, true);
    if (maxTokenLength <= 0 || maxTokenLength > MAX_TOKEN_LENGTH_LIMIT) {
      throw new FormatError(`${source}: max_token_len ${maxTokenLength} is not in 1..${MAX_TOKEN_LENGTH_LIMIT}`);
    }
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    let offset = 4;
    for (let i = 0; wanted === undefined ? offset < bytes.byteLength : i < wanted; i++) {
      const left = bytes.byteLength - offset;
      if (left < 8) {
        const expected = wanted === undefined ? '' : ` of ${wanted}`;
        throw new FormatError(`${source}: truncated at token ${i}${expected} (${left} bytes left, need 8 for its score and length)`);
      }
      const score = view.getFloat32(offset, true);
      const length = view.getInt32(offset + 4, true);
      offset += 8;
      if (length < 0 || length > maxTokenLength) {
        throw new FormatError(`${source}: token ${i} has length ${length}, outside 0..max_token_len ${maxTokenLength}`);
      }
      if (length > bytes.byteLength - offset) {
        throw new FormatError(`${source}: truncated at token ${i} (length ${length}, ${bytes.byteLength - offset} bytes left)`);
      }
      pieces.push(bytes.slice(offset, offset + length));
      scores.push(score);
      offset += length;
    }
    return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxTokenLength, { ...options, source });
  }

  /**
   * Builds the tokenizer from piece strings and scores (e.g. a SentencePiece or GGUF vocabulary with
   * `▁` already turned into spaces). Ids are positions; llama2.c's layout is assumed (0 unk, 1 BOS,
   * 2 EOS, byte tokens `<0xNN>` at 3 + byte).
   */
  static fromPieces(pieces: readonly string[], scores: ArrayLike<number>, options: Omit<Llama2cOptions, 'vocabSize'> = {}): Llama2cTokenizer {
    const source = options.source ?? 'vocabulary';
    if (pieces.length !== scores.length) {
      throw new FormatError(`${source}: ${pieces.length} pieces but ${scores.length} scores`);
    }
    const bytes = pieces.map((p) => utf8.encode(p));
    const maxTokenLength = Math.max(1, ...bytes.map((b) => b.length));
    return new Llama2cTokenizer(bytes, Float32Array.from(scores), maxTokenLength, { ...options, source });
  }

  /** run.c's score for a piece (higher merges first). */
  score(id: number): number {
    this.#checkId(id, 'score');
    return this.#scores[id]!;
  }

  /**
   * run.c's `encode()`: optional BOS; if the text is non-empty, a dummy-prefix space; each code point
   * looked up as a piece, unknown ones as their UTF-8 bytes (id byte + 3); then the adjacent pair whose
   * joined piece exists with the highest score is merged (leftmost on ties) until none is left.
   */
  encode(text: string, options: Llama2cEncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`${this.source}: encode expects a string, got ${typeof text}`);
    const ids: number[] = [];
    if (text.length > 0) {
      for (const ch of ' ' + text) {
        const id = this.#idOfKey.get(binaryKey(utf8.encode(ch)));
        if (id !== undefined) {
          ids.push(id);
          continue;
        }
        for (const byte of utf8.encode(ch)) {
          const byteId = byte + BYTE_TOKEN_OFFSET;
          if (byteId >= this.vocabSize) {
            throw new TokenizerError(
              `${this.source}: cannot encode U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}: not a piece, and the vocabulary has no byte token for 0x${byte.toString(16).toUpperCase().padStart(2, '0')}`,
            );
          }
          ids.push(byteId);
        }
      }
    }
    const merged = mergePieces(ids, (left, right) => {
      const key = this.#keys[left]! + this.#keys[right]!;
      if (key.length > this.maxTokenLength) return undefined;
      const id = this.#idOfKey.get(key);
      if (id === undefined) return undefined;
      const score = this.#scores[id]!;
      return score > MIN_MERGE_SCORE ? { id, score } : undefined;
    });
    const addBos = options.addSpecialTokens ?? true;
    return [...(addBos ? [this.bosTokenId] : []), ...merged, ...(options.addEos ? [this.eosTokenId] : [])];
  }

  /**
   * run.c's `decode()` over a sequence: a piece right after BOS loses one leading space, `<0xNN>`
   * pieces are raw bytes, and the resulting byte stream is read as UTF-8 (invalid bytes → U+FFFD).
   * Unlike run.c's `safe_printf`, control and lone high bytes are kept, so multi-byte characters split
   * over byte tokens come out whole. Skipped special tokens still count as "previous token".
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    const chunks: Uint8Array[] = [];
    let total = 0;
    let prev = -1;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      // Like HF tokenizers: ids past the vocabulary (a padded embedding may produce them) add nothing.
      if (Number.isInteger(id) && id >= this.vocabSize) continue;
      this.#checkId(id, 'decode');
      if (!(skip && this.isSpecial(id))) {
        const byte = this.#byteOf[id]!;
        let piece = byte >= 0 ? Uint8Array.of(byte) : this.#pieces[id]!;
        if (prev === this.bosTokenId && byte < 0 && piece[0] === 0x20) piece = piece.subarray(1);
        chunks.push(piece);
        total += piece.length;
      }
      prev = id;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return utf8Decoder.decode(out);
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return undefined;
    return utf8Decoder.decode(this.#pieces[id]!);
  }

  tokenToId(token: string): number | undefined {
    return this.#idOfKey.get(binaryKey(utf8.encode(token)));
  }

  /** `<unk>`, BOS, EOS and (when set) the pad id. */
  isSpecial(id: number): boolean {
    return id === UNK_ID || id === this.bosTokenId || id === this.eosTokenId || (this.padTokenId !== null && id === this.padTokenId);
  }

  #checkId(id: number, what: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`cannot ${what} token id ${id}: outside the vocabulary of ${this.source} (ids 0..${this.vocabSize - 1})`);
    }
  }
}

function binaryKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
