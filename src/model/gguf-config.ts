import { FormatError } from '../errors.js';
import type { GgufFile } from '../formats/gguf.js';
import type { ModelConfig, RopeScaling } from './config.js';
import { ggufArchitecture } from './gguf-weights.js';

/**
 * The ModelConfig of a GGUF file, from the metadata llama.cpp's converters write (the keys
 * llama.cpp's loader reads for the `xverse` and `llama` architectures). Every value is checked;
 * errors name the file and the key. The tensors are checked against it by checkGgufTensors.
 */
export function ggufModelConfig(gguf: GgufFile): ModelConfig {
  const arch = ggufArchitecture(gguf);
  const meta = gguf.metadata;
  const fail = (what: string) => new FormatError(`${gguf.path}: ${what}`);
  const key = (k: string) => `${arch}.${k}`;
  const int = (k: string, min = 1): number | undefined => {
    const v = meta.integer(k);
    if (v !== undefined && (v < min || v > 2 ** 31)) throw fail(`metadata "${k}" must be an integer from ${min} to 2^31, got ${v}`);
    return v;
  };
  const required = (k: string): number => {
    const v = int(k);
    if (v === undefined) throw fail(`metadata "${k}" is missing`);
    return v;
  };

  const hiddenSize = required(key('embedding_length'));
  const numHeads = required(key('attention.head_count'));
  const numKvHeads = int(key('attention.head_count_kv')) ?? numHeads;
  if (numHeads % numKvHeads !== 0) {
    throw fail(`${key('attention.head_count')} ${numHeads} is not a multiple of ${key('attention.head_count_kv')} ${numKvHeads}`);
  }
  const keyLength = int(key('attention.key_length'));
  const valueLength = int(key('attention.value_length'));
  if (keyLength !== undefined && valueLength !== undefined && keyLength !== valueLength) {
    throw fail(`${key('attention.key_length')} ${keyLength} differs from ${key('attention.value_length')} ${valueLength}, which is not supported`);
  }
  const headDim = keyLength ?? valueLength ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) throw fail(`${key('embedding_length')} ${hiddenSize} is not divisible by ${key('attention.head_count')} ${numHeads}`);
  if (headDim % 2 !== 0) throw fail(`head dimension ${headDim} must be even for RoPE`);
  const ropeDims = int(key('rope.dimension_count'));
  if (ropeDims !== undefined && ropeDims !== headDim) {
    throw fail(`${key('rope.dimension_count')} ${ropeDims} differs from the head dimension ${headDim} (partial RoPE is not supported)`);
  }
  if (gguf.tensors.has('rope_freqs.weight')) throw fail('tensor "rope_freqs.weight" (per-dimension RoPE frequency factors, Llama 3.1 style) is not supported');

  const eps = meta.number(key('attention.layer_norm_rms_epsilon'));
  if (eps === undefined) throw fail(`metadata "${key('attention.layer_norm_rms_epsilon')}" is missing`);
  if (!(eps > 0 && eps < 1)) throw fail(`metadata "${key('attention.layer_norm_rms_epsilon')}" must be in (0, 1), got ${eps}`);
  // llama.cpp's default when a file has no rope.freq_base (the xverse converter never writes one).
  const ropeTheta = meta.number(key('rope.freq_base')) ?? 10000;
  if (!(ropeTheta > 1 && Number.isFinite(ropeTheta))) throw fail(`metadata "${key('rope.freq_base')}" must be a finite number > 1, got ${ropeTheta}`);

  const tokens = meta.strings('tokenizer.ggml.tokens');
  const vocabSize = tokens?.length ?? int(key('vocab_size'));
  if (vocabSize === undefined || vocabSize === 0) throw fail(`no vocabulary size: metadata "tokenizer.ggml.tokens" and "${key('vocab_size')}" are missing or empty`);
  const tokenId = (k: string): number | null => {
    const id = int(k, 0);
    if (id !== undefined && id >= vocabSize) throw fail(`metadata "${k}" = ${id} is outside the vocabulary of ${vocabSize} tokens`);
    return id ?? null;
  };
  const eos = tokenId('tokenizer.ggml.eos_token_id');
  const eot = tokenId('tokenizer.ggml.eot_token_id');

  return {
    modelType: arch,
    vocabSize,
    hiddenSize,
    intermediateSize: required(key('feed_forward_length')),
    numLayers: required(key('block_count')),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: required(key('context_length')),
    rmsNormEps: eps,
    ropeTheta,
    ropeScaling: ropeScaling(gguf, arch),
    // llama.cpp uses token_embd as the output matrix when output.weight is absent.
    tieWordEmbeddings: !gguf.tensors.has('output.weight'),
    bosTokenId: tokenId('tokenizer.ggml.bos_token_id'),
    // End-of-turn ends generation in llama.cpp too.
    eosTokenIds: [...new Set([eos, eot].filter((id): id is number => id !== null))],
    padTokenId: tokenId('tokenizer.ggml.padding_token_id'),
    maxTokenizerTruncation: null,
    chatFormat: null,
  };
}

