import fs from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors.js';
import { isJsonObject, readJsonObjectFile, type JsonObject } from '../formats/file-io.js';
import { gv, type GgufValue } from '../formats/gguf-metadata.js';
import { GGUF_TOKEN_TYPE } from '../formats/gguf-types.js';

/**
 * The tokenizer metadata llama.cpp's converter writes for XVERSE (convert_hf_to_gguf.py,
 * `XverseModel.set_vocab`, plus gguf-py's `SpecialVocab`), rebuilt from tokenizer.json and
 * tokenizer_config.json without transformers:
 *
 * - `tokenizer.ggml.model` "llama" (SentencePiece-style), `pre` "default";
 * - `tokens`: for every id below vocab_size, the token's text from the model vocab plus the added
 *   tokens; `token_type`: BYTE for `<0xNN>` (and for a literal "\x00", which the converter writes as
 *   the text `<b'\x00'>`), CONTROL for added tokens marked special, USER_DEFINED for other added
 *   tokens, NORMAL otherwise. No scores and no merges: llama.cpp then merges SentencePiece-style
 *   with equal scores (see the xverse-tiny fixture README for where that differs from tokenizer.json);
 * - special ids: `<kind>_token` of tokenizer_config.json matched against the added tokens' content,
 *   else `<kind>_token_id` of config.json, in the order they were found;
 * - `add_bos_token` / `add_eos_token` from the tokenizer's TemplateProcessing post-processor,
 *   overridden by tokenizer_config.json's flags; `chat_template` when tokenizer_config.json has one.
 *
 * One deliberate difference: ids missing from the vocabulary (which make the converter crash) are
 * written as `[PAD<id>]` tokens of type UNUSED, as the converter does for its GPT-2-style vocabs.
 */

const SPECIAL_KINDS = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;
type SpecialKind = (typeof SPECIAL_KINDS)[number];

/** gguf-py's key for each special id ("seperator" is its spelling, which llama.cpp reads). */
const SPECIAL_ID_KEYS: Readonly<Record<SpecialKind, string>> = {
  bos: 'tokenizer.ggml.bos_token_id', eos: 'tokenizer.ggml.eos_token_id', unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', pad: 'tokenizer.ggml.padding_token_id', cls: 'tokenizer.ggml.cls_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
};
/** gguf-py only has writers for these add_<kind>_token flags; others are skipped as it skips them. */
const ADD_FLAG_KEYS: Partial<Record<SpecialKind, string>> = {
  bos: 'tokenizer.ggml.add_bos_token', eos: 'tokenizer.ggml.add_eos_token', sep: 'tokenizer.ggml.add_sep_token',
};

/** The text the converter writes for a token that is a single NUL character. */
const NUL_TOKEN_TEXT = "<b'\\x00'>";
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

export interface GgufVocab {
  readonly tokens: readonly string[];
  readonly tokenTypes: readonly number[];
  /** Special ids in the order the converter would write them. */
  readonly specialIds: ReadonlyArray<readonly [SpecialKind, number]>;
  readonly addFlags: ReadonlyArray<readonly [SpecialKind, boolean]>;
  readonly chatTemplate: string | ReadonlyArray<{ name: string; template: string }> | null;
}

interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
}

/**
 * Builds the vocabulary from `dir`'s tokenizer.json (and tokenizer_config.json / config.json when
 * present). `vocabSize` is config.json's vocab_size (the embedding's rows); absent, the tokenizer's size.
 */
