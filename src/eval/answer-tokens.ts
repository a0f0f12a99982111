import { XverseError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { PromptFormat } from './prompts.js';
import { CHOICE_LETTERS } from './types.js';

/**
 * Which token ids stand for the answers A–D when reading the next-token distribution:
 *  - 'continuation' (default): the token the tokenizer actually produces for the letter where the
 *    reference prompt puts it — the first token where encode(prompt + " A") (MMLU) or
 *    encode(prompt + "A") (C-Eval, CMMLU) departs from encode(prompt). With XVERSE's and Llama's
 *    tokenizers after "Answer:" that is the "▁A"-style token, which is what a model that learned
 *    the format puts its probability on.
 *  - 'isolated': the last id of encode("A"), as hendrycks/test's evaluate_hf.py
 *    (`tokenizer("A").input_ids[-1]`) and C-Eval's llama evaluator do. For tokenizers without a
 *    dummy prefix this is the bare "A" token, which need not be the one that follows "Answer:".
 */
export type AnswerTokenRule = 'continuation' | 'isolated';

export interface AnswerTokens {
  /**
   * Tokens every answer's continuation starts with, appended to the prompt before reading the
   * distribution (e.g. a lone "▁" when a small vocabulary writes " A" as "▁" + "A"); usually none.
   */
  lead: number[];
  /** The distinguishing token of A, B, C, D: the first one after `lead`. */
  ids: number[];
  /** The strings of lead and ids (for the results file, so a reader can check them). */
  tokens: string[];
}

/** Where a prompt's tokens stop matching: the answer's tokens start there. */
function divergence(base: readonly number[], extended: readonly number[]): number {
  let i = 0;
  while (i < base.length && i < extended.length && base[i] === extended[i]) i++;
  return i;
}

export function answerTokens(rule: AnswerTokenRule, format: PromptFormat, tokenizer: Tokenizer, promptText: string): AnswerTokens {
  const name = (id: number) => tokenizer.idToToken(id) ?? String(id);
  const other = rule === 'continuation' ? 'isolated' : 'continuation';
  let lead: number[] = [];
  let ids: number[];
  if (rule === 'isolated') {
    ids = CHOICE_LETTERS.map((letter) => {
      const encoded = tokenizer.encode(letter);
      if (encoded.length === 0) throw new XverseError(`the tokenizer encodes "${letter}" as no tokens`);
      return encoded[encoded.length - 1]!;
    });
  } else {
    const base = tokenizer.encode(promptText);
    const continuations = CHOICE_LETTERS.map((letter) => {
      const extended = tokenizer.encode(promptText + format.answerText(letter));
      const at = divergence(base, extended);
      if (at < base.length) {
        throw new XverseError(`the tokenizer merges answer "${letter}" with the prompt's last token (${JSON.stringify(name(base[at]!))}), so no token follows the prompt unchanged; use --answer-tokens ${other}`);
      }
      if (at >= extended.length) throw new XverseError(`the tokenizer adds no token for answer "${letter}" after the prompt`);
      return extended.slice(at);
    });
    // Tokens shared by all four (a separate "▁", say) become part of the prompt.
    const first = continuations[0]!;
    let shared = 0;
    while (shared < first.length - 1 && continuations.every((c) => c.length > shared + 1 && c[shared] === first[shared])) shared++;
    lead = first.slice(0, shared);
    ids = continuations.map((c) => c[shared]!);
  }
  if (new Set(ids).size !== ids.length) {
    throw new XverseError(`the four answers share token ids under the "${rule}" rule (${ids.map((id) => JSON.stringify(name(id))).join(', ')}); use --answer-tokens ${other}`);
  }
  return { lead, ids, tokens: [...lead, ...ids].map(name) };
}

/** Softmax over the four answer logits (float64), as the reference scripts compute it. */
export function answerProbabilities(logits: Float32Array, ids: readonly number[]): number[] {
  const values = ids.map((id) => logits[id]!);
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Index of the largest probability; the first on ties (numpy's argmax). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
