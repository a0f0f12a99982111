import { DTYPE_BYTES, type DType, type Storage } from './dtype.js';

/** A host-memory tensor: row-major data in one of the storage dtypes. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Storage;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function byteSize(dtype: DType, shape: readonly number[]): number {
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
export function tensorFromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor {
  const size = DTYPE_BYTES[dtype];
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
