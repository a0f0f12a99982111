/**
 * Synthetic XVERSE checkpoints of the real shapes, for benchmarks: random bf16 weights written as
 * sharded safetensors (like a converted HF checkpoint), a config.json and a tokenizer.json of the
 * full vocabulary size, so both engines (ours and llama.cpp, via a GGUF export) load the same weights.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeCheckpoint } from '../src/formats/checkpoint.js';
import type { TensorSource } from '../src/formats/safetensors.js';

/** XVERSE-13B(-2) dimensions (spec §0/§1.1), with a configurable layer count. */
export function xverse13bConfig(layers: number): Record<string, unknown> {
  return {
    architectures: ['XverseForCausalLM'],
    model_type: 'xverse',
    hidden_act: 'silu',
    hidden_size: 5120,
    intermediate_size: 13824,
    num_attention_heads: 40,
    num_hidden_layers: layers,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-6,
    vocab_size: 100534,
    pad_token_id: 1,
    bos_token_id: 2,
    eos_token_id: 3,
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
  };
}

/** Random bf16 bits: magnitude 2^-8 … 2^-5 (about the spread of real projection weights), random sign. */
function randomPool(count: number, seed: number): Uint16Array {
  const out = new Uint16Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x & 0x8000) | ((119 + ((x >>> 16) & 3) % 3) << 7) | (x & 0x7f)) & 0xffff;
  }
  return out;
}

/** 2^24 random values (32 MB), generated once; tensors are cut from it at varying offsets. */
let pool: Uint16Array | null = null;

/**
 * Weights for one tensor: slices of the random pool starting at a tensor-dependent offset (the
 * values need not be independent — only realistic in magnitude — and copying is far faster than
 * generating 13 billion random numbers), or 1 ± small for norm vectors.
 */
function randomBf16(count: number, seed: number, norm: boolean): Uint16Array {
  const out = new Uint16Array(count);
  if (norm) {
    for (let i = 0; i < count; i++) out[i] = 0x3f80 | ((seed + i * 7) & 0x07);
    return out;
  }
  pool ??= randomPool(1 << 24, 0x9e3779b9);
  let at = 0;
  let from = (seed >>> 0) % (pool.length - 4096);
  while (at < count) {
    const n = Math.min(count - at, pool.length - from);
    out.set(pool.subarray(from, from + n), at);
    at += n;
    from = (from * 31 + 4099) % (pool.length - 4096);
  }
  return out;
}

/** Tensor specs in HF names for a config (what the checkpoint holds). */
function tensorSpecs(c: Record<string, unknown>): Array<[string, number[]]> {
  const D = c['hidden_size'] as number, F = c['intermediate_size'] as number, V = c['vocab_size'] as number;
  const specs: Array<[string, number[]]> = [['model.embed_tokens.weight', [V, D]]];
  for (let l = 0; l < (c['num_hidden_layers'] as number); l++) {
    const p = `model.layers.${l}`;
    specs.push(
      [`${p}.input_layernorm.weight`, [D]],
      [`${p}.self_attn.q_proj.weight`, [D, D]],
      [`${p}.self_attn.k_proj.weight`, [D, D]],
      [`${p}.self_attn.v_proj.weight`, [D, D]],
      [`${p}.self_attn.o_proj.weight`, [D, D]],
      [`${p}.post_attention_layernorm.weight`, [D]],
      [`${p}.mlp.gate_proj.weight`, [F, D]],
      [`${p}.mlp.up_proj.weight`, [F, D]],
      [`${p}.mlp.down_proj.weight`, [D, F]],
    );
  }
  specs.push(['model.norm.weight', [D]], ['lm_head.weight', [V, D]]);
  return specs;
}

/**
 * A tokenizer.json with `vocabSize` entries in XVERSE's layout (specials 0–3, byte tokens 4–259,
 * then filler pieces). Benchmarks feed token ids directly; the file exists so both engines accept
 * the model (llama.cpp needs a full vocabulary in the GGUF).
 */
export function syntheticTokenizer(vocabSize: number): Record<string, unknown> {
  const vocab: Record<string, number> = { '<unk>': 0, '<pad>': 1, '<|startoftext|>': 2, '<|endoftext|>': 3 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 4 + b;
  vocab['▁'] = 260;
  for (let id = 261; id < vocabSize; id++) vocab[`▁t${id}`] = id;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<pad>'), special(2, '<|startoftext|>'), special(3, '<|endoftext|>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Sequence', decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: [] },
  };
}

/**
 * Writes the synthetic model folder (skipped when `dir` already holds one for the same config).
 * Returns the bytes of weights written.
 */
export function writeSyntheticXverse(dir: string, layers: number, options: { shardBytes?: number; log?: (s: string) => void } = {}): void {
  const config = xverse13bConfig(layers);
  const stamp = path.join(dir, 'config.json');
  if (fs.existsSync(stamp) && JSON.stringify(JSON.parse(fs.readFileSync(stamp, 'utf8'))) === JSON.stringify(config)) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const specs = tensorSpecs(config);
  let i = 0;
  const sources: TensorSource[] = specs.map(([name, shape], index) => ({
    name, dtype: 'bf16', shape,
    read: () => {
      options.log?.(`  writing ${name} (${++i}/${specs.length})`);
      return { dtype: 'bf16', shape, data: randomBf16(shape.reduce((a, b) => a * b, 1), 0x9e3779b9 ^ (index * 2654435761), shape.length === 1) };
    },
  }));
  writeCheckpoint(dir, sources, { maxShardBytes: options.shardBytes ?? 2 * 1024 ** 3 });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(syntheticTokenizer(config['vocab_size'] as number)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    add_bos_token: false, add_eos_token: false, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<pad>', unk_token: '<unk>',
    tokenizer_class: 'PreTrainedTokenizerFast',
  }));
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 2, eos_token_id: 3, pad_token_id: 1 }));
  // config.json last: its presence marks a complete folder.
  fs.writeFileSync(stamp, JSON.stringify(config, null, 2));
}
