import fs from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { RandomAccessFile } from './file-io.js';
import { tensorSources, writeSafetensors } from './safetensors.js';

/**
 * llama2.c's legacy (v0) checkpoint: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; negative vocab_size = unshared classifier), then f32 arrays in a
 * fixed order. Read here into Hugging Face tensor names and layout so the one model implementation
 * runs it.
 */
export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

export interface Llama2cCheckpoint {
  header: Llama2cHeader;
  /** HF-named f32 tensors; q/k rows permuted from interleaved-pair RoPE to rotate_half order. */
  tensors: Map<string, Tensor>;
  /** The equivalent HF config.json object. */
  config: Record<string, unknown>;
}

const HEADER_BYTES = 28;
/** Larger values are not a tiny llama2.c model; refusing them bounds every allocation below. */
const MAX_DIM = 1 << 16;

export function readLlama2cCheckpoint(file: string): Llama2cCheckpoint {
  const f = new RandomAccessFile(file);
  try {
    if (f.size < HEADER_BYTES) throw new FormatError(`${file}: too short for a llama2.c checkpoint header (${f.size} bytes)`);
    const h = new DataView(f.read(0, HEADER_BYTES).buffer);
    const field = (i: number) => h.getInt32(i * 4, true);
    const rawVocab = field(5);
    const header: Llama2cHeader = {
      dim: field(0), hiddenDim: field(1), nLayers: field(2), nHeads: field(3), nKvHeads: field(4),
      vocabSize: Math.abs(rawVocab), seqLen: field(6), sharedClassifier: rawVocab > 0,
    };
    for (const [key, value] of Object.entries(header)) {
      if (typeof value === 'number' && !(value >= 1 && value <= MAX_DIM * 4)) {
        throw new FormatError(`${file}: llama2.c header field ${key} = ${value} is out of range`);
      }
    }
    const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = header;
    if (dim % nHeads !== 0 || nHeads % nKvHeads !== 0 || (dim / nHeads) % 2 !== 0) {
      throw new FormatError(`${file}: inconsistent llama2.c header (dim ${dim}, n_heads ${nHeads}, n_kv_heads ${nKvHeads})`);
    }
    const headDim = dim / nHeads;
    const kvDim = nKvHeads * headDim;
    const layout: Array<[string, number[]]> = [
      ['tok_embeddings', [vocabSize, dim]],
      ['rms_att', [nLayers, dim]],
      ['wq', [nLayers, dim, dim]],
      ['wk', [nLayers, kvDim, dim]],
      ['wv', [nLayers, kvDim, dim]],
      ['wo', [nLayers, dim, dim]],
      ['rms_ffn', [nLayers, dim]],
      ['w1', [nLayers, hiddenDim, dim]],
      ['w2', [nLayers, dim, hiddenDim]],
      ['w3', [nLayers, hiddenDim, dim]],
      ['rms_final', [dim]],
      ['freq_cis', [seqLen, headDim]], // legacy real+imag tables: skipped, RoPE is recomputed
    ];
    if (!header.sharedClassifier) layout.push(['wcls', [vocabSize, dim]]);
    const expectedBytes = HEADER_BYTES + 4 * layout.reduce((sum, [, s]) => sum + s.reduce((a, b) => a * b, 1), 0);
    if (f.size < expectedBytes) {
      throw new FormatError(`${file}: llama2.c checkpoint is truncated: the header implies ${expectedBytes} bytes, the file has ${f.size}`);
    }

    const arrays = new Map<string, Float32Array>();
    let offset = HEADER_BYTES;
    for (const [name, shape] of layout) {
      const count = shape.reduce((a, b) => a * b, 1);
      const bytes = f.read(offset, count * 4);
      arrays.set(name, new Float32Array(bytes.buffer, bytes.byteOffset, count));
      offset += count * 4;
    }

    const tensors = new Map<string, Tensor>();
    const put = (name: string, shape: number[], data: Float32Array) => tensors.set(name, { dtype: 'f32', shape, data });
    const slice = (name: string, layer: number, size: number) => arrays.get(name)!.slice(layer * size, (layer + 1) * size);
    put('model.embed_tokens.weight', [vocabSize, dim], arrays.get('tok_embeddings')!);
    for (let l = 0; l < nLayers; l++) {
      const p = `model.layers.${l}`;
      put(`${p}.input_layernorm.weight`, [dim], slice('rms_att', l, dim));
      put(`${p}.self_attn.q_proj.weight`, [dim, dim], interleavedToRotateHalf(slice('wq', l, dim * dim), nHeads, headDim, dim));
      put(`${p}.self_attn.k_proj.weight`, [kvDim, dim], interleavedToRotateHalf(slice('wk', l, kvDim * dim), nKvHeads, headDim, dim));
      put(`${p}.self_attn.v_proj.weight`, [kvDim, dim], slice('wv', l, kvDim * dim));
      put(`${p}.self_attn.o_proj.weight`, [dim, dim], slice('wo', l, dim * dim));
      put(`${p}.post_attention_layernorm.weight`, [dim], slice('rms_ffn', l, dim));
      put(`${p}.mlp.gate_proj.weight`, [hiddenDim, dim], slice('w1', l, hiddenDim * dim));
      put(`${p}.mlp.down_proj.weight`, [dim, hiddenDim], slice('w2', l, dim * hiddenDim));
      put(`${p}.mlp.up_proj.weight`, [hiddenDim, dim], slice('w3', l, hiddenDim * dim));
    }
    put('model.norm.weight', [dim], arrays.get('rms_final')!);
    if (!header.sharedClassifier) put('lm_head.weight', [vocabSize, dim], arrays.get('wcls')!);

    const config = {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: dim,
      intermediate_size: hiddenDim,
      num_hidden_layers: nLayers,
      num_attention_heads: nHeads,
      num_key_value_heads: nKvHeads,
      vocab_size: vocabSize,
      max_position_embeddings: seqLen,
      rms_norm_eps: 1e-5, // run.c hard-codes 1e-5
      rope_theta: 10000.0,
      hidden_act: 'silu',
      tie_word_embeddings: header.sharedClassifier,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: 'float32',
    };
    return { header, tensors, config };
  } finally {
    f.close();
  }
}

/**
 * llama2.c rotates adjacent pairs (2i, 2i+1) of each head; HF's rotate_half pairs (i, i + d/2).
 * Reordering the rows of wq/wk per head (row 2i+t → row t·d/2 + i) makes the two identical.
 */
export function interleavedToRotateHalf(w: Float32Array, nHeads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let t = 0; t < 2; t++) {
        const src = (h * headDim + 2 * i + t) * cols;
        const dst = (h * headDim + t * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/**
 * Writes a llama2.c checkpoint as a Hugging Face model folder (config.json, model.safetensors in
 * name order) plus any extra JSON files given (e.g. generation_config.json).
 */
export function convertLlama2cCheckpoint(
  checkpoint: string, outDir: string, extraJson: Record<string, unknown> = {},
): Llama2cCheckpoint {
  const ckpt = readLlama2cCheckpoint(checkpoint);
  fs.mkdirSync(outDir, { recursive: true });
  const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
  fs.writeFileSync(path.join(outDir, 'config.json'), json(ckpt.config));
  for (const [name, value] of Object.entries(extraJson)) fs.writeFileSync(path.join(outDir, name), json(value));
  const sorted = [...ckpt.tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  writeSafetensors(path.join(outDir, 'model.safetensors'), tensorSources(sorted), {
    format: 'pt',
    source: `llama2.c checkpoint ${path.basename(checkpoint)}, converted by xverse-ts`,
  });
  return ckpt;
}
