import type { QuantType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** Element type of the KV cache: f32 (exact), f16 (the default of fast backends) or q8_0 blocks. */
export type KVCacheType = 'f32' | 'f16' | 'q8_0';

/** What `xverse info` prints about a backend. */
export interface BackendInfo {
  readonly name: string;
  /** Instruction set the kernels use (e.g. avx512-vnni, avx2, neon, scalar; `js` for TypeScript). */
  readonly isa: string;
  readonly threads: number;
  /** Build and CPU features (compiler, SIMD extensions found at run time, …). */
  readonly features: readonly string[];
}

/**
 * The compute interface the model is written against. Every kernel has a plain TypeScript
 * reference implementation (src/backend/ts); faster backends implement the same interface and are
 * tested kernel by kernel against that reference.
 *
 * Activations are always f32, row-major. Weights are uploaded once and referred to by handle, so a
 * backend may keep them in whatever layout or precision its kernels want.
 */
export interface Backend {
  readonly name: string;
  /** The KV cache type used when a model does not ask for one. */
  readonly defaultKVCacheType: KVCacheType;

  info(): BackendInfo;

  /**
   * Takes a 2-D weight [rows = out features, cols = in features] (PyTorch Linear layout) in any
   * tensor type: f32, f16, bf16, or block-quantized q8_0 / q4_0. Matmuls with block-quantized
   * weights quantize the activations to q8_0 blocks on the fly and use integer dot products (as
   * llama.cpp does), so reference and fast backends compute the same thing.
   */
  uploadMatrix(weight: Tensor): Matrix;

  /**
   * The weight a matrix holds, in the type it is stored in (the inverse of uploadMatrix), for
   * saving a model and for re-quantizing it in memory. May share memory with the matrix.
   */
  readMatrix(m: Matrix): Tensor;

  /**
   * Quantizes a float weight (rows along the last axis) to GGUF-compatible blocks, into `into` when
   * given (it must hold exactly the blocks' bytes), else into new memory from allocateWeights.
   */
  quantize(weight: Tensor, type: QuantType, into?: Uint8Array): Tensor;

  /**
   * Memory for `bytes` bytes of weights this backend will hold (e.g. aligned, on huge pages). Loaders
   * read or quantize straight into it.
   */
  allocateWeights(bytes: number): Uint8Array;

  /** Takes a 1-D vector (norm weights) and returns it widened to f32. */
  uploadVector(weight: Tensor): Float32Array;

  /** out[n, w.rows] = x[n, w.cols] · Wᵀ. */
  matmul(out: Float32Array, x: Float32Array, w: Matrix, n: number): void;

  /** out[i, :] = table[ids[i], :] widened to f32. */
  embed(out: Float32Array, table: Matrix, ids: ArrayLike<number>): void;

  /** out[i, :] = x[i, :] / sqrt(mean(x[i, :]²) + eps) · weight, for n rows of `dim`. */
  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, dim: number, eps: number): void;

  /**
   * Rotary embedding in the HF "rotate_half" layout, in place: for each of n rows (positions
   * startPos … startPos+n−1) and each head, pairs (j, j + headDim/2) rotate by pos·invFreq[j].
   */
  rope(x: Float32Array, n: number, nHeads: number, headDim: number, startPos: number, invFreq: Float32Array): void;

  /** x = silu(x) · y elementwise over `len` values (SwiGLU's gate). */
  siluMul(x: Float32Array, y: Float32Array, len: number): void;

  /** x += y elementwise over `len` values (residual connections). */
  add(x: Float32Array, y: Float32Array, len: number): void;

  /** Storage for one layer's keys and values, `capacity` positions of `kvDim` values each. */
  createKVStore(capacity: number, kvDim: number, type?: KVCacheType): KVStore;

  /**
   * Causal attention of n new query rows (positions startPos … startPos+n−1) over the first
   * startPos+n cached positions: out[i, h] = softmax(q[i, h] · K[0..startPos+i, g]ᵀ · scale) · V,
   * where KV head g = floor(h / (nHeads / nKvHeads)) (grouped-query attention).
   */
  attention(
    out: Float32Array, q: Float32Array, store: KVStore, n: number, startPos: number,
    nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void;

  /**
   * Measures memory read bandwidth in GB/s: `threads` threads streaming a buffer of `bytes` bytes
   * (the benchmark's yardstick for decode). Only backends with native code implement it.
   */
  readBandwidth?(bytes: number, threads: number): number;
}

/** A weight matrix owned by a backend. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** Bytes the backend holds for it (for memory reports). */
  readonly bytes: number;
}

/** Keys and values of one layer, written position by position. */
export interface KVStore {
  readonly capacity: number;
  readonly kvDim: number;
  readonly type: KVCacheType;
  /** Copies n rows of k and v (each n × kvDim) to positions pos … pos+n−1. */
  write(pos: number, k: Float32Array, v: Float32Array, n: number): void;
  /** Returns a store with room for `capacity` positions holding the first `keep` positions of this one. */
  grow(capacity: number, keep: number): KVStore;
  readonly bytes: number;
}
