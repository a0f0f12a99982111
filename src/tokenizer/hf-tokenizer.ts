import path from 'node:path';

import { Tokenizer as LibTokenizerClass } from '@huggingface/tokenizers';

import { FormatError, TokenizerError } from '../errors.js';
import { applyRustParity, type LibPipeline } from './hf-rust-parity.js';
import { isJsonObject, oneLine, readJsonObjectFile, type JsonObject } from '../formats/file-io.js';
import { overrideId, type SpecialTokenOverrides } from './special-ids.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.js';

export type { SpecialTokenOverrides } from './special-ids.js';

export interface HFTokenizerOptions extends SpecialTokenOverrides {
  /** Names the tokenizer.json in error messages (default `tokenizer.json`). */
  source?: string;
  /** Names the tokenizer_config.json in error messages (default `tokenizer_config.json`). */
  configSource?: string;
}

/**
 * The part of `@huggingface/tokenizers` 0.2.0 that we use. Its bundled .d.ts files use extensionless
 * relative imports that NodeNext cannot resolve, so TypeScript sees the class as `any`; this view
 * keeps our side typed.
 */
interface LibAddedToken {
  readonly content: string;
  readonly id: number;
  readonly special: boolean;
}
interface LibTokenizer extends LibPipeline {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, LibAddedToken>;
}
type LibTokenizerConstructor = new (tokenizerJson: JsonObject, tokenizerConfig: JsonObject) => LibTokenizer;
const LibTokenizer = LibTokenizerClass as LibTokenizerConstructor;

/** Model types `@huggingface/tokenizers` implements (it has no WordLevel). */
const SUPPORTED_MODELS: readonly string[] = ['BPE', 'Unigram', 'WordPiece'];

/** The pipeline stages the library requires to be present as keys (it accepts null for each). */
const PIPELINE_KEYS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;

/** A Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`), run by `@huggingface/tokenizers`. */
export class HFTokenizer implements Tokenizer {
  readonly kind = 'tokenizer.json' as const;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  readonly eosToken: string | null;
  /** The tokenizer.json this came from (or the `source` name given to `fromJson`). */
  readonly source: string;

  readonly #lib: LibTokenizer;
  /** Token strings that `skipSpecialTokens` drops (the library filters by string, so do we). */
  readonly #specialContents: ReadonlySet<string>;

  private constructor(
    lib: LibTokenizer,
    fields: {
      source: string;
      vocabSize: number;
      bos: number | null;
      eos: number | null;
      pad: number | null;
      unk: number | null;
      specialContents: ReadonlySet<string>;
    },
  ) {
    this.#lib = lib;
    this.source = fields.source;
    this.vocabSize = fields.vocabSize;
    this.bosTokenId = fields.bos;
    this.eosTokenId = fields.eos;
    this.padTokenId = fields.pad;
    this.unkTokenId = fields.unk;
    this.eosToken = fields.eos === null ? null : (lib.id_to_token(fields.eos) ?? null);
    this.#specialContents = fields.specialContents;
  }

  /** Loads `tokenizer.json` and, when given, `tokenizer_config.json` (special tokens, clean-up flag). */
  static fromFiles(tokenizerJsonPath: string, tokenizerConfigPath?: string, overrides?: SpecialTokenOverrides): HFTokenizer {
    const json = readJsonObjectFile(tokenizerJsonPath);
    const config = tokenizerConfigPath === undefined ? undefined : readJsonObjectFile(tokenizerConfigPath);
    return HFTokenizer.fromJson(json, config, {
      ...overrides,
      source: tokenizerJsonPath,
      configSource: tokenizerConfigPath ?? path.join(path.dirname(tokenizerJsonPath), 'tokenizer_config.json'),
    });
  }