/**
 * `{arch}.rope.scaling.type` (`none`, `linear`; llama.cpp's default is linear) with
 * `rope.scaling.factor`, or the older `rope.scale_linear`. A factor of 0 or 1 means no scaling.
 */
function ropeScaling(gguf: GgufFile, arch: string): RopeScaling | null {
  const typeKey = `${arch}.rope.scaling.type`;
  const type = gguf.metadata.string(typeKey) ?? 'linear';
  if (type === 'none') return null;
  if (type !== 'linear') throw new FormatError(`${gguf.path}: ${typeKey} "${type}" is not supported (expected "none" or "linear")`);
  const factorKey = gguf.metadata.has(`${arch}.rope.scaling.factor`) ? `${arch}.rope.scaling.factor` : `${arch}.rope.scale_linear`;
  const factor = gguf.metadata.number(factorKey) ?? 0;
  if (factor === 0 || factor === 1) return null;
  if (!(factor > 1 && Number.isFinite(factor))) throw new FormatError(`${gguf.path}: metadata "${factorKey}" must be ≥ 1, got ${factor}`);
  return { type: 'linear', factor };
}

/**
 * Checks that every tensor the Llama graph needs is in the file with the shape the metadata
 * implies, naming the GGUF tensor and the keys in errors (the generic loader would name the
 * Hugging Face tensor and config.json).
 */
/** Tensors of one transformer block: two norms, four attention and three MLP projections. */
const LAYER_TENSORS = 9;

export function checkGgufTensors(gguf: GgufFile, c: ModelConfig): void {
  const arch = c.modelType;
  const D = `${arch}.embedding_length`;
  const F = `${arch}.feed_forward_length`;
  const V = 'the vocabulary size (tokenizer.ggml.tokens)';
  const Q = `${arch}.attention.head_count × head dimension`;
  const KV = `${arch}.attention.head_count_kv × head dimension`;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  // Each layer has 9 tensors: a block_count the file cannot hold fails here, before a list of
  // billions of expected names is built.
  if (c.numLayers * LAYER_TENSORS > gguf.tensors.size) {
    throw new FormatError(`${gguf.path}: ${arch}.block_count ${c.numLayers} needs ${c.numLayers * LAYER_TENSORS} layer tensors, the file holds ${gguf.tensors.size} tensors in all`);
  }
  // [name, expected row-major shape, which keys give it]
  const expected: Array<[string, number[], string]> = [['token_embd.weight', [c.vocabSize, c.hiddenSize], `${V}, ${D}`]];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `blk.${l}`;
    expected.push(
      [`${p}.attn_norm.weight`, [c.hiddenSize], D],
      [`${p}.attn_q.weight`, [q, c.hiddenSize], `${Q}, ${D}`],
      [`${p}.attn_k.weight`, [kv, c.hiddenSize], `${KV}, ${D}`],
      [`${p}.attn_v.weight`, [kv, c.hiddenSize], `${KV}, ${D}`],
      [`${p}.attn_output.weight`, [c.hiddenSize, q], `${D}, ${Q}`],
      [`${p}.ffn_norm.weight`, [c.hiddenSize], D],
      [`${p}.ffn_gate.weight`, [c.intermediateSize, c.hiddenSize], `${F}, ${D}`],
      [`${p}.ffn_up.weight`, [c.intermediateSize, c.hiddenSize], `${F}, ${D}`],
      [`${p}.ffn_down.weight`, [c.hiddenSize, c.intermediateSize], `${D}, ${F}`],
    );
  }
  expected.push(['output_norm.weight', [c.hiddenSize], D]);
  if (!c.tieWordEmbeddings) expected.push(['output.weight', [c.vocabSize, c.hiddenSize], `${V}, ${D}`]);
  for (const [name, shape, keys] of expected) {
    const info = gguf.tensors.get(name);
    if (!info) {
      const why = name.startsWith('blk.') ? ` (${arch}.block_count is ${c.numLayers})` : '';
      throw new FormatError(`${gguf.path}: missing tensor "${name}"${why}`);
    }
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError(`${gguf.path}: tensor "${name}" has GGUF dims [${info.dims.join(', ')}], the metadata (${keys}) implies [${[...shape].reverse().join(', ')}]`);
    }
  }
}
