import { mergePieces } from './spm-merge.js';

/**
 * Pair merging over strings, on the same heap algorithm as llama2.c's tokenizer (spm-merge.ts):
 * repeatedly join the adjacent pair that `rate` ranks highest (leftmost on ties) until `rate`
 * accepts no adjacent pair. llama.cpp's SentencePiece (`llm_tokenizer_spm_session`, rating = the
 * joined token's score) and byte-level BPE (`llm_tokenizer_bpe_session`, rating = minus the merge
 * rank) sessions are both this loop; they differ only in the rating.
 *
 * Symbols are interned per call so that mergePieces can work on numbers: a symbol's number stands
 * for its text, whether or not that text is a token of the vocabulary.
 */
export type PairRating = (left: string, right: string) => number | undefined;

export function mergeTexts(symbols: readonly string[], rate: PairRating): string[] {
  const texts: string[] = [];
  const numberOf = new Map<string, number>();
  const intern = (text: string): number => {
    let n = numberOf.get(text);
    if (n === undefined) {
      n = texts.length;
      texts.push(text);
      numberOf.set(text, n);
    }
    return n;
  };
  const merged = mergePieces(symbols.map(intern), (l, r) => {
    const left = texts[l]!;
    const right = texts[r]!;
    const score = rate(left, right);
    return score === undefined ? undefined : { id: intern(left + right), score };
  });
  return merged.map((n) => texts[n]!);
}
