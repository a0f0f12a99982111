import { FormatError } from '../errors.js';

/**
 * Hugging Face Llama/XVERSE tensor names ↔ llama.cpp's GGUF names (gguf-py's tensor_mapping for the
 * `llama` and `xverse` architectures), and the q/k row permutation llama.cpp's converter applies.
 * Both the exporter (src/convert) and the GGUF weight source (gguf-weights.ts) use these facts.
 */

/** Architectures (`general.architecture`) whose GGUF files xverse-ts reads: both run the Llama graph. */
export const GGUF_ARCHITECTURES = ['xverse', 'llama'] as const;
export type GgufArchitecture = (typeof GGUF_ARCHITECTURES)[number];

export function isGgufArchitecture(name: string): name is GgufArchitecture {
  return (GGUF_ARCHITECTURES as readonly string[]).includes(name);
}

/** Per-layer names: HF suffix after `model.layers.N.` (without `.weight`) → GGUF name after `blk.N.`. */
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

const LAYER_NAMES_BACK: ReadonlyMap<string, string> = new Map(Object.entries(LAYER_NAMES).map(([hf, g]) => [g, hf]));
const GLOBAL_NAMES_BACK: ReadonlyMap<string, string> = new Map(Object.entries(GLOBAL_NAMES).map(([hf, g]) => [g, hf]));

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

/** The Hugging Face name of a GGUF tensor, or null when it is not one of the Llama graph's weights. */
export function hfTensorName(ggufName: string): string | null {
  const global = GLOBAL_NAMES_BACK.get(ggufName);
  if (global) return global;
  const m = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(ggufName);
  const mapped = m ? LAYER_NAMES_BACK.get(m[2]!) : undefined;
  return m && mapped ? `model.layers.${Number(m[1])}.${mapped}.weight` : null;
}

/**
 * Which attention projection's rows llama.cpp permuted: q is permuted per attention head, k per
 * key/value head (its converter's `permute(k, n_head, n_kv_head)` for GQA models).
 */
export function permutedProjection(ggufName: string): 'q' | 'k' | null {
  if (/^blk\.\d+\.attn_q\.weight$/.test(ggufName)) return 'q';
  if (/^blk\.\d+\.attn_k\.weight$/.test(ggufName)) return 'k';
  return null;
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
  const heads = bytes.length / (rowBytes * headRows);
  for (let r = 0; r < heads * headRows; r++) {
    const src = hfRowOfGgufRow(r, headRows) * rowBytes;
    out.set(bytes.subarray(src, src + rowBytes), r * rowBytes);
  }
  return out;
}

/**
 * The inverse of permuteHeadRows, for one row: the GGUF (permuted) row that holds Hugging Face row
 * `hfRow`. Within a head, HF row j·headRows/2 + i sits at GGUF row 2i + j.
 */
export function ggufRowOfHfRow(hfRow: number, headRows: number): number {
  const half = headRows / 2;
  const head = Math.floor(hfRow / headRows);
  const k = hfRow - head * headRows;
  const j = k >= half ? 1 : 0;
  return head * headRows + 2 * (k - j * half) + j;
}

/** permuteHeadRows for one row: the HF row that GGUF row `ggufRow` came from. */
export function hfRowOfGgufRow(ggufRow: number, headRows: number): number {
  const half = headRows / 2;
  const head = Math.floor(ggufRow / headRows);
  const k = ggufRow - head * headRows;
  return head * headRows + (k % 2) * half + (k >> 1);
}

/** Undoes permuteHeadRows on whole heads of rows: Hugging Face row order again. */
export function unpermuteHeadRows(bytes: Uint8Array, rowBytes: number, headRows: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const heads = bytes.length / (rowBytes * headRows);
  for (let r = 0; r < heads * headRows; r++) {
    const src = ggufRowOfHfRow(r, headRows) * rowBytes;
    out.set(bytes.subarray(src, src + rowBytes), r * rowBytes);
  }
  return out;
}
