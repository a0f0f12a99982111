import type { ModelConfig } from '../model/config.js';
import type { TensorType } from '../tensor/dtype.js';

const TORCH_DTYPE: Partial<Record<TensorType, string>> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/**
 * A Hugging Face config.json for a model known only by its ModelConfig (e.g. loaded from GGUF
 * metadata): the keys transformers' LlamaConfig / XVERSE's config read, which parseModelConfig
 * reads back to the same ModelConfig.
 */
export function hfConfigJson(c: ModelConfig, floatType: TensorType = 'f32'): Record<string, unknown> {
  const xverse = c.modelType === 'xverse';
  return {
    architectures: [xverse ? 'XverseForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    ...(c.headDim !== c.hiddenSize / c.numHeads ? { head_dim: c.headDim } : {}),
    hidden_act: 'silu',
    max_position_embeddings: c.maxPositionEmbeddings,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: c.ropeScaling ? { type: c.ropeScaling.type, factor: c.ropeScaling.factor } : null,
    tie_word_embeddings: c.tieWordEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : [...c.eosTokenIds],
    pad_token_id: c.padTokenId,
    ...(c.maxTokenizerTruncation !== null ? { max_tokenizer_truncation: c.maxTokenizerTruncation } : {}),
    ...(c.chatFormat !== null ? { chat_format: c.chatFormat } : {}),
    torch_dtype: TORCH_DTYPE[floatType] ?? 'float32',
  };
}
