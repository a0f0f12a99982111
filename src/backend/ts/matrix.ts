import type { Matrix } from '../backend.js';
import { DTYPE_BYTES, isQuantType, toF32, type DType, type Storage } from '../../tensor/dtype.js';
import { formatShape, type Tensor } from '../../tensor/tensor.js';

/** The reference backend's float weight matrix (f32, f16, bf16): the tensor's own storage, rows widened on use. */
export class HostMatrix implements Matrix {
  readonly rows: number;
  readonly cols: number;

  constructor(readonly dtype: DType, readonly data: Storage, rows: number, cols: number) {
    this.rows = rows;
    this.cols = cols;
  }

  static fromTensor(t: Tensor): HostMatrix {
    if (t.shape.length !== 2) throw new RangeError(`expected a 2-D weight, got shape ${formatShape(t.shape)}`);
    if (isQuantType(t.dtype)) throw new RangeError(`HostMatrix holds float weights; ${t.dtype} weights go to BlockMatrix`);
    return new HostMatrix(t.dtype, t.data as Storage, t.shape[0]!, t.shape[1]!);
  }

  get bytes(): number {
    return this.data.length * DTYPE_BYTES[this.dtype];
  }

  /** Row r as f32: a view for f32 weights, else widened into `scratch`. */
  row(r: number, scratch: Float32Array): Float32Array {
    const start = r * this.cols;
    if (this.dtype === 'f32') return (this.data as Float32Array).subarray(start, start + this.cols);
    return toF32(this.dtype, this.data.subarray(start, start + this.cols), scratch.subarray(0, this.cols));
  }
}
