import type { Backend, BackendInfo, KVCacheType, KVStore, Matrix } from '../backend.js';
import { isQuantType, type QuantType } from '../../tensor/dtype.js';
import { convertTensor, tensorToF32 } from '../../tensor/convert.js';
import { formatShape, type Tensor } from '../../tensor/tensor.js';
import { BlockMatrix } from './block-matrix.js';
import * as k from './kernels.js';
import { createTsKVStore, F16KVStore, F32KVStore, KVScratch, Q8KVStore, type TsKVStore } from './kv-store.js';
import { HostMatrix } from './matrix.js';
import { matmulBlock, Q8Activations } from './quant-kernels.js';

function asTsMatrix(m: Matrix): HostMatrix | BlockMatrix {
  if (m instanceof HostMatrix || m instanceof BlockMatrix) return m;
  throw new TypeError('matrix was not uploaded to the TypeScript backend');
}

/**
 * The plain TypeScript reference backend: readable loops, f32 math, weights kept as stored.
 * Float weights (f32/f16/bf16) multiply in f32 (sums in doubles); block weights (q8_0/q4_0)
 * multiply the way ggml's generic CPU code does — activations quantized to Q8_0, integer block
 * dots, f32 accumulation (quant-kernels.ts). KV caches may be f32, f16 or q8_0 (kv-store.ts).
 */
export class TsBackend implements Backend {
  readonly name = 'typescript';
  readonly defaultKVCacheType: KVCacheType = 'f32';
  private rowScratch = new Float32Array(0);
  private scores = new Float64Array(0);
  private acc = new Float64Array(0);
  private readonly activations = new Q8Activations();
  private readonly kvScratch = new KVScratch();

  uploadMatrix(weight: Tensor): Matrix {
    const m = isQuantType(weight.dtype)
      ? BlockMatrix.fromTensor(weight as Tensor & { dtype: QuantType })
      : HostMatrix.fromTensor(weight);
    if (this.rowScratch.length < m.cols) this.rowScratch = new Float32Array(m.cols);
    return m;
  }

  readMatrix(m: Matrix): Tensor {
    const t = asTsMatrix(m);
    return { dtype: t instanceof BlockMatrix ? t.type : t.dtype, shape: [t.rows, t.cols], data: t.data };
  }

  info(): BackendInfo {
    return { name: this.name, isa: 'js', threads: 1, features: [`node ${process.version}`] };
  }

  quantize(weight: Tensor, type: QuantType, into?: Uint8Array): Tensor {
    const t = convertTensor(weight, type);
    if (!into) return t;
    if (into.byteLength !== t.data.byteLength) throw new RangeError(`quantize: output holds ${into.byteLength} bytes, ${type} ${formatShape(weight.shape)} needs ${t.data.byteLength}`);
    into.set(t.data as Uint8Array);
    return { dtype: type, shape: weight.shape, data: into };
  }

  allocateWeights(bytes: number): Uint8Array {
    return new Uint8Array(bytes);
  }

  uploadVector(weight: Tensor): Float32Array {
    if (weight.shape.length !== 1) throw new RangeError(`expected a 1-D weight, got shape ${formatShape(weight.shape)}`);
    return tensorToF32(weight);
  }

  matmul(out: Float32Array, x: Float32Array, w: Matrix, n: number): void {
    const m = asTsMatrix(w);
    if (m instanceof BlockMatrix) matmulBlock(out, x, m, n, this.activations);
    else k.matmul(out, x, m, n, this.rowScratch);
  }

  /** Block tables are dequantized row by row (d·q), as ggml's get_rows does. */
  embed(out: Float32Array, table: Matrix, ids: ArrayLike<number>): void {
    k.embed(out, asTsMatrix(table), ids, this.rowScratch);
  }

  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, dim: number, eps: number): void {
    k.rmsNorm(out, x, weight, n, dim, eps);
  }

  rope(x: Float32Array, n: number, nHeads: number, headDim: number, startPos: number, invFreq: Float32Array): void {
    k.rope(x, n, nHeads, headDim, startPos, invFreq);
  }

  siluMul(x: Float32Array, y: Float32Array, len: number): void {
    k.siluMul(x, y, len);
  }

  add(x: Float32Array, y: Float32Array, len: number): void {
    k.add(x, y, len);
  }

  /** f32, f16 (rounded on write) or q8_0 (quantized per position row; kvDim % 32 == 0) storage. */
  createKVStore(capacity: number, kvDim: number, type: KVCacheType = 'f32'): KVStore {
    return createTsKVStore(capacity, kvDim, type);
  }

  attention(
    out: Float32Array, q: Float32Array, store: KVStore, n: number, startPos: number,
    nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void {
    if (!isTsKVStore(store)) throw new TypeError('KV store was not created by the TypeScript backend');
    if (this.scores.length < startPos + n) this.scores = new Float64Array(store.capacity);
    if (this.acc.length < headDim) this.acc = new Float64Array(headDim);
    // f16/q8_0 stores widen the visible positions to f32 here; the math is then the same for all types.
    const { keys, values } = store.f32Rows(startPos + n, this.kvScratch);
    k.attention(out, q, keys, values, n, startPos, nHeads, nKvHeads, headDim, scale, this.scores, this.acc);
  }
}

function isTsKVStore(store: KVStore): store is TsKVStore {
  return store instanceof F32KVStore || store instanceof F16KVStore || store instanceof Q8KVStore;
}