export function readGgufVocab(dir: string, vocabSize: number | undefined, config: JsonObject): GgufVocab {
  const file = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(file)) {
    throw new FormatError(`${dir}: no tokenizer.json (llama.cpp needs the vocabulary in the GGUF, and it is built from tokenizer.json)`);
  }
  const tokenizer = readJsonObjectFile(file);
  const added = parseAddedTokens(tokenizer['added_tokens'], file);
  // What transformers' tokenizer.get_vocab() returns: the model's vocab, then the added tokens.
  const vocab = modelVocab(tokenizer['model'], file);
  for (const t of added) vocab.set(t.content, t.id);
  const byId = new Map<number, string>();
  let maxId = -1;
  for (const [text, id] of vocab) {
    byId.set(id, text);
    if (id > maxId) maxId = id;
  }
  const size = vocabSize ?? vocab.size;
  if (maxId >= size) throw new FormatError(`${file}: token id ${maxId} is outside the model's vocab_size ${size}`);

  const addedByContent = new Map<string, AddedToken>();
  for (const t of added) if (!addedByContent.has(t.content)) addedByContent.set(t.content, t);
  const addedById = new Map(added.map((t) => [t.id, t]));
  const tokens: string[] = new Array(size);
  const tokenTypes: number[] = new Array(size);
  for (let id = 0; id < size; id++) {
    const text = byId.get(id);
    let type: number;
    let out = text;
    if (text === undefined) {
      out = `[PAD${id}]`;
      type = GGUF_TOKEN_TYPE.unused;
    } else if (text === '\x00') {
      out = NUL_TOKEN_TEXT;
      type = GGUF_TOKEN_TYPE.byte;
    } else if (BYTE_TOKEN.test(text)) {
      type = GGUF_TOKEN_TYPE.byte;
    } else if (addedByContent.has(text)) {
      const special = (addedById.get(id) ?? addedByContent.get(text)!).special;
      type = special ? GGUF_TOKEN_TYPE.control : GGUF_TOKEN_TYPE.userDefined;
    } else {
      type = GGUF_TOKEN_TYPE.normal;
    }
    tokens[id] = out!;
    tokenTypes[id] = type;
  }

  const special = specialTokens(dir, tokenizer, added, size, config);
  return { tokens, tokenTypes, ...special };
}

/** The metadata entries, in the converter's order. */
export function vocabMetadata(v: GgufVocab): Array<[string, GgufValue]> {
  const out: Array<[string, GgufValue]> = [
    ['tokenizer.ggml.model', gv.string('llama')],
    ['tokenizer.ggml.pre', gv.string('default')],
    ['tokenizer.ggml.tokens', gv.strings(v.tokens)],
    ['tokenizer.ggml.token_type', gv.numbers('i32', v.tokenTypes)],
  ];
  for (const [kind, id] of v.specialIds) out.push([SPECIAL_ID_KEYS[kind], gv.u32(id)]);
  for (const [kind, flag] of v.addFlags) {
    const key = ADD_FLAG_KEYS[kind];
    if (key) out.push([key, gv.bool(flag)]);
  }
  if (typeof v.chatTemplate === 'string') {
    out.push(['tokenizer.chat_template', gv.string(v.chatTemplate)]);
  } else if (v.chatTemplate) {
    // gguf-py's list form: named templates under their own keys, "default" as the plain key.
    const names: string[] = [];
    let fallback: string | undefined;
    for (const { name, template } of v.chatTemplate) {
      const clean = name.replace(/[^A-Za-z0-9]/g, '_');
      if (!clean) continue;
      if (clean === 'default') fallback = template;
      else if (!names.includes(clean)) {
        names.push(clean);
        out.push([`tokenizer.chat_template.${clean}`, gv.string(template)]);
      }
    }
    if (names.length > 0) out.push(['tokenizer.chat_templates', gv.strings(names)]);
    if (fallback !== undefined) out.push(['tokenizer.chat_template', gv.string(fallback)]);
  }
  return out;
}

function modelVocab(model: unknown, file: string): Map<string, number> {
  if (!isJsonObject(model)) throw new FormatError(`${file}: "model" must be an object`);
  const raw = model['vocab'];
  const vocab = new Map<string, number>();
  if (Array.isArray(raw)) {
    // Unigram: [[piece, score], …], the id is the position.
    raw.forEach((entry, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new FormatError(`${file}: model.vocab[${id}] must be [piece, score]`);
      vocab.set(entry[0], id);
    });
    return vocab;
  }
  if (!isJsonObject(raw)) throw new FormatError(`${file}: model.vocab must be an object of token → id`);
  for (const [text, id] of Object.entries(raw)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) throw new FormatError(`${file}: model.vocab["${text}"] must be a non-negative integer id, got ${JSON.stringify(id)}`);
    vocab.set(text, id as number);
  }
  return vocab;
}

