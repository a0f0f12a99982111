import type { Backend, Matrix } from '../backend/backend.js';
import os from 'node:os';
import { FormatError, ResourceError } from '../errors.js';
import type { WeightSource } from '../formats/checkpoint.js';
import { isQuantType, type DType, type QuantType, type TensorType } from '../tensor/dtype.js';
import { quantRowBytes } from '../tensor/quant-format.js';
import { convertTensor } from '../tensor/convert.js';
import { byteSize, formatShape, shapeEquals, type Tensor } from '../tensor/tensor.js';
import { EMBEDDING, LM_HEAD, storageTypeFor, type QuantizeMode } from './quant-policy.js';
import type { ModelConfig } from './config.js';

export interface LayerWeights {
  readonly inputNorm: Float32Array;
  readonly q: Matrix;
  readonly k: Matrix;
  readonly v: Matrix;
  readonly o: Matrix;
  readonly postAttentionNorm: Float32Array;
  readonly gate: Matrix;
  readonly up: Matrix;
  readonly down: Matrix;
}

export interface ModelWeights {
  readonly embed: Matrix;
  readonly layers: readonly LayerWeights[];
  readonly norm: Float32Array;
  readonly lmHead: Matrix;
}

export interface LoadWeightsOptions {
  /** Storage dtype for matrices: 'auto' keeps what the file holds. Norms are always f32. */
  dtype?: DType | 'auto';
  /**
   * Quantize the matrices while loading (see quantTypeFor for which tensor gets which type). Each
   * tensor is read and quantized a few MB at a time, so memory stays near the quantized size.
   */
  quantize?: QuantizeMode;
  /** Called after each tensor with (tensors done, tensors in all, name). */
  onProgress?: (done: number, total: number, name: string) => void;
  /** Called once with the names of tensors in the checkpoint that the model does not use. */
  onUnusedTensors?: (names: string[]) => void;
  /** Refuse to start when the weights need more than this many bytes (default: the machine's RAM). */
  maxBytes?: number;
}

/** Buffers that checkpoints may carry but that are recomputed here (HF, vLLM and llama.cpp skip them too). */
export const IGNORED_BUFFERS = /\.rotary_emb\.(inv_freq|cos_cached|sin_cached)$/;

/**
 * Loads every tensor the XVERSE/Llama graph needs, one at a time (read → convert → upload → drop),
 * checking names and shapes against the config. Errors name the tensor and the file.
 */
