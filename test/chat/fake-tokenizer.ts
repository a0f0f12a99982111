import type { ChatTokenizer } from '../../src/chat/prompt-v1.js';
import type { EncodeOptions } from '../../src/tokenizer/tokenizer.js';

/**
 * A tiny deterministic tokenizer for layout tests, small enough that expected id arrays can be
 * written out by hand:
 *   "Human: " → 10, "Assistant: " → 11, "Exec: " → 12, "\n" → 13   (whole markers, greedy)
 *   " " → 100, "a" … "z" → 101 … 126                                   (one id per letter)
 *   anything else → 1000 + its UTF-16 code unit
 * It has no per-call effects: encoding a concatenation equals concatenating the encodings.
 */
export const H = 10;
export const A = 11;
export const X = 12;
export const NL = 13;
export const EOS = 3;
/** The id `withMetaspacePrefix` puts at the start of every encode call (like tokenizer.json's "▁"). */
export const SP = 260;

const MARKERS: ReadonlyArray<readonly [string, number]> = [
  ['Human: ', H],
  ['Assistant: ', A],
  ['Exec: ', X],
  ['\n', NL],
];

export class TableTokenizer implements ChatTokenizer {
  encode(text: string, _options?: EncodeOptions): number[] {
    const ids: number[] = [];
    let i = 0;
    outer: while (i < text.length) {
      for (const [marker, id] of MARKERS) {
        if (text.startsWith(marker, i)) {
          ids.push(id);
          i += marker.length;
          continue outer;
        }
      }
      const c = text.charCodeAt(i);
      if (c === 32) ids.push(100);
      else if (c >= 97 && c <= 122) ids.push(c + 4); // 'a' (97) → 101
      else ids.push(1000 + c);
      i++;
    }
    return ids;
  }
}

/**
 * Adds SP in front of every non-empty encode call, the way a Metaspace/Prepend("▁") normalizer
 * does per call — so a builder that encodes per segment shows SP at every segment boundary.
 */
export function withMetaspacePrefix(inner: ChatTokenizer): ChatTokenizer {
  return { encode: (text, options) => (text === '' ? [] : [SP, ...inner.encode(text, options)]) };
}

/** Puts BOS (2) first unless `addSpecialTokens: false` — the builders must never get it. */
export function withBos(inner: ChatTokenizer): ChatTokenizer {
  return { encode: (text, options) => (options?.addSpecialTokens === false ? inner.encode(text, options) : [2, ...inner.encode(text, options)]) };
}

/** Records every encode call (text and options). */
export function recording(inner: ChatTokenizer): ChatTokenizer & { calls: Array<{ text: string; options: EncodeOptions | undefined }> } {
  const calls: Array<{ text: string; options: EncodeOptions | undefined }> = [];
  return {
    calls,
    encode(text, options) {
      calls.push({ text, options });
      return inner.encode(text, options);
    },
  };
}