function parseAddedTokens(raw: unknown, file: string): AddedToken[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new FormatError(`${file}: "added_tokens" must be a list`);
  return raw.map((t, i) => {
    if (!isJsonObject(t) || !Number.isSafeInteger(t['id']) || (t['id'] as number) < 0 || typeof t['content'] !== 'string') {
      throw new FormatError(`${file}: added_tokens[${i}] needs an integer "id" and a string "content"`);
    }
    return { id: t['id'] as number, content: t['content'], special: t['special'] === true };
  });
}

/** gguf-py's SpecialVocab: which special ids and add-flags to record. */
function specialTokens(
  dir: string, tokenizer: JsonObject, added: readonly AddedToken[], nVocab: number, config: JsonObject,
): Pick<GgufVocab, 'specialIds' | 'addFlags' | 'chatTemplate'> {
  const ids = new Map<SpecialKind, number>();
  const flags = new Map<SpecialKind, boolean>();
  const setId = (kind: SpecialKind, id: unknown) => {
    // Only the first source to name a kind counts; out-of-range ids are skipped, as gguf-py does.
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= nVocab || ids.has(kind)) return;
    ids.set(kind, id);
  };
  const configFile = path.join(dir, 'tokenizer_config.json');
  const tc = fs.existsSync(configFile) ? readJsonObjectFile(configFile) : null;
  const contentOf = (entry: unknown): string | undefined =>
    typeof entry === 'string' ? entry : isJsonObject(entry) && typeof entry['content'] === 'string' ? entry['content'] : undefined;

  postProcessorFlags(tokenizer['post_processor'], contentOf(tc?.['bos_token']), contentOf(tc?.['eos_token']), flags);
  let chatTemplate: GgufVocab['chatTemplate'] = null;
  if (tc) {
    chatTemplate = parseChatTemplate(tc['chat_template']);
    for (const kind of SPECIAL_KINDS) {
      const flag = tc[`add_${kind}_token`];
      if (typeof flag === 'boolean') flags.set(kind, flag);
      const content = contentOf(tc[`${kind}_token`]);
      if (content === undefined) continue;
      setId(kind, added.find((t) => t.content === content)?.id);
    }
  }
  for (const kind of SPECIAL_KINDS) setId(kind, config[`${kind}_token_id`]);
  return { specialIds: [...ids], addFlags: [...flags], chatTemplate };
}

/**
 * A TemplateProcessing post-processor whose single-sequence template starts (ends) with a special
 * token adds BOS (EOS) — the simple case of gguf-py's template parsing.
 */
function postProcessorFlags(pp: unknown, bos: string | undefined, eos: string | undefined, flags: Map<SpecialKind, boolean>): void {
  if (!isJsonObject(pp)) return;
  const processors = Array.isArray(pp['processors']) ? pp['processors'] : [pp];
  for (const p of processors) {
    if (!isJsonObject(p) || p['type'] !== 'TemplateProcessing' || !Array.isArray(p['single']) || p['single'].length < 2) continue;
    const specialId = (item: unknown): string | undefined => {
      const s = isJsonObject(item) ? item['SpecialToken'] : undefined;
      return isJsonObject(s) && typeof s['id'] === 'string' ? s['id'] : undefined;
    };
    const first = specialId(p['single'][0]);
    const last = specialId(p['single'][p['single'].length - 1]);
    if (first !== undefined) flags.set('bos', bos === undefined || first === bos);
    if (last !== undefined) flags.set('eos', eos === undefined || last === eos);
  }
}

function parseChatTemplate(raw: unknown): GgufVocab['chatTemplate'] {
  if (typeof raw === 'string') return raw;
  if (!Array.isArray(raw)) return null;
  return raw.flatMap((c) => isJsonObject(c) && typeof c['name'] === 'string' && typeof c['template'] === 'string'
    ? [{ name: c['name'], template: c['template'] }] : []);
}
