import { ConfigError } from '../errors.js';
import { jsonSnippet } from '../formats/file-io.js';

/** RoPE context extension as HF `rope_scaling` describes it. */
export interface RopeScaling {
  /** `linear`: positions divided by `factor`; `dynamic`: NTK-aware base growth past the trained length. */
  readonly type: 'linear' | 'dynamic';
  readonly factor: number;
}

/** One typed view of a model's architecture, from config.json (or, later, GGUF metadata). */
export interface ModelConfig {
  /** `xverse` or `llama` (both run the same graph). */
  readonly modelType: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Equals numHeads for MHA (XVERSE); fewer for grouped-query attention. */
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling | null;
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  /** XVERSE v2 chat input cap (`max_tokenizer_truncation`), when the config has one. */
  readonly maxTokenizerTruncation: number | null;
  /** Explicit chat prompt format (`chat_format`, an xverse-ts extension field), when given. */
  readonly chatFormat: 'v1' | 'v2' | null;
}

type Json = Record<string, unknown>;

/** Reads and validates config.json content; `file` names the source in error messages. */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`${file}: expected a JSON object`);
  }
  const c = json as Json;
  const modelType = optionalString(c, 'model_type', file) ?? 'xverse';
  if (modelType !== 'xverse' && modelType !== 'llama') {
    throw new ConfigError(`${file}: model_type "${modelType}" is not supported (expected "xverse" or "llama")`);
  }
  const hiddenAct = optionalString(c, 'hidden_act', file) ?? 'silu';
  if (hiddenAct !== 'silu') throw new ConfigError(`${file}: hidden_act "${hiddenAct}" is not supported (only "silu")`);

  const hiddenSize = requiredInt(c, 'hidden_size', file);
  const numHeads = requiredInt(c, 'num_attention_heads', file);
  const numKvHeads = optionalInt(c, 'num_key_value_heads', file) ?? numHeads;
  const headDim = optionalInt(c, 'head_dim', file) ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) {
    throw new ConfigError(`${file}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  }
  if (headDim % 2 !== 0) throw new ConfigError(`${file}: head dimension ${headDim} must be even for RoPE`);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(`${file}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const eps = optionalNumber(c, 'rms_norm_eps', file) ?? 1e-6;
  if (!(eps > 0)) throw new ConfigError(`${file}: rms_norm_eps must be positive, got ${eps}`);
  const ropeTheta = optionalNumber(c, 'rope_theta', file) ?? 10000;
  if (!(ropeTheta > 1)) throw new ConfigError(`${file}: rope_theta must be greater than 1, got ${ropeTheta}`);
  const chatFormat = optionalString(c, 'chat_format', file) ?? null;
  if (chatFormat !== null && chatFormat !== 'v1' && chatFormat !== 'v2') {
    throw new ConfigError(`${file}: chat_format must be "v1" or "v2", got "${chatFormat}"`);
  }

  return {
    modelType,
    vocabSize: requiredInt(c, 'vocab_size', file),
    hiddenSize,
    intermediateSize: requiredInt(c, 'intermediate_size', file),
    numLayers: requiredInt(c, 'num_hidden_layers', file),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: optionalInt(c, 'max_position_embeddings', file) ?? 8192,
    rmsNormEps: eps,
    ropeTheta,
    ropeScaling: parseRopeScaling(c['rope_scaling'], file),
    tieWordEmbeddings: optionalBool(c, 'tie_word_embeddings', file) ?? false,
    bosTokenId: optionalInt(c, 'bos_token_id', file, 0) ?? null,
    eosTokenIds: parseIdList(c['eos_token_id'], 'eos_token_id', file),
    padTokenId: optionalInt(c, 'pad_token_id', file, 0) ?? null,
    maxTokenizerTruncation: optionalInt(c, 'max_tokenizer_truncation', file) ?? null,
    chatFormat,
  };
}

function parseRopeScaling(value: unknown, file: string): RopeScaling | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${file}: rope_scaling must be an object or null`);
  const r = value as Json;
  const type = r['type'] ?? r['rope_type'];
  if (type === 'default') return null;
  if (type !== 'linear' && type !== 'dynamic') {
    throw new ConfigError(`${file}: rope_scaling.type "${String(type)}" is not supported (expected "linear" or "dynamic")`);
  }
  const factor = r['factor'];
  if (typeof factor !== 'number' || !(factor >= 1)) {
    throw new ConfigError(`${file}: rope_scaling.factor must be a number ≥ 1, got ${jsonSnippet(factor)}`);
  }
  return { type, factor };
}

/** Parses a token id or list of ids (HF allows both for eos_token_id). */
export function parseIdList(value: unknown, field: string, file: string): number[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const id of list) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new ConfigError(`${file}: ${field} must be a non-negative integer or a list of them, got ${jsonSnippet(value)}`);
    }
  }
  return list as number[];
}

function requiredInt(c: Json, key: string, file: string): number {
  const v = optionalInt(c, key, file);
  if (v === undefined) throw new ConfigError(`${file}: missing required field "${key}"`);
  return v;
}

function optionalInt(c: Json, key: string, file: string, min = 1): number | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2 ** 31) {
    throw new ConfigError(`${file}: field "${key}" must be an integer ≥ ${min}, got ${jsonSnippet(v)}`);
  }
  return v;
}

function optionalNumber(c: Json, key: string, file: string): number | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${file}: field "${key}" must be a number, got ${jsonSnippet(v)}`);
  return v;
}

function optionalString(c: Json, key: string, file: string): string | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`${file}: field "${key}" must be a string, got ${jsonSnippet(v)}`);
  return v;
}

function optionalBool(c: Json, key: string, file: string): boolean | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(`${file}: field "${key}" must be true or false, got ${jsonSnippet(v)}`);
  return v;
}
