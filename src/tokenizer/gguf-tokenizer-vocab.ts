import { FormatError } from '../errors.js';
import { GGUF_TOKEN_TYPE, type GgufMetadataReader } from '../formats/gguf.js';

/**
 * The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`), read and checked the way
 * llama.cpp's `llama_vocab::impl::load` reads it. Bounds on counts and string sizes are the GGUF
 * reader's (src/formats/gguf.ts); this adds the cross-checks between the arrays.
 */

/** `tokenizer.ggml.model` values we tokenize: SentencePiece-style and GPT-2-style byte-level BPE. */
export const GGUF_TOKENIZER_MODELS = ['llama', 'gpt2'] as const;
export type GgufTokenizerModel = (typeof GGUF_TOKENIZER_MODELS)[number];

/** GGUF token types (llama.cpp's llama_token_type); a value outside 1–6 reads as UNDEFINED (0), as in llama.cpp. */
export const TOKEN_TYPE = { undefined: 0, ...GGUF_TOKEN_TYPE } as const;

export interface GgufTokenizerVocab {
  /** The file, for messages. */
  readonly source: string;
  readonly model: GgufTokenizerModel;
  /** `tokenizer.ggml.pre`, when present. */
  readonly pre: string | undefined;
  /** Token texts by id (empty ones renamed `[EMPTY_<id>]` as llama.cpp does). */
  readonly tokens: readonly string[];
  /** Scores by id; `undefined` when the file has none (llama.cpp then takes 0 for every token). */
  readonly scores: readonly number[] | undefined;
  /** Token types by id (all NORMAL when the file has none). */
  readonly types: Uint8Array;
  /** `tokenizer.ggml.merges` (gpt2 only). */
  readonly merges: readonly string[] | undefined;
  /** Special ids the file names; `undefined` = key absent, so the model's default applies. */
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly addBosToken: boolean | undefined;
  readonly addEosToken: boolean | undefined;
  readonly addSpacePrefix: boolean | undefined;
}

const KEY = {
  model: 'tokenizer.ggml.model',
  pre: 'tokenizer.ggml.pre',
  tokens: 'tokenizer.ggml.tokens',
  scores: 'tokenizer.ggml.scores',
  types: 'tokenizer.ggml.token_type',
  merges: 'tokenizer.ggml.merges',
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  pad: 'tokenizer.ggml.padding_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  addEos: 'tokenizer.ggml.add_eos_token',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
} as const;

export function readGgufTokenizerVocab(metadata: GgufMetadataReader, source: string): GgufTokenizerVocab {
  const fail = (what: string) => new FormatError(`${source}: ${what}`);
  const model = metadata.string(KEY.model);
  if (model === undefined) throw fail(`no ${KEY.model}: the file carries no tokenizer`);
  if (!(GGUF_TOKENIZER_MODELS as readonly string[]).includes(model)) {
    throw fail(`unknown ${KEY.model} "${model}" (supported: ${GGUF_TOKENIZER_MODELS.join(', ')})`);
  }

  const raw = metadata.strings(KEY.tokens);
  if (raw === undefined || raw.length === 0) throw fail(`no ${KEY.tokens}, or an empty one`);
  const n = raw.length;
  const tokens = raw.map((t, id) => (t === '' ? `[EMPTY_${id}]` : t));

  // llama.cpp refuses arrays shorter than the token list (and ignores extra entries).
  const perToken = (key: string): readonly number[] | undefined => {
    const values = metadata.numbers(key);
    if (values !== undefined && values.length < n) throw fail(`${key} has ${values.length} entries for ${n} tokens`);
    return values;
  };
  const scores = perToken(KEY.scores);
  const rawTypes = perToken(KEY.types);
  const types = new Uint8Array(n).fill(TOKEN_TYPE.normal);
  if (rawTypes) {
    for (let id = 0; id < n; id++) {
      const t = rawTypes[id]!;
      types[id] = Number.isInteger(t) && t >= TOKEN_TYPE.normal && t <= TOKEN_TYPE.byte ? t : TOKEN_TYPE.undefined;
    }
  }

  const merges = metadata.strings(KEY.merges);
  if (model === 'gpt2' && merges === undefined) throw fail(`no ${KEY.merges}, which a gpt2 (byte-level BPE) tokenizer needs`);

  // An id outside the vocabulary is ignored (the default stays), as llama.cpp does with a warning.
  const id = (key: string): number | undefined => {
    const v = metadata.integer(key);
    return v !== undefined && v >= 0 && v < n ? v : undefined;
  };
  return {
    source,
    model: model as GgufTokenizerModel,
    pre: metadata.string(KEY.pre),
    tokens,
    scores: scores?.slice(0, n),
    types,
    merges: model === 'gpt2' ? merges : undefined,
    bosTokenId: id(KEY.bos),
    eosTokenId: id(KEY.eos),
    unkTokenId: id(KEY.unk),
    padTokenId: id(KEY.pad),
    addBosToken: metadata.bool(KEY.addBos),
    addEosToken: metadata.bool(KEY.addEos),
    addSpacePrefix: metadata.bool(KEY.addSpacePrefix),
  };
}
