import type { Matrix } from '../backend/backend.js';
import { writeCheckpoint } from '../formats/checkpoint.js';
import type { TensorSource } from '../formats/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
import { namedWeights } from './weights.js';
import type { XverseModel } from './xverse.js';

/** Hugging Face's default shard size for save_pretrained. */
export const DEFAULT_SHARD_BYTES = 5e9;

/**
 * Writes the model's weights, as it holds them, to safetensors in `dir` (sharded with an index past
 * `maxShardBytes`): float matrices as F32/F16/BF16, block-quantized ones as GGUF-layout Q8_0/Q4_0
 * blocks in U8 tensors described by the `xverse_ts.quantized_tensors` metadata entry, norms as
 * F32. One tensor's data is written at a time, straight from the backend's memory. Returns the
 * file names written.
 */
export function saveWeights(model: XverseModel, dir: string, options: { maxShardBytes?: number } = {}): string[] {
  const sources: TensorSource[] = namedWeights(model.weights).map(([name, w]) => {
    const t: Tensor = w instanceof Float32Array
      ? { dtype: 'f32', shape: [w.length], data: w }
      : model.backend.readMatrix(w as Matrix);
    return { name, dtype: t.dtype, shape: t.shape, read: () => t };
  });
  return writeCheckpoint(dir, sources, { maxShardBytes: options.maxShardBytes ?? DEFAULT_SHARD_BYTES });
}
