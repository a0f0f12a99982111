import { ConfigError, GenerationError } from '../errors.js';
import { jsonSnippet } from '../formats/file-io.js';

/** Decoding settings, named after HF `GenerationConfig` fields (camelCase). */
export interface GenerationConfig {
  /** Most tokens to generate after the prompt (0 generates nothing). */
  maxNewTokens: number;
  /** Sample from the processed distribution; false = greedy (argmax). */
  doSample: boolean;
  /** Logits are divided by it before top-k/top-p; 0 means greedy even when `doSample` is set. */
  temperature: number;
  /** Keep only the k most likely tokens (ties at the k-th value all kept); 0 = off. */
  topK: number;
  /** Nucleus sampling: keep the smallest top set whose probability reaches topP; 1 = off. */
  topP: number;
  /** HF/CTRL repetition penalty over every id seen so far, prompt included; 1 = off. */
  repetitionPenalty: number;
  /** Any of these ends generation. Empty: generation stops only on length, stop strings or abort. */
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
}

/**
 * HF's defaults (greedy unless doSample; temperature 1, top_k 50, top_p 1, repetition_penalty 1),
 * except maxNewTokens: HF's `max_length = 20` counts the prompt, which is useless for chat. 512 is
 * the upper bound of XVERSE's own base-model demo; it is long enough for an ordinary answer, yet stops a
 * base model that never emits EOS before it spends minutes of CPU time walking the whole 8K context.
 * Chat checkpoints override it from generation_config.json (2048, spec §3.4).
 */
export const DEFAULT_GENERATION_CONFIG: Readonly<GenerationConfig> = Object.freeze({
  maxNewTokens: 512,
  doSample: false,
  temperature: 1,
  topK: 50,
  topP: 1,
  repetitionPenalty: 1,
  eosTokenIds: [],
  bosTokenId: null,
  padTokenId: null,
});

type Key = keyof GenerationConfig;
type Kind = 'count' | 'bool' | 'temperature' | 'topP' | 'penalty' | 'idList' | 'id';

/** Each field once: its generation_config.json name and the rule its value must obey. */
const FIELDS: ReadonlyArray<readonly [Key, string, Kind]> = [
  ['maxNewTokens', 'max_new_tokens', 'count'],
  ['doSample', 'do_sample', 'bool'],
  ['temperature', 'temperature', 'temperature'],
  ['topK', 'top_k', 'count'],
  ['topP', 'top_p', 'topP'],
  ['repetitionPenalty', 'repetition_penalty', 'penalty'],
  ['eosTokenIds', 'eos_token_id', 'idList'],
  ['bosTokenId', 'bos_token_id', 'id'],
  ['padTokenId', 'pad_token_id', 'id'],
];

/** Returns why `value` breaks the rule of `kind`, or null when it is fine. */
function problem(kind: Kind, value: unknown): string | null {
  const isId = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
  switch (kind) {
    case 'count':
      return isId(value) ? null : 'must be an integer ≥ 0';
    case 'bool':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'temperature':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? null : 'must be a number ≥ 0 (0 = greedy)';
    case 'topP':
      return typeof value === 'number' && value > 0 && value <= 1 ? null : 'must be a number in (0, 1]';
    case 'penalty':
      return typeof value === 'number' && Number.isFinite(value) && value > 0 ? null : 'must be a number > 0 (1 = off)';
    case 'idList':
      return Array.isArray(value) && value.every(isId) ? null : 'must be a list of non-negative integer token ids';
    case 'id':
      return value === null || isId(value) ? null : 'must be a non-negative integer token id or null';
  }
}

/**
 * Reads generation_config.json content. Returns only the fields the file sets (so that merging
 * keeps defaults for the rest); unknown fields (`transformers_version`, `max_length`, …) are ignored,
 * and `null` for a sampling field counts as absent. `eos_token_id` may be one id or a list.
 */
export function parseGenerationConfig(json: unknown, file = 'generation_config.json'): Partial<GenerationConfig> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`${file}: expected a JSON object`);
  }
  const src = json as Record<string, unknown>;
  const out: Partial<Record<Key, unknown>> = {};
  for (const [key, jsonKey, kind] of FIELDS) {
    let value = src[jsonKey];
    if (value === undefined || (value === null && kind !== 'id')) continue;
    if (kind === 'idList' && !Array.isArray(value)) value = [value];
    const why = problem(kind, value);
    if (why !== null) throw new ConfigError(`${file}: field "${jsonKey}" ${why}, got ${jsonSnippet(src[jsonKey])}`);
    out[key] = kind === 'idList' ? [...(value as number[])] : value;
  }
  return out as Partial<GenerationConfig>;
}

/**
 * Merges DEFAULT_GENERATION_CONFIG ← layers in order (typically: values derived from the model,
 * then generation_config.json, then per-call options). A field that is absent or `undefined` in a layer
 * does not override. The result is validated; a bad value raises GenerationError naming the option.
 */
export function resolveGenerationConfig(...layers: ReadonlyArray<Partial<GenerationConfig> | undefined>): GenerationConfig {
  const out: Record<Key, unknown> = { ...DEFAULT_GENERATION_CONFIG };
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key] of FIELDS) {
      const value = layer[key];
      if (value !== undefined) out[key] = value;
    }
  }
  for (const [key, , kind] of FIELDS) {
    const why = problem(kind, out[key]);
    if (why !== null) throw new GenerationError(`${key} ${why}, got ${jsonSnippet(out[key])}`);
  }
  out.eosTokenIds = [...(out.eosTokenIds as number[])];
  return out as unknown as GenerationConfig;
}

/** Whether decoding picks the argmax: HF greedy (`doSample` false), or temperature 0 (our extension). */
export function isGreedy(config: Pick<GenerationConfig, 'doSample' | 'temperature'>): boolean {
  return !config.doSample || config.temperature === 0;
}