export function loadWeights(source: WeightSource, config: ModelConfig, backend: Backend, options: LoadWeightsOptions = {}): ModelWeights {
  const { hiddenSize: D, intermediateSize: F, vocabSize: V, numHeads, numKvHeads, headDim } = config;
  const qDim = numHeads * headDim;
  const kvDim = numKvHeads * headDim;
  // Tied heads reuse the embedding even if the file also stores lm_head.weight (as HF does).
  const tieHead = config.tieWordEmbeddings;
  const expected: Array<[string, number[]]> = [['model.embed_tokens.weight', [V, D]]];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    expected.push(
      [`${p}.input_layernorm.weight`, [D]],
      [`${p}.self_attn.q_proj.weight`, [qDim, D]],
      [`${p}.self_attn.k_proj.weight`, [kvDim, D]],
      [`${p}.self_attn.v_proj.weight`, [kvDim, D]],
      [`${p}.self_attn.o_proj.weight`, [D, qDim]],
      [`${p}.post_attention_layernorm.weight`, [D]],
      [`${p}.mlp.gate_proj.weight`, [F, D]],
      [`${p}.mlp.up_proj.weight`, [F, D]],
      [`${p}.mlp.down_proj.weight`, [D, F]],
    );
    // A layer count the checkpoint cannot hold (say 2^31 from a corrupt config) stops at the first
    // layer it lacks instead of listing billions of names.
    if (!source.entry(`${p}.input_layernorm.weight`)) break;
  }
  expected.push(['model.norm.weight', [D]]);
  if (!tieHead) expected.push(['lm_head.weight', [V, D]]);

  // Check presence and shapes of everything before reading any data, so a bad checkpoint fails fast.
  for (const [name, shape] of expected) {
    const entry = source.entry(name);
    if (!entry) {
      const hint = name === 'lm_head.weight' ? ' (set "tie_word_embeddings": true in config.json if the head shares the embedding)' : '';
      throw new FormatError(`${source.description}: missing tensor "${name}"${hint}`);
    }
    if (!shapeEquals(entry.shape, shape)) {
      throw new FormatError(`${entry.file}: tensor "${name}" has shape ${formatShape(entry.shape)}, the config implies ${formatShape(shape)}`);
    }
  }
  const wanted = new Set(expected.map(([n]) => n));
  const unused = source.names().filter((n) => !wanted.has(n) && !IGNORED_BUFFERS.test(n) && !(tieHead && n === 'lm_head.weight'));
  if (unused.length > 0) options.onUnusedTensors?.(unused);

  const typeOf = (name: string, shape: readonly number[]) =>
    storageTypeFor(name, shape, fileType(source, name), { ...options, tiedHead: tieHead });

  // A model larger than RAM would only fail after minutes of reading, or take the machine down.
  const needed = expected.reduce((sum, [name, shape]) => sum + byteSize(typeOf(name, shape), shape), 0);
  const limit = options.maxBytes ?? os.totalmem();
  if (needed > limit) {
    throw new ResourceError(`${source.description}: the weights need ${formatBytes(needed)} in memory, more than the ${formatBytes(limit)} available; load with a smaller dtype (e.g. bfloat16), quantize on load (q8_0, q4_0) or use a machine with more memory`);
  }

  let done = 0;
  const staging = new StagingBuffer();
  const read = (name: string): Tensor => {
    const entry = source.entry(name)!;
    const target = typeOf(name, entry.shape);
    const stored = fileType(source, name);
    const t = isQuantType(target) && stored !== target
      ? readQuantized(source, name, entry.shape, target, backend, staging)
      : stored === target && entry.shape.length === 2
        // Kept as stored: read straight into the backend's weight memory, no second copy.
        ? source.readRows(name, 0, entry.shape[0]!, backend.allocateWeights(entry.byteLength))
        : convertTensor(source.read(name), target);
    options.onProgress?.(++done, expected.length, name);
    return t;
  };
  const matrix = (name: string) => backend.uploadMatrix(read(name));
  const vector = (name: string) => backend.uploadVector(read(name));

  const embed = matrix(EMBEDDING);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const layer: Record<string, Matrix | Float32Array> = {};
    for (const [key, suffix] of Object.entries(LAYER_VECTORS)) layer[key] = vector(`model.layers.${l}.${suffix}`);
    for (const [key, suffix] of Object.entries(LAYER_MATRICES)) layer[key] = matrix(`model.layers.${l}.${suffix}`);
    layers.push(layer as unknown as LayerWeights);
  }
  const norm = vector('model.norm.weight');
  const lmHead = tieHead ? embed : matrix(LM_HEAD);
  return { embed, layers, norm, lmHead };
}

type MatrixKey = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
type VectorKey = 'inputNorm' | 'postAttentionNorm';

/** Checkpoint names (after `model.layers.N.`) of each layer's matrices and norms (HF Llama/XVERSE). */
const LAYER_MATRICES: Readonly<Record<MatrixKey, string>> = {
  q: 'self_attn.q_proj.weight', k: 'self_attn.k_proj.weight', v: 'self_attn.v_proj.weight', o: 'self_attn.o_proj.weight',
  gate: 'mlp.gate_proj.weight', up: 'mlp.up_proj.weight', down: 'mlp.down_proj.weight',
};
const LAYER_VECTORS: Readonly<Record<VectorKey, string>> = {
  inputNorm: 'input_layernorm.weight', postAttentionNorm: 'post_attention_layernorm.weight',
};

