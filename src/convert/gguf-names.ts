import { FormatError } from '../errors.js';

/**
 * Hugging Face Llama/XVERSE tensor names → llama.cpp's GGUF names (gguf-py's tensor_mapping for
 * these architectures). All of them keep the `.weight` suffix.
 */
const LAYER_NAMES: Readonly<Record<string, string>> = {
  'input_layernorm': 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'post_attention_layernorm': 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

const GLOBAL_NAMES: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

/** Buffers llama.cpp's converter drops: they are recomputed, not weights. */
const IGNORED_SUFFIXES = ['.rotary_emb.inv_freq', '.attention.masked_bias', '.attention.bias'];

/** The GGUF name of a checkpoint tensor, or null for buffers that are not exported. */
export function ggufTensorName(hfName: string, where: string): string | null {
  if (IGNORED_SUFFIXES.some((s) => hfName.endsWith(s))) return null;
  const global = GLOBAL_NAMES[hfName];
  if (global) return global;
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hfName);
  const mapped = m ? LAYER_NAMES[m[2]!] : undefined;
  if (!m || !mapped) throw new FormatError(`${where}: cannot map tensor "${hfName}" to a GGUF name (not a Llama/XVERSE weight)`);
  return `blk.${Number(m[1])}.${mapped}.weight`;
}

/**
 * Reorders the rows of a q or k projection from Hugging Face's layout (RoPE on rotate_half pairs
 * (i, i + d/2) of each head) into llama.cpp's (adjacent pairs (2i, 2i + 1), "Meta AI original
 * pth"): within each head of `headRows` rows, output row 2i + j is input row j·headRows/2 + i —
 * the converter's `reshape(n_head, 2, headRows/2, cols).swapaxes(1, 2)`. `bytes` holds whole
 * heads of rows of `rowBytes` each, in any element type (rows are moved, never decoded).
 */
export function permuteHeadRows(bytes: Uint8Array, rowBytes: number, headRows: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const half = headRows / 2;
  const heads = bytes.length / (rowBytes * headRows);
  for (let h = 0; h < heads; h++) {
    const base = h * headRows;
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (base + j * half + i) * rowBytes;
        out.set(bytes.subarray(src, src + rowBytes), (base + 2 * i + j) * rowBytes);
      }
    }
  }
  return out;
}
