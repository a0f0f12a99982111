import type { JsonObject } from '../formats/file-io.js';
import { gv, type GgufValue } from '../formats/gguf-metadata.js';
import type { ModelConfig } from '../model/config.js';

/**
 * The architecture metadata llama.cpp's converter writes, in its order:
 * - `xverse` (XverseModel.set_gguf_parameters): tensor_data_layout "Meta AI original pth",
 *   context_length, embedding_length, block_count, feed_forward_length, rope.dimension_count
 *   (hidden/heads), attention.head_count, head_count_kv, layer_norm_rms_epsilon, general.file_type,
 *   then rope.scaling.{type,factor} for linear RoPE scaling. It writes no rope.freq_base.
 * - `llama` (TextModel + LlamaModel.set_gguf_parameters): block_count, context_length,
 *   embedding_length, feed_forward_length, head_count, head_count_kv (only when config.json has
 *   num_key_value_heads), rope.freq_base (when it has rope_theta), layer_norm_rms_epsilon,
 *   key/value_length (when it has head_dim), general.file_type, vocab_size, rope.dimension_count,
 *   rope.scaling.{type,factor}.
 *
 * Deliberate addition: an XVERSE config with a rope_theta other than 10000 also gets
 * `xverse.rope.freq_base` (llama.cpp reads it for every architecture), since without it llama.cpp
 * would silently run such a model with base 10000.
 */
export function architectureMetadata(arch: 'xverse' | 'llama', raw: JsonObject, c: ModelConfig, fileType: number): Array<[string, GgufValue]> {
  const out: Array<[string, GgufValue]> = [];
  const put = (key: string, value: GgufValue) => out.push([`${arch}.${key}`, value]);
  const ctx = contextLength(raw, c);
  if (arch === 'xverse') {
    put('tensor_data_layout', gv.string('Meta AI original pth'));
    put('context_length', gv.u32(ctx));
    put('embedding_length', gv.u32(c.hiddenSize));
    put('block_count', gv.u32(c.numLayers));
    put('feed_forward_length', gv.u32(c.intermediateSize));
    put('rope.dimension_count', gv.u32(Math.floor(c.hiddenSize / c.numHeads)));
    put('attention.head_count', gv.u32(c.numHeads));
    put('attention.head_count_kv', gv.u32(c.numKvHeads));
    put('attention.layer_norm_rms_epsilon', gv.f32(c.rmsNormEps));
    out.push(['general.file_type', gv.u32(fileType)]);
    if (raw['rope_theta'] !== undefined && c.ropeTheta !== 10000) put('rope.freq_base', gv.f32(c.ropeTheta));
  } else {
    put('block_count', gv.u32(c.numLayers));
    put('context_length', gv.u32(ctx));
    put('embedding_length', gv.u32(c.hiddenSize));
    put('feed_forward_length', gv.u32(c.intermediateSize));
    put('attention.head_count', gv.u32(c.numHeads));
    if (raw['num_key_value_heads'] !== undefined && raw['num_key_value_heads'] !== null) put('attention.head_count_kv', gv.u32(c.numKvHeads));
    if (raw['rope_theta'] !== undefined && raw['rope_theta'] !== null) put('rope.freq_base', gv.f32(c.ropeTheta));
    put('attention.layer_norm_rms_epsilon', gv.f32(c.rmsNormEps));
    if (raw['head_dim'] !== undefined && raw['head_dim'] !== null) {
      put('attention.key_length', gv.u32(c.headDim));
      put('attention.value_length', gv.u32(c.headDim));
    }
    out.push(['general.file_type', gv.u32(fileType)]);
    put('vocab_size', gv.u32(c.vocabSize));
    put('rope.dimension_count', gv.u32(c.headDim));
  }
  if (c.ropeScaling?.type === 'linear') {
    put('rope.scaling.type', gv.string('linear'));
    put('rope.scaling.factor', gv.f32(c.ropeScaling.factor));
  }
  return out;
}

/** XverseModel's rule: max_sequence_length, else max_position_embeddings, else model_max_length. */
function contextLength(raw: JsonObject, c: ModelConfig): number {
  for (const key of ['max_sequence_length', 'max_position_embeddings', 'model_max_length']) {
    const v = raw[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  return c.maxPositionEmbeddings;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * gguf-py's `general.size_label` for a dense model: the parameter count scaled to K/M/B/T with at
 * least two significant digits ("533K", "7.2B", "14B").
 */
export function sizeLabel(params: number): string {
  const [scaled, suffix] = params > 1e12 ? [params * 1e-12, 'T'] : params > 1e9 ? [params * 1e-9, 'B'] : params > 1e6 ? [params * 1e-6, 'M'] : [params * 1e-3, 'K'];
  const digits = String(roundHalfEven(scaled)).replace(/^0+/, '').length;
  return `${scaled.toFixed(Math.max(2 - digits, 0))}${suffix}`;
}
