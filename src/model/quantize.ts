import type { Backend, Matrix } from '../backend/backend.js';
import { isQuantType, type TensorType } from '../tensor/dtype.js';
import { convertTensor } from '../tensor/convert.js';
import { quantTypeFor, type QuantizeMode } from './quant-policy.js';
import { isTiedHead, mapMatrices, namedWeights, type ModelWeights } from './weights.js';

/**
 * Quantizes loaded weights in memory (XVERSE's `model.quantize(bits)`), matrix by matrix under the
 * same policy as quantize-on-load (quantTypeFor), so peak memory is the model plus one matrix.
 * Matrices already in their target type are kept as they are; a matrix in another block type is
 * dequantized first (requantizing adds the error of both types — reload from the float checkpoint
 * for the best result).
 */
export function quantizeWeights(weights: ModelWeights, backend: Backend, mode: QuantizeMode): ModelWeights {
  const tied = isTiedHead(weights);
  return mapMatrices(weights, (name, m) => {
    const target = quantTypeFor(name, [m.rows, m.cols], mode, tied);
    if (!target) return m;
    const t = backend.readMatrix(m);
    if (t.dtype === target) return m;
    const floats = isQuantType(t.dtype) ? convertTensor(t, 'f32') : t;
    return backend.uploadMatrix(backend.quantize(floats, target));
  });
}

/** How many matrices the model holds per storage type, e.g. { q8_0: 281, f32: 0 } (norm vectors are always f32). */
export function matrixTypes(weights: ModelWeights, backend: Backend): Partial<Record<TensorType, number>> {
  const out: Partial<Record<TensorType, number>> = {};
  for (const [, w] of namedWeights(weights)) {
    if (w instanceof Float32Array) continue;
    const type = backend.readMatrix(w as Matrix).dtype;
    out[type] = (out[type] ?? 0) + 1;
  }
  return out;
}
