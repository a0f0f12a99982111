/**
 * Special and added tokens (GGUF types CONTROL, USER_DEFINED and UNKNOWN) are matched as whole
 * strings before any tokenization, as llama.cpp's `tokenizer_st_partition` does with
 * `parse_special` on: the tokens are tried longest first (by UTF-8 length), each one splitting every
 * text fragment that is still raw at every place it occurs. The result alternates raw text (a string)
 * and token ids (numbers), in order; raw fragments are never empty.
 */
export type Fragment = string | number;

export interface SpecialToken {
  readonly id: number;
  readonly text: string;
}

/** Orders the tokens as the splitter tries them: longest UTF-8 text first, lower id first on ties. */
export function orderSpecialTokens(tokens: readonly SpecialToken[]): SpecialToken[] {
  return tokens
    .filter((t) => t.text.length > 0)
    .map((t) => ({ t, bytes: Buffer.byteLength(t.text) }))
    .sort((a, b) => b.bytes - a.bytes || a.t.id - b.t.id)
    .map((x) => x.t);
}

/** Splits `text` on the special tokens, which must already be in orderSpecialTokens' order. */
export function splitOnSpecialTokens(text: string, ordered: readonly SpecialToken[]): Fragment[] {
  if (text.length === 0) return [];
  let fragments: Fragment[] = [text];
  for (const special of ordered) {
    // Most texts hold none of the tokens: skip the copy unless one occurs.
    if (!fragments.some((f) => typeof f === 'string' && f.includes(special.text))) continue;
    const next: Fragment[] = [];
    for (const f of fragments) {
      if (typeof f !== 'string') {
        next.push(f);
        continue;
      }
      let at = 0;
      for (let hit = f.indexOf(special.text); hit >= 0; hit = f.indexOf(special.text, at)) {
        if (hit > at) next.push(f.slice(at, hit));
        next.push(special.id);
        at = hit + special.text.length;
      }
      if (at < f.length) next.push(f.slice(at));
    }
    fragments = next;
  }
  return fragments;
}
