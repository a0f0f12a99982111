import { TokenizerError } from '../errors.js';
import { mergeTexts } from './text-merge.js';

/**
 * llama.cpp's SentencePiece-style encoding of one text fragment (`llm_tokenizer_spm_session`),
 * the fragment already prefixed and with spaces turned into `▁`:
 * the fragment's characters are the first symbols; the adjacent pair whose joined text is a token
 * with the highest score is joined (leftmost on ties), until no adjacent pair joins into a token;
 * a symbol left that is not a token (a character missing from the vocabulary) becomes its UTF-8
 * bytes as `<0xNN>` tokens.
 *
 * This is the same loop as llama2.c's (Llama2cTokenizer, via spm-merge.ts) with one difference that
 * matters for some vocabularies: llama.cpp keeps an unknown character as one symbol, which can still
 * join a neighbour into a token, where llama2.c turns it into byte tokens before merging.
 */
export interface SpmVocabulary {
  readonly source: string;
  /** The id of a token text (`▁` for spaces), if the vocabulary has one. */
  idOf(text: string): number | undefined;
  /** A token's score; llama.cpp takes 0 for every token when the file has no scores. */
  score(id: number): number;
}

const utf8 = new TextEncoder();

export function encodeSpmText(text: string, vocab: SpmVocabulary, out: number[]): void {
  const rate = (left: string, right: string): number | undefined => {
    const id = vocab.idOf(left + right);
    return id === undefined ? undefined : vocab.score(id);
  };
  for (const symbol of mergeTexts(Array.from(text), rate)) {
    const id = vocab.idOf(symbol);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const byte of utf8.encode(symbol)) out.push(byteToken(byte, symbol, vocab));
  }
}

/** llama.cpp's `byte_to_token` for SPM: `<0xNN>` (upper-case hex), else the byte as a one-character token. */
function byteToken(byte: number, symbol: string, vocab: SpmVocabulary): number {
  const hex = byte.toString(16).toUpperCase().padStart(2, '0');
  const id = vocab.idOf(`<0x${hex}>`) ?? (byte < 0x80 ? vocab.idOf(String.fromCharCode(byte)) : undefined);
  if (id === undefined) {
    const cp = symbol.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new TokenizerError(`${vocab.source}: cannot encode U+${cp}: not a token, and the vocabulary has no byte token <0x${hex}>`);
  }
  return id;
}
