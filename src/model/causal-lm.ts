import type { ModelConfig } from './config.js';
import type { KVCache } from './kv-cache.js';

/** What generation needs from a model: a KV cache and a forward pass that appends to it. */
export interface CausalLM {
  readonly config: ModelConfig;

  /** A fresh, empty cache; it grows on demand up to `config.maxPositionEmbeddings` positions. */
  createCache(): KVCache;

  /**
   * Runs `ids` at positions cache.length … cache.length+ids.length−1 in one batched pass,
   * appends their keys/values (and ids) to the cache, and returns next-token logits:
   * the last position's [vocab] by default, or all positions' [ids.length × vocab] with `allLogits`.
   * The last-position array is reused by the model's next call (decode steps allocate nothing):
   * copy it to keep it.
   */
  forward(ids: ArrayLike<number>, cache: KVCache, options?: { allLogits?: boolean }): Float32Array;

  /**
   * Several independent sequences in one pass (each appends to its own cache): the weight matrices
   * see all their rows at once, attention runs per sequence. Returns each sequence's last-position
   * logits (new arrays). Optional: callers fall back to one forward() per sequence.
   */
  forwardMany?(batch: readonly SequenceStep[]): Float32Array[];
}

/** One sequence's new tokens and the cache they extend, for CausalLM.forwardMany. */
export interface SequenceStep {
  ids: ArrayLike<number>;
  cache: KVCache;
}
