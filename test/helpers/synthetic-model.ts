import fs from 'node:fs';
import path from 'node:path';
import { writeCheckpoint } from '../../src/formats/checkpoint.js';
import type { TensorSource } from '../../src/formats/safetensors.js';
import { fromF32, type DType } from '../../src/tensor/dtype.js';

/** A small XVERSE-shaped config.json object; override any field. */
export function tinyConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['XverseForCausalLM'],
    model_type: 'xverse',
    hidden_act: 'silu',
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-6,
    vocab_size: 300,
    pad_token_id: 1,
    bos_token_id: 2,
    eos_token_id: 3,
    tie_word_embeddings: false,
    ...overrides,
  };
}

/** Deterministic PRNG for test data (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random weights for `config` whose values are exact in f32, f16 and bf16 (k/512 with |k| < 128,
 * norms 1 + k/64 with |k| < 16: at most 8 significant bits), so the same model saved in any of the three dtypes loads bit-identically.
 */
export function syntheticTensors(config: Record<string, unknown>, seed = 1): Array<[string, number[], Float32Array]> {
  const D = config['hidden_size'] as number;
  const F = config['intermediate_size'] as number;
  const V = config['vocab_size'] as number;
  const H = config['num_attention_heads'] as number;
  const KV = (config['num_key_value_heads'] as number | undefined) ?? H;
  const hd = D / H;
  const rand = seededRandom(seed);
  const values = (n: number, norm = false) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = norm ? 1 + Math.round((rand() * 2 - 1) * 15) / 64 : Math.round((rand() * 2 - 1) * 127) / 512;
    return a;
  };
  const out: Array<[string, number[], Float32Array]> = [['model.embed_tokens.weight', [V, D], values(V * D)]];
  for (let l = 0; l < (config['num_hidden_layers'] as number); l++) {
    const p = `model.layers.${l}`;
    out.push(
      [`${p}.input_layernorm.weight`, [D], values(D, true)],
      [`${p}.self_attn.q_proj.weight`, [H * hd, D], values(H * hd * D)],
      [`${p}.self_attn.k_proj.weight`, [KV * hd, D], values(KV * hd * D)],
      [`${p}.self_attn.v_proj.weight`, [KV * hd, D], values(KV * hd * D)],
      [`${p}.self_attn.o_proj.weight`, [D, H * hd], values(D * H * hd)],
      [`${p}.post_attention_layernorm.weight`, [D], values(D, true)],
      [`${p}.mlp.gate_proj.weight`, [F, D], values(F * D)],
      [`${p}.mlp.up_proj.weight`, [F, D], values(F * D)],
      [`${p}.mlp.down_proj.weight`, [D, F], values(D * F)],
    );
  }
  out.push(['model.norm.weight', [D], values(D, true)]);
  if (!config['tie_word_embeddings']) out.push(['lm_head.weight', [V, D], values(V * D)]);
  return out;
}

/** Writes a model folder: config.json + safetensors weights in `dtype`, sharded past `maxShardBytes`. */
export function writeSyntheticModel(
  dir: string, config: Record<string, unknown>, options: { dtype?: DType; maxShardBytes?: number; seed?: number } = {},
): void {
  const dtype = options.dtype ?? 'f32';
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const sources: TensorSource[] = syntheticTensors(config, options.seed).map(([name, shape, data]) => ({
    name, dtype, shape, read: () => ({ dtype, shape, data: fromF32(dtype, data) }),
  }));
  writeCheckpoint(dir, sources, options.maxShardBytes === undefined ? {} : { maxShardBytes: options.maxShardBytes });
}
