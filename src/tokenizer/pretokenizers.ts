import { FormatError } from '../errors.js';

/**
 * The pre-tokenizers of llama.cpp's byte-level BPE vocabularies, chosen by the GGUF key
 * `tokenizer.ggml.pre`. Each is a list of regular expressions applied one after another: every
 * expression splits each piece left by the previous one into its matches and the unmatched gaps
 * between them (gaps are kept as pieces, so no text is ever dropped). The expressions are
 * llama.cpp's own strings (`llm_tokenizer_bpe`), which JavaScript runs as they are with the `u` flag.
 */

/** GPT-2's expression as llama.cpp spells it (without GPT-2's final `|\s+`: gaps are kept anyway). */
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
/** Llama 3's: case-insensitive contractions, digit groups of 1–3, newlines kept with punctuation. */
const LLAMA3 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's: Llama 3's with single digits. */
const QWEN2 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** CJK ideographs and Hangul, as the DeepSeek tokenizers isolate them. */
const DEEPSEEK_CJK = '[一-龥ࠀ-一가-퟿]+';
const DEEPSEEK_LLM_LETTERS =
  '\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ\\u{10400}-\\u{1044f}𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+';

interface PreTokenizerDef {
  readonly names: readonly string[];
  readonly expressions: readonly string[];
  /** llama.cpp's `ignore_merges`: a word that is itself a token is not split by BPE. */
  readonly ignoreMerges?: boolean;
  /** llama.cpp turns `add_bos` on for these unless the file says otherwise. */
  readonly addBos?: boolean;
}

const DEFINITIONS: readonly PreTokenizerDef[] = [
  // llama.cpp's fallback for BPE vocabularies that name no known pre-tokenizer.
  { names: ['default'], expressions: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'] },
  { names: ['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'roberta-bpe'], expressions: [GPT2] },
  { names: ['llama3', 'llama-v3', 'llama-bpe', 'falcon3'], expressions: [LLAMA3], ignoreMerges: true, addBos: true },
  { names: ['dbrx', 'smaug-bpe'], expressions: [LLAMA3] },
  { names: ['qwen2', 'deepseek-r1-qwen', 'stablelm2', 'megrez'], expressions: [QWEN2] },
  { names: ['deepseek-llm'], expressions: ['[\\r\\n]', DEEPSEEK_LLM_LETTERS, '\\s?[!-/:-~！-／：-～‘-‟　-。]+', '\\s+$', DEEPSEEK_CJK, '\\p{N}+'] },
  { names: ['deepseek-coder'], expressions: ['[\\r\\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', DEEPSEEK_CJK, '\\p{N}'] },
  { names: ['falcon'], expressions: ['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2, '[0-9][0-9][0-9]'] },
  { names: ['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b'], expressions: ['\\p{N}', GPT2] },
];

/** Every `tokenizer.ggml.pre` value we know, for error messages. */
export const KNOWN_PRE_TOKENIZERS: readonly string[] = DEFINITIONS.flatMap((d) => d.names);

export interface PreTokenizer {
  readonly name: string;
  readonly ignoreMerges: boolean;
  /** Whether llama.cpp adds BOS by default for this pre-tokenizer (the file's add_bos_token wins). */
  readonly addBosByDefault: boolean;
  /** Splits text into the words BPE merges within. */
  split(text: string): string[];
}

/** The pre-tokenizer named `name`; an unknown name is a FormatError naming it and listing the known ones. */
export function preTokenizerFor(name: string, source: string): PreTokenizer {
  const def = DEFINITIONS.find((d) => d.names.includes(name));
  if (!def) {
    throw new FormatError(`${source}: unknown tokenizer.ggml.pre "${name}" (known: ${KNOWN_PRE_TOKENIZERS.join(', ')})`);
  }
  const regexes = def.expressions.map((e) => new RegExp(e, 'gu'));
  return {
    name,
    ignoreMerges: def.ignoreMerges ?? false,
    addBosByDefault: def.addBos ?? false,
    split: (text) => splitByExpressions(text, regexes),
  };
}

/** Applies each expression in turn to every piece; matches and the gaps between them become pieces. */
export function splitByExpressions(text: string, regexes: readonly RegExp[]): string[] {
  let pieces = text.length > 0 ? [text] : [];
  for (const re of regexes) {
    const next: string[] = [];
    for (const piece of pieces) {
      let at = 0;
      for (const m of piece.matchAll(re)) {
        const start = m.index!;
        if (m[0].length === 0) continue; // an empty match splits nothing
        if (start > at) next.push(piece.slice(at, start));
        next.push(m[0]);
        at = start + m[0].length;
      }
      if (at < piece.length) next.push(piece.slice(at));
    }
    pieces = next;
  }
  return pieces;
}
