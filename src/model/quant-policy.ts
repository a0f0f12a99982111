import { isQuantType, type DType, type QuantType, type TensorType } from '../tensor/dtype.js';
import { canQuantize } from '../tensor/quant-format.js';

/** Whole-model quantization modes: GGUF-compatible block types for the weight matrices. */
export type QuantizeMode = QuantType;

/** XVERSE's `model.quantize(bits)` names: 8 → q8_0, 4 → q4_0. */
export function quantizeModeForBits(bits: number): QuantizeMode {
  if (bits === 8) return 'q8_0';
  if (bits === 4) return 'q4_0';
  throw new RangeError(`quantize(bits) takes 8 or 4, got ${bits}`);
}

export const LM_HEAD = 'lm_head.weight';
export const EMBEDDING = 'model.embed_tokens.weight';

/**
 * The type each weight gets when a model is quantized to `mode`:
 * - norm vectors stay f32 (they are tiny and every activation passes through them);
 * - a matrix whose rows are not a multiple of 32 values cannot be cut into blocks and keeps its type;
 * - q8_0: every matrix, the embedding and the output head included;
 * - q4_0: the seven projections of every layer and the embedding become q4_0; the output head becomes
 *   q8_0 — it turns the last hidden state into every logit, and 4-bit error there costs the most
 *   quality per byte, which is why llama.cpp also keeps its output matrix at higher precision. A head
 *   tied to the embedding follows the head's rule.
 * Returns null when the tensor keeps the type it was loaded as.
 */
export function quantTypeFor(name: string, shape: readonly number[], mode: QuantizeMode, tiedHead = false): QuantType | null {
  if (shape.length !== 2 || !canQuantize(shape[1]!)) return null;
  if (mode === 'q4_0' && (name === LM_HEAD || (tiedHead && name === EMBEDDING))) return 'q8_0';
  return mode;
}

/** The type a weight is stored in after loading with these options. */
export function storageTypeFor(
  name: string, shape: readonly number[], fileType: TensorType,
  options: { dtype?: DType | 'auto'; quantize?: QuantizeMode; tiedHead?: boolean },
): TensorType {
  if (shape.length === 1) return 'f32';
  const quant = options.quantize ? quantTypeFor(name, shape, options.quantize, options.tiedHead) : null;
  if (quant) return quant;
  if (isQuantType(fileType) || !options.dtype || options.dtype === 'auto') return fileType;
  return options.dtype;
}
