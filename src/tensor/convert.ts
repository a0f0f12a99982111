import { convertStorage, isQuantType, toF32, type DType, type Storage, type TensorType } from './dtype.js';
import { dequantizeRows, quantizeRows } from './quant.js';
import { formatShape, numel, type Tensor } from './tensor.js';

/** Rows × columns of a tensor viewed as a matrix along its last axis. */
function matrixShape(t: Tensor): [number, number] {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  return [numel(t.shape) / cols, cols];
}

/** Any tensor's values as f32 (dequantizing block types). */
export function tensorToF32(t: Tensor): Float32Array {
  if (isQuantType(t.dtype)) {
    const [rows, cols] = matrixShape(t);
    return dequantizeRows(t.dtype, t.data as Uint8Array, rows, cols);
  }
  return toF32(t.dtype, t.data as Storage);
}

/**
 * Converts a tensor to another element type: between float types exactly as dtype.ts rounds,
 * to a block type with the reference quantizer (rows along the last axis), from a block type by
 * dequantizing. Returns `t` itself when the type does not change.
 */
export function convertTensor(t: Tensor, to: TensorType): Tensor {
  if (t.dtype === to) return t;
  if (isQuantType(to)) {
    const [rows, cols] = matrixShape(t);
    if (t.shape.length < 1) throw new RangeError(`cannot quantize a scalar to ${to}`);
    return { dtype: to, shape: t.shape, data: quantizeRows(to, tensorToF32(t), rows, cols) };
  }
  if (isQuantType(t.dtype)) {
    const f32 = tensorToF32(t);
    return { dtype: to, shape: t.shape, data: convertStorage('f32', to, f32) };
  }
  return { dtype: to, shape: t.shape, data: convertStorage(t.dtype as DType, to, t.data as Storage) };
}

export function describeTensor(t: Tensor): string {
  return `${t.dtype} ${formatShape(t.shape)}`;
}
