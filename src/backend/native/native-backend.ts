import type { Backend, BackendInfo, KVCacheType, KVStore, Matrix } from '../backend.js';
import { isQuantType, type QuantType, type TensorType } from '../../tensor/dtype.js';
import { convertTensor, tensorToF32 } from '../../tensor/convert.js';
import { byteSize, formatShape, numel, type Tensor } from '../../tensor/tensor.js';
import { TYPE_CODE, type Bytes, type NativeAddon } from './addon.js';
import { NativeKVStore } from './kv-store.js';

/** A weight as the addon reads it: the tensor's own bytes (no copy) and its type code. */
export class NativeMatrix implements Matrix {
  readonly code: number;

  constructor(readonly type: TensorType, readonly data: Bytes, readonly rows: number, readonly cols: number) {
    this.code = TYPE_CODE[type];
  }

  /** The element type under the name HostMatrix uses (BlockMatrix says `type`). */
  get dtype(): TensorType {
    return this.type;
  }

  get bytes(): number {
    return this.data.byteLength;
  }
}

export interface NativeBackendOptions {
  /** Worker threads (process-wide: the addon has one pool); default: the physical cores. */
  threads?: number;
}

/**
 * The native (C++, SIMD, multi-threaded) backend. Weights stay in their tensor's memory in any
 * type (f32, f16, bf16, q8_0, q4_0); the KV cache defaults to f16. Results agree with TsBackend
 * within the error bounds documented in test/backend/native-kernels.test.ts.
 */
export class NativeBackend implements Backend {
  readonly name = 'native';
  readonly defaultKVCacheType: KVCacheType = 'f16';
  private ids = new Int32Array(64);

  constructor(readonly addon: NativeAddon, options: NativeBackendOptions = {}) {
    if (options.threads !== undefined) {
      if (!Number.isSafeInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be an integer ≥ 1, got ${options.threads}`);
      addon.setThreads(options.threads);
    }
  }

  info(): BackendInfo {
    const i = this.addon.info();
    return { name: this.name, isa: i.isa, threads: i.threads, features: i.features };
  }

  /** Instruction-set levels this CPU can run, lowest first (for tests and benchmarks). */
  isaLevels(): string[] {
    return this.addon.info().levels;
  }

  /** Switches every kernel to an instruction-set level ('best' = the highest); process-wide. */
  selectIsa(level: string): string {
    return this.addon.setIsa(level);
  }

  uploadMatrix(weight: Tensor): Matrix {
    if (weight.shape.length !== 2) throw new RangeError(`expected a 2-D weight, got shape ${formatShape(weight.shape)}`);
    const [rows, cols] = weight.shape as [number, number];
    if (isQuantType(weight.dtype) && cols % 32 !== 0) throw new RangeError(`${weight.dtype} weights need a multiple of 32 columns, got ${cols}`);
    return new NativeMatrix(weight.dtype, weight.data, rows, cols);
  }

  /** Aligned memory on transparent huge pages where the OS has them (see allocWeights in addon.cc). */
  allocateWeights(bytes: number): Uint8Array {
    return bytes === 0 ? new Uint8Array(0) : new Uint8Array(this.addon.allocWeights(bytes));
  }

  readMatrix(m: Matrix): Tensor {
    const t = asNativeMatrix(m);
    return { dtype: t.type, shape: [t.rows, t.cols], data: t.data as Tensor['data'] };
  }

  quantize(weight: Tensor, type: QuantType, into?: Uint8Array): Tensor {
    if (weight.dtype === type && !into) return weight;
    if (isQuantType(weight.dtype)) weight = convertTensor(weight, 'f32');  // requantizing: rare, reference path
    if (weight.shape.length < 1) throw new RangeError(`cannot quantize a scalar to ${type}`);
    const cols = weight.shape[weight.shape.length - 1]!;
    if (cols % 32 !== 0) throw new RangeError(`${type} needs a multiple of 32 columns, got ${cols}`);
    const bytes = byteSize(type, weight.shape);
    if (into && into.byteLength !== bytes) throw new RangeError(`quantize: output holds ${into.byteLength} bytes, ${type} ${formatShape(weight.shape)} needs ${bytes}`);
    const data = into ?? this.allocateWeights(bytes);
    this.addon.quantize(weight.data, TYPE_CODE[weight.dtype], numel(weight.shape) / cols, cols, data, TYPE_CODE[type]);
    return { dtype: type, shape: weight.shape, data };
  }

  uploadVector(weight: Tensor): Float32Array {
    if (weight.shape.length !== 1) throw new RangeError(`expected a 1-D weight, got shape ${formatShape(weight.shape)}`);
    return tensorToF32(weight);
  }

  matmul(out: Float32Array, x: Float32Array, w: Matrix, n: number): void {
    const m = asNativeMatrix(w);
    this.addon.matmul(out, x, m.data, m.code, m.rows, m.cols, n);
  }

  embed(out: Float32Array, table: Matrix, ids: ArrayLike<number>): void {
    const m = asNativeMatrix(table);
    if (this.ids.length < ids.length) this.ids = new Int32Array(Math.max(ids.length, 2 * this.ids.length));
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= m.rows) throw new RangeError(`token id ${id} is outside the vocabulary (0…${m.rows - 1})`);
      this.ids[i] = id;
    }
    this.addon.embed(out, m.data, m.code, m.rows, m.cols, this.ids, ids.length);
  }

  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, dim: number, eps: number): void {
    this.addon.rmsNorm(out, x, weight, n, dim, eps);
  }

  rope(x: Float32Array, n: number, nHeads: number, headDim: number, startPos: number, invFreq: Float32Array): void {
    this.addon.rope(x, n, nHeads, headDim, startPos, invFreq);
  }

  siluMul(x: Float32Array, y: Float32Array, len: number): void {
    this.addon.siluMul(x, y, len);
  }

  add(x: Float32Array, y: Float32Array, len: number): void {
    this.addon.add(x, y, len);
  }

  readBandwidth(bytes: number, threads: number): number {
    return this.addon.readBandwidth(bytes, threads);
  }

  createKVStore(capacity: number, kvDim: number, type: KVCacheType = this.defaultKVCacheType): KVStore {
    return new NativeKVStore(this.addon, capacity, kvDim, type);
  }

  attention(
    out: Float32Array, q: Float32Array, store: KVStore, n: number, startPos: number,
    nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void {
    if (!(store instanceof NativeKVStore)) throw new TypeError('KV store was not created by the native backend');
    this.addon.attention(out, q, store.keys, store.values, store.code, store.kvDim, n, startPos, nHeads, nKvHeads, headDim, scale);
  }
}

function asNativeMatrix(m: Matrix): NativeMatrix {
  if (!(m instanceof NativeMatrix)) throw new TypeError('matrix was not uploaded to the native backend');
  return m;
}
