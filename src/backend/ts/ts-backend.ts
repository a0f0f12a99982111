import type { Backend, BackendInfo, KVCacheType, KVStore, Matrix } from '../backend.js';
import type { QuantType } from '../../tensor/dtype.js';
import { convertTensor, tensorToF32 } from '../../tensor/convert.js';
import { formatShape, type Tensor } from '../../tensor/tensor.js';
import * as k from './kernels.js';
import { asHostMatrix, HostMatrix } from './matrix.js';

/** KV storage as two f32 arrays of capacity × kvDim. */
class HostKVStore implements KVStore {
  readonly type = 'f32' as const;
  readonly keys: Float32Array;
  readonly values: Float32Array;

  constructor(readonly capacity: number, readonly kvDim: number) {
    this.keys = new Float32Array(capacity * kvDim);
    this.values = new Float32Array(capacity * kvDim);
  }

  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  write(pos: number, k: Float32Array, v: Float32Array, n: number): void {
    if (pos + n > this.capacity) throw new RangeError(`KV store holds ${this.capacity} positions, write reaches ${pos + n}`);
    const len = n * this.kvDim;
    this.keys.set(k.subarray(0, len), pos * this.kvDim);
    this.values.set(v.subarray(0, len), pos * this.kvDim);
  }

  grow(capacity: number, keep: number): KVStore {
    const next = new HostKVStore(capacity, this.kvDim);
    const len = keep * this.kvDim;
    next.keys.set(this.keys.subarray(0, len));
    next.values.set(this.values.subarray(0, len));
    return next;
  }
}

/** The plain TypeScript reference backend: readable loops, f32 math, weights kept as stored. */
export class TsBackend implements Backend {
  readonly name = 'typescript';
  readonly defaultKVCacheType: KVCacheType = 'f32';
  private rowScratch = new Float32Array(0);
  private scores = new Float64Array(0);
  private acc = new Float64Array(0);

  uploadMatrix(weight: Tensor): Matrix {
    const m = HostMatrix.fromTensor(weight);
    if (this.rowScratch.length < m.cols) this.rowScratch = new Float32Array(m.cols);
    return m;
  }

  info(): BackendInfo {
    return { name: this.name, isa: 'js', threads: 1, features: [`node ${process.version}`] };
  }

  quantize(weight: Tensor, type: QuantType): Tensor {
    return convertTensor(weight, type);
  }

  uploadVector(weight: Tensor): Float32Array {
    if (weight.shape.length !== 1) throw new RangeError(`expected a 1-D weight, got shape ${formatShape(weight.shape)}`);
    return tensorToF32(weight);
  }

  matmul(out: Float32Array, x: Float32Array, w: Matrix, n: number): void {
    k.matmul(out, x, asHostMatrix(w), n, this.rowScratch);
  }

  embed(out: Float32Array, table: Matrix, ids: ArrayLike<number>): void {
    k.embed(out, asHostMatrix(table), ids, this.rowScratch);
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

  createKVStore(capacity: number, kvDim: number, type: KVCacheType = 'f32'): KVStore {
    if (type !== 'f32') throw new RangeError(`the TypeScript backend has no ${type} KV cache yet`);
    return new HostKVStore(capacity, kvDim);
  }

  attention(
    out: Float32Array, q: Float32Array, store: KVStore, n: number, startPos: number,
    nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void {
    if (!(store instanceof HostKVStore)) throw new TypeError('KV store was not created by the TypeScript backend');
    if (this.scores.length < startPos + n) this.scores = new Float64Array(store.capacity);
    if (this.acc.length < headDim) this.acc = new Float64Array(headDim);
    k.attention(out, q, store.keys, store.values, n, startPos, nHeads, nKvHeads, headDim, scale, this.scores, this.acc);
  }
}