/** Whether the output head is the embedding matrix itself (tie_word_embeddings). */
export function isTiedHead(w: ModelWeights): boolean {
  return w.lmHead === w.embed;
}

/**
 * Every weight with its checkpoint name, in checkpoint order: matrices and f32 norm vectors. A tied
 * head is listed once, as the embedding.
 */
export function namedWeights(w: ModelWeights): Array<[string, Matrix | Float32Array]> {
  const out: Array<[string, Matrix | Float32Array]> = [[EMBEDDING, w.embed]];
  w.layers.forEach((layer, l) => {
    for (const [key, suffix] of Object.entries(LAYER_VECTORS)) out.push([`model.layers.${l}.${suffix}`, layer[key as VectorKey]]);
    for (const [key, suffix] of Object.entries(LAYER_MATRICES)) out.push([`model.layers.${l}.${suffix}`, layer[key as MatrixKey]]);
  });
  out.push(['model.norm.weight', w.norm]);
  if (!isTiedHead(w)) out.push([LM_HEAD, w.lmHead]);
  return out;
}

/** The weights with every matrix replaced by fn(name, matrix), one at a time; a tied head follows the embedding. */
export function mapMatrices(w: ModelWeights, fn: (name: string, m: Matrix) => Matrix): ModelWeights {
  const embed = fn(EMBEDDING, w.embed);
  const layers = w.layers.map((layer, l) => {
    const next: Record<string, Matrix | Float32Array> = { ...layer };
    for (const [key, suffix] of Object.entries(LAYER_MATRICES)) next[key] = fn(`model.layers.${l}.${suffix}`, layer[key as MatrixKey]);
    return next as unknown as LayerWeights;
  });
  return { embed, layers, norm: w.norm, lmHead: isTiedHead(w) ? embed : fn(LM_HEAD, w.lmHead) };
}

/** The tensor type a checkpoint entry holds (its safetensors spelling mapped to ours). */
export function fileType(source: WeightSource, name: string): TensorType {
  const dtype = source.entry(name)!.dtype;
  return FILE_TYPES[dtype] ?? 'f32';
}

const FILE_TYPES: Readonly<Record<string, TensorType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16', Q8_0: 'q8_0', Q4_0: 'q4_0' };

/** Bytes read per step when quantizing on load: large enough for fast reads, small next to the model. */
const QUANTIZE_CHUNK_BYTES = 16 << 20;

/** One reusable read buffer, so streaming a 27 GB checkpoint does not churn through big allocations. */
export class StagingBuffer {
  private buf = new Uint8Array(0);
  get(bytes: number): Uint8Array {
    if (this.buf.length < bytes) this.buf = new Uint8Array(bytes);
    return this.buf;
  }
}

/**
 * Reads a float matrix a chunk of rows at a time and quantizes each chunk with the backend (native
 * SIMD when available), so only the quantized result and one chunk are ever in memory.
 */
export function readQuantized(
  source: WeightSource, name: string, shape: readonly number[], type: QuantType, backend: Backend, staging: StagingBuffer,
): Tensor {
  const [rows, cols] = shape as [number, number];
  const entry = source.entry(name)!;
  const srcRowBytes = entry.byteLength / rows;
  const dstRowBytes = quantRowBytes(type, cols);
  const out = backend.allocateWeights(rows * dstRowBytes);
  const chunkRows = Math.max(1, Math.floor(QUANTIZE_CHUNK_BYTES / srcRowBytes));
  for (let first = 0; first < rows; first += chunkRows) {
    const count = Math.min(chunkRows, rows - first);
    const chunk = source.readRows(name, first, count, staging.get(count * srcRowBytes));
    const floats = isQuantType(chunk.dtype) ? convertTensor(chunk, 'f32') : chunk;
    backend.quantize(floats, type, out.subarray(first * dstRowBytes, (first + count) * dstRowBytes));
  }
  return { dtype: type, shape, data: out };
}

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(3)} MB`;
}