  /** Builds a tokenizer from already-parsed JSON (objects or JSON text). */
  static fromJson(tokenizerJson: unknown, tokenizerConfig?: unknown, options: HFTokenizerOptions = {}): HFTokenizer {
    const source = options.source ?? 'tokenizer.json';
    const configSource = options.configSource ?? 'tokenizer_config.json';
    const json = validateTokenizerJson(parseIfText(tokenizerJson, source), source);
    const config = tokenizerConfig === undefined || tokenizerConfig === null ? undefined : parseIfText(tokenizerConfig, configSource);

    // The library defaults clean_up_tokenization_spaces to true when the config does not say; the Rust
    // library (our reference) has no such step and current transformers default it to false, so only
    // an explicit `true` in tokenizer_config.json turns it on.
    const libConfig: JsonObject = { ...config, clean_up_tokenization_spaces: config?.['clean_up_tokenization_spaces'] === true };

    let lib: LibTokenizer;
    try {
      lib = new LibTokenizer(json, libConfig);
    } catch (err) {
      throw new FormatError(`${source}: unsupported or malformed tokenizer (${oneLine(String((err as Error).message ?? err))})`, { cause: err });
    }
    applyRustParity(lib, json);

    const vocabSize = computeVocabSize(json, source);
    const idOf = (field: string): number | null => {
      if (config === undefined) return null;
      const content = specialTokenContent(config, field, configSource);
      if (content === null) return null;
      const id = lib.token_to_id(content);
      if (id === undefined) throw new FormatError(`${configSource}: ${field} ${JSON.stringify(content)} is not in the vocabulary of ${source}`);
      return id;
    };
    const override = (field: string, value: number | null | undefined, own: number | null): number | null =>
      overrideId(field, value, own, vocabSize, source);

    let unk = idOf('unk_token');
    if (unk === null && isJsonObject(json['model']) && typeof json['model']['unk_token'] === 'string') {
      unk = lib.token_to_id(json['model']['unk_token']) ?? null;
    }

    const specialContents = new Set<string>();
    for (const token of lib.get_added_tokens_decoder().values()) if (token.special) specialContents.add(token.content);
    // transformers (and the library) also skip tokenizer_config's additional_special_tokens.
    const additional = config?.['additional_special_tokens'];
    if (Array.isArray(additional)) for (const t of additional) if (typeof t === 'string') specialContents.add(t);

    return new HFTokenizer(lib, {
      source,
      vocabSize,
      bos: override('bos_token_id', options.bosTokenId, idOf('bos_token')),
      eos: override('eos_token_id', options.eosTokenId, idOf('eos_token')),
      pad: override('pad_token_id', options.padTokenId, idOf('pad_token')),
      unk,
      specialContents,
    });
  }

