import { DTYPE_BYTES, isQuantType, type DType, type TensorData, type TensorType } from './dtype.js';
import { quantRowBytes } from './quant-format.js';

/** A host-memory tensor: row-major data in one of the storage dtypes. */
export interface Tensor {
  readonly dtype: TensorType;
  readonly shape: readonly number[];
  /** Float32Array (f32), Uint16Array of raw bits (f16, bf16) or Uint8Array of blocks (q8_0, q4_0). */
  readonly data: TensorData;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes a tensor of this type and shape occupies (quantized: rows of blocks along the last axis). */
export function byteSize(dtype: TensorType, shape: readonly number[]): number {
  if (isQuantType(dtype)) {
    const cols = shape[shape.length - 1] ?? 1;
    return (numel(shape) / cols) * quantRowBytes(dtype, cols);
  }
  return numel(shape) * DTYPE_BYTES[dtype];
}

export function shapeEquals(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Reinterprets little-endian bytes as a tensor of `dtype` without copying when the buffer is
 * suitably aligned (copies otherwise). Assumes a little-endian host, as every supported platform is.
 */
export function tensorFromBytes(dtype: TensorType, shape: readonly number[], bytes: Uint8Array): Tensor {
  if (isQuantType(dtype)) return { dtype, shape, data: bytes };
  const size = DTYPE_BYTES[dtype as DType];
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const length = aligned.byteLength / size;
  const data = dtype === 'f32'
    ? new Float32Array(aligned.buffer, aligned.byteOffset, length)
    : new Uint16Array(aligned.buffer, aligned.byteOffset, length);
  return { dtype, shape, data };
}

/** The raw little-endian bytes behind a tensor (a view, not a copy). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
