/**
 * Where `@huggingface/tokenizers` 0.2.0 (pure JS) and the Rust `tokenizers` library (what transformers
 * runs, and the reference for tokenizer.json) disagree, these shims give the JS pipeline the Rust
 * behaviour. Each was found by test/tokenizer/hf-differential.test.ts against `tokenizers` 0.23.2:
 *
 * - ByteFallback decoder: a run of `<0xNN>` tokens that is not valid UTF-8 becomes one U+FFFD per
 *   token in Rust; JS's TextDecoder keeps the valid bytes (`<0x35><0xBB>` → "��" vs "5�").
 * - Metaspace decoder: Rust drops every `▁` of the first token unless prepend_scheme is "never", and
 *   with "never" strips nothing; JS strips one leading space of the first token whatever the scheme.
 * - Metaspace pre-tokenizer: JS ignores `split` (Rust default true: a new pre-token at every `▁`), so
 *   merges such as `▁ ▁` could join words; and with prepend_scheme "first" inside a Sequence, JS
 *   prefixes every piece of the first section, Rust only the one at offset 0.
 * - Digits pre-tokenizer: Rust splits on Unicode numerics (`char::is_numeric`: ², ½, ٣ …), JS on
 *   ASCII `\d` only.
 *
 * The library builds its pipeline objects from tokenizer.json but keeps no type tag on pre-tokenizers,
 * and its bundler renamed some classes, so the objects are found by walking the JSON alongside them
 * (Sequence children are built index for index). An object without the expected shape is left alone;
 * the differential test notices if a library update changes them.
 */
import { isJsonObject, type JsonObject } from '../formats/file-io.js';

/** The pipeline slots of the library's Tokenizer object that the shims touch. */
export interface LibPipeline {
  decoder: unknown;
  pre_tokenizer: unknown;
}

export function applyRustParity(lib: LibPipeline, tokenizerJson: JsonObject): void {
  patchDecoder(lib.decoder, tokenizerJson['decoder']);
  patchPreTokenizer(lib.pre_tokenizer, tokenizerJson['pre_tokenizer']);
}

type PrependScheme = 'always' | 'first' | 'never';

function prependScheme(config: JsonObject): PrependScheme {
  const scheme = config['prepend_scheme'];
  if (scheme === 'always' || scheme === 'first' || scheme === 'never') return scheme;
  // Files written before tokenizers 0.14 carry add_prefix_space instead.
  return config['add_prefix_space'] === false ? 'never' : 'always';
}

function replacementOf(config: JsonObject): string {
  return typeof config['replacement'] === 'string' ? config['replacement'] : '\u2581';
}

function isObject(value: unknown): value is Record<string, unknown> {
  // The library's pipeline objects are callable (functions with a prototype), not plain objects.
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function patchDecoder(node: unknown, config: unknown): void {
  if (!isObject(node) || !isJsonObject(config) || typeof node['decode_chain'] !== 'function') return;
  switch (config['type']) {
    case 'Sequence': {
      const children = node['decoders'];
      const configs = config['decoders'];
      if (Array.isArray(children) && Array.isArray(configs)) children.forEach((child, i) => patchDecoder(child, configs[i]));
      return;
    }
    case 'ByteFallback':
      node['decode_chain'] = rustByteFallback;
      return;
    case 'Metaspace': {
      const replacement = replacementOf(config);
      const scheme = prependScheme(config);
      node['decode_chain'] = (tokens: string[]): string[] =>
        tokens.map((token, i) => token.replaceAll(replacement, i === 0 && scheme !== 'never' ? '' : ' '));
      return;
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** Rust checks `len() == 6` (bytes), the `<0x`…`>` frame and `u8::from_str_radix(token[3..5], 16)`. */
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2}|\+[0-9A-Fa-f])>$/;

function rustByteFallback(tokens: string[]): string[] {
  const out: string[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    try {
      out.push(strictUtf8.decode(Uint8Array.from(pending)));
    } catch {
      for (let i = 0; i < pending.length; i++) out.push('\uFFFD');
    }
    pending = [];
  };
  for (const token of tokens) {
    const m = BYTE_TOKEN.exec(token);
    if (m) {
      pending.push(parseInt(m[1]!, 16));
    } else {
      flush();
      out.push(token);
    }
  }
  flush();
  return out;
}

interface PreTokenizeOptions {
  section_index?: number;
}

function patchPreTokenizer(node: unknown, config: unknown): void {
  if (!isObject(node) || !isJsonObject(config) || typeof node['pre_tokenize'] !== 'function') return;
  switch (config['type']) {
    case 'Sequence': {
      const children = node['tokenizers'];
      const configs = config['pretokenizers'];
      if (Array.isArray(children) && Array.isArray(configs)) children.forEach((child, i) => patchPreTokenizer(child, configs[i]));
      return;
    }
    case 'Metaspace': {
      const replacement = replacementOf(config);
      const scheme = prependScheme(config);
      const split = config['split'] !== false;
      node['pre_tokenize'] = (text: string | string[], options?: PreTokenizeOptions): string[] => {
        const pieces = Array.isArray(text) ? text : [text];
        return pieces.flatMap((piece, i) => {
          let s = piece.replaceAll(' ', replacement);
          // "first": only the pre-token at the very start of the text (first piece of section 0).
          const atStart = (options?.section_index ?? 0) === 0 && i === 0;
          if (!s.startsWith(replacement) && (scheme === 'always' || (scheme === 'first' && atStart))) s = replacement + s;
          return split ? splitBeforeEach(s, replacement) : [s];
        });
      };
      return;
    }
    case 'Digits':
      if (node['pattern'] instanceof RegExp) {
        node['pattern'] = config['individual_digits'] === true ? /[^\p{N}]+|\p{N}/gu : /[^\p{N}]+|\p{N}+/gu;
      }
      return;
  }
}

/** Rust's `split(replacement, MergedWithNext)`: every replacement char starts a new piece. */
function splitBeforeEach(s: string, replacement: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let at = s.indexOf(replacement, 1); at !== -1; at = s.indexOf(replacement, at + replacement.length)) {
    if (at > start) out.push(s.slice(start, at));
    start = at;
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}
