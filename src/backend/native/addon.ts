/**
 * The JavaScript surface of the native addon (native/src/addon.cc). All arrays are used in place;
 * sizes are element counts unless named bytes. Every function checks its arguments and throws a
 * one-line TypeError / RangeError rather than reading past an array.
 */
import type { KVCacheType } from '../backend.js';
import type { TensorType } from '../../tensor/dtype.js';

/** Bumped with native/src/addon.cc's API_VERSION whenever a signature changes. */
export const NATIVE_API_VERSION = 2;

/** Weight / KV element type codes (native/src/kernels.h: WeightType). */
export const TYPE_CODE: Readonly<Record<TensorType, number>> = { f32: 0, f16: 1, bf16: 2, q8_0: 3, q4_0: 4 };

export function kvTypeCode(type: KVCacheType): number {
  return TYPE_CODE[type];
}

/** Raw tensor memory the addon accepts (it reads the bytes, whatever the view type). */
export type Bytes = Float32Array | Uint16Array | Uint8Array | Int32Array;

export interface NativeInfo {
  /** Kernel set in use (e.g. avx512, avx2, neon, scalar; a quant variant may refine it). */
  isa: string;
  /** Instruction-set level chosen: scalar, avx2, avx512 or neon. */
  level: string;
  /** Levels this CPU can run, lowest first. */
  levels: string[];
  threads: number;
  physicalCores: number;
  features: string[];
}

export interface NativeAddon {
  readonly version: number;
  info(): NativeInfo;
  /** Resizes the (process-wide) worker pool; returns the thread count now in use. */
  setThreads(threads: number): number;
  /** Switches the kernels to an instruction-set level ('' or 'best' = the best); returns the isa name. */
  setIsa(level: string): string;
  /** out[n × rows] = x[n × cols] · Wᵀ. */
  matmul(out: Float32Array, x: Float32Array, w: Bytes, wtype: number, rows: number, cols: number, n: number): void;
  /** out[i, :] = table[ids[i], :] as f32, i < count; returns the index of the first id out of range, or −1. */
  embed(out: Float32Array, table: Bytes, wtype: number, rows: number, cols: number, ids: Int32Array, count: number): number;
  /** Widens (or dequantizes) `count` values of type `stype` to f32. */
  toF32(src: Bytes, stype: number, count: number, out: Float32Array): void;
  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, dim: number, eps: number): void;
  rope(x: Float32Array, n: number, nHeads: number, headDim: number, startPos: number, invFreq: Float32Array): void;
  siluMul(x: Float32Array, y: Float32Array, len: number): void;
  add(x: Float32Array, y: Float32Array, len: number): void;
  /** Converts n rows of k and v into rows pos … pos+n−1 of a KV store of type kvType. */
  kvWrite(keys: Uint8Array, values: Uint8Array, kvType: number, kvDim: number, pos: number, k: Float32Array, v: Float32Array, n: number): void;
  attention(
    out: Float32Array, q: Float32Array, keys: Uint8Array, values: Uint8Array, kvType: number, kvDim: number,
    n: number, startPos: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void;
  /** Quantizes rows × cols values of type stype (f32/f16/bf16) into dst (dtype q8_0 or q4_0). */
  quantize(src: Bytes, stype: number, rows: number, cols: number, dst: Uint8Array, dtype: number): void;
  /** `bytes` bytes of 2 MiB-aligned weight memory (huge pages advised on Linux), freed with the buffer. */
  allocWeights(bytes: number): ArrayBuffer;
  /** Memory read bandwidth in GB/s with `threads` threads streaming a `bytes`-byte buffer. */
  readBandwidth(bytes: number, threads: number): number;
}
