import { FormatError } from '../errors.js';
import { mergeTexts } from './text-merge.js';

/**
 * GPT-2's byte-level BPE: text is turned into UTF-8 bytes, each byte shown as one printable
 * character (GPT-2's byte↔unicode table), and words are merged pair by pair in merge-rank order.
 * Token texts and merges in a `gpt2` GGUF vocabulary are spelled in those characters.
 */

/**
 * GPT-2's table: the printable bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand for themselves; the other
 * 68 bytes (controls, space, DEL, NBSP, soft hyphen…) take the code points 256, 257, … in byte order.
 */
function buildByteTable(): string[] {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  return table;
}

const BYTE_TO_CHAR: readonly string[] = buildByteTable();
const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((ch, b) => [ch, b]));
const utf8 = new TextEncoder();

/** The byte-level spelling of `text` (one character per UTF-8 byte). */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b]!;
  return out;
}

/**
 * The bytes a byte-level token text stands for. A character outside GPT-2's table (only in a
 * malformed vocabulary) stands for its own UTF-8 bytes.
 */
export function fromByteLevel(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of text) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b !== undefined) bytes.push(b);
    else bytes.push(...utf8.encode(ch));
  }
  return Uint8Array.from(bytes);
}

/**
 * `tokenizer.ggml.merges`: "left right" strings, rank = position. As in llama.cpp the split is at the
 * first space after the first character, and a repeated pair keeps its first (best) rank.
 */
export class BpeRanks {
  readonly #rankOf = new Map<string, number>();

  constructor(merges: readonly string[], source: string) {
    merges.forEach((merge, rank) => {
      const space = merge.indexOf(' ', 1);
      if (space < 0) throw new FormatError(`${source}: tokenizer.ggml.merges[${rank}] ${JSON.stringify(merge.slice(0, 40))} is not "left right"`);
      const key = pairKey(merge.slice(0, space), merge.slice(space + 1));
      if (!this.#rankOf.has(key)) this.#rankOf.set(key, rank);
    });
  }

  get size(): number {
    return this.#rankOf.size;
  }

  rank(left: string, right: string): number | undefined {
    return this.#rankOf.get(pairKey(left, right));
  }
}

/** Unambiguous key for a pair (its left part's length, then both texts). */
function pairKey(left: string, right: string): string {
  return `${left.length}:${left}${right}`;
}

/**
 * Splits one byte-level word into BPE symbols: its characters, then the adjacent pair with the
 * lowest merge rank joined (leftmost on ties) until no adjacent pair has a rank.
 */
export function bpeSymbols(word: string, ranks: BpeRanks): string[] {
  const rate = (left: string, right: string): number | undefined => {
    const rank = ranks.rank(left, right);
    return rank === undefined ? undefined : -rank;
  };
  return mergeTexts(Array.from(word), rate);
}
