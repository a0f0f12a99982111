import type { ModelConfig } from './config.js';

/**
 * RoPE inverse frequencies, inv_freq[j] = base^(−2j/d), computed in f32 as HF does.
 *
 * Scaling (HF `rope_scaling`):
 * - linear: positions are divided by `factor`, i.e. every frequency is divided by it;
 * - dynamic (NTK-aware): once the sequence is longer than max_position_embeddings, the base grows to
 *   base · (factor·len/max − (factor − 1))^(d/(d−2)). With factor 2 this is exactly XVERSE-13B-256K's
 *   `alpha = len/(max/2) − 1` rule. Like HF with a KV cache, keys already cached keep the rotation
 *   they were computed with; only new positions use the grown base.
 */
export function ropeInvFreq(config: ModelConfig, sequenceLength: number): Float32Array {
  const d = config.headDim;
  let base = config.ropeTheta;
  let divisor = 1;
  const scaling = config.ropeScaling;
  if (scaling?.type === 'linear') divisor = scaling.factor;
  if (scaling?.type === 'dynamic' && sequenceLength > config.maxPositionEmbeddings) {
    const alpha = (scaling.factor * sequenceLength) / config.maxPositionEmbeddings - (scaling.factor - 1);
    base *= alpha ** (d / (d - 2));
  }
  const inv = new Float32Array(d / 2);
  for (let j = 0; j < d / 2; j++) inv[j] = 1 / base ** ((2 * j) / d) / divisor;
  return inv;
}

/** Positions the model may address: the trained context, stretched by a RoPE scaling factor. */
export function contextLength(config: ModelConfig): number {
  return Math.floor(config.maxPositionEmbeddings * (config.ropeScaling?.factor ?? 1));
}