  /**
   * `addSpecialTokens` defaults to true, as in the library: it then applies tokenizer.json's
   * post_processor, which for XVERSE is null, so no BOS is added either way.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`${this.source}: encode expects a string, got ${typeof text}`);
    let ids: number[];
    try {
      ids = this.#lib.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
    } catch (err) {
      // A tokenizer.json the library accepted but cannot run: report it, not the library's TypeError.
      throw new TokenizerError(`${this.source}: cannot encode ${JSON.stringify(text.slice(0, 40))} (${oneLine(String((err as Error)?.message ?? err)).slice(0, 200)})`, { cause: err });
    }
    // The library yields `undefined` for a piece it cannot map (an unk_token missing from the
    // vocabulary), where the Rust library raises an error.
    const bad = ids.findIndex((id) => !Number.isInteger(id));
    if (bad >= 0) throw new TokenizerError(`${this.source}: cannot encode ${JSON.stringify(text.slice(0, 40))}: a piece maps to no id (is unk_token in the vocabulary?)`);
    return ids;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const known: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      // Ids past the vocabulary (a model whose embedding is padded beyond the tokenizer may sample
      // them) and ids inside the range that name no token are dropped, as the Rust library does;
      // `@huggingface/tokenizers` would print the unk token instead.
      if (Number.isInteger(id) && id >= this.vocabSize) continue;
      this.#checkId(id);
      if (this.#lib.id_to_token(id) !== undefined) known.push(id);
    }
    if (known.length === 0) return ''; // the library throws on an empty list
    return this.#lib.decode(known, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.#lib.id_to_token(id) : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.#lib.token_to_id(token);
  }

  isSpecial(id: number): boolean {
    const token = this.idToToken(id);
    return token !== undefined && this.#specialContents.has(token);
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`cannot decode token id ${id}: outside the vocabulary of ${this.source} (ids 0..${this.vocabSize - 1})`);
    }
  }
}

function parseIfText(value: unknown, source: string): JsonObject {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw new FormatError(`${source}: not valid JSON (${oneLine((err as Error).message)})`, { cause: err });
    }
  }
  if (!isJsonObject(parsed)) throw new FormatError(`${source}: expected a JSON object at the top level`);
  return parsed;
}

/**
 * Checks the fields the library would otherwise crash on with an unhelpful TypeError, and returns a
 * shallow copy with the optional pipeline keys filled in (the library insists they exist).
 */
function validateTokenizerJson(json: JsonObject, source: string): JsonObject {
  const model = json['model'];
  if (!isJsonObject(model)) throw new FormatError(`${source}: missing "model" object`);
  const type = model['type'];
  if (typeof type !== 'string') throw new FormatError(`${source}: model.type must be a string`);
  // The library would guess a model for any other type instead of failing.
  if (!SUPPORTED_MODELS.includes(type)) {
    throw new FormatError(`${source}: model.type ${JSON.stringify(type)} is not supported (${SUPPORTED_MODELS.join(', ')})`);
  }
  if (model['vocab'] === undefined) throw new FormatError(`${source}: missing model.vocab`);
  if (type === 'BPE' && !Array.isArray(model['merges'])) throw new FormatError(`${source}: BPE model.merges must be an array`);
  // The library turns these into strings only when encoding (a nested array overflows the stack there).
  for (const key of ['unk_token', 'continuing_subword_prefix', 'end_of_word_suffix']) {
    const v = model[key];
    if (v !== undefined && v !== null && typeof v !== 'string') throw new FormatError(`${source}: model.${key} must be a string or null`);
  }
  const added = json['added_tokens'] ?? [];
  if (!Array.isArray(added)) throw new FormatError(`${source}: added_tokens must be an array`);
  added.forEach((t: unknown, i) => {
    if (!isJsonObject(t) || typeof t['content'] !== 'string' || !isTokenId(t['id'])) {
      throw new FormatError(`${source}: added_tokens[${i}] needs a string "content" and a non-negative integer "id"`);
    }
  });
  const out: JsonObject = { ...json, added_tokens: added };
  for (const key of PIPELINE_KEYS) if (out[key] === undefined) out[key] = null;
  return out;
}

/** Largest id + 1 over model.vocab (object or Unigram's [piece, score] list) and added_tokens. */
function computeVocabSize(json: JsonObject, source: string): number {
  const model = json['model'] as JsonObject;
  const vocab = model['vocab'];
  let size = 0;
  if (Array.isArray(vocab)) {
    size = vocab.length; // Unigram: the id is the position
  } else if (isJsonObject(vocab)) {
    for (const [token, id] of Object.entries(vocab)) {
      if (!isTokenId(id)) throw new FormatError(`${source}: model.vocab[${JSON.stringify(token)}] must be a non-negative integer id`);
      size = Math.max(size, id + 1);
    }
  } else {
    throw new FormatError(`${source}: model.vocab must be an object or an array`);
  }
  for (const t of json['added_tokens'] as JsonObject[]) size = Math.max(size, (t['id'] as number) + 1);
  if (size === 0) throw new FormatError(`${source}: the vocabulary is empty`);
  return size;
}

function isTokenId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** `bos_token` etc. are a string, `{ "content": ... }` (AddedToken form) or null. */
function specialTokenContent(config: JsonObject, field: string, configSource: string): string | null {
  const value = config[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (isJsonObject(value) && typeof value['content'] === 'string') return value['content'];
  throw new FormatError(`${configSource}: ${field} must be a string or an object with a string "content"`);
}
