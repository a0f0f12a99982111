import type { Backend, KVCacheType, KVStore } from '../backend/backend.js';

export interface KVCacheOptions {
  numLayers: number;
  /** Values per position per layer: numKvHeads × headDim. */
  kvDim: number;
  /** Most positions (the model's context length). */
  maxLength: number;
  /** Element type; default the backend's. */
  type?: KVCacheType;
  /** See KVCache.lengthIndependentUpTo (default Infinity). */
  lengthIndependentUpTo?: number;
  /** Positions allocated up front; the cache doubles as needed. */
  initialCapacity?: number;
}

/**
 * Keys and values of every layer for the tokens seen so far, plus those tokens' ids (so a later
 * prompt that shares a prefix can reuse them). Storage grows by doubling up to `maxLength`, so a
 * short conversation never allocates the whole context window.
 */
export class KVCache {
  private stores: KVStore[];
  private ids: number[] = [];
  /** First position whose keys depend on the sequence length they were computed at (see below). */
  private lengthDependentFrom = Infinity;

  readonly numLayers: number;
  readonly kvDim: number;
  readonly maxLength: number;
  readonly type: KVCacheType;
  /**
   * Longest sequence whose keys do not depend on its length. With dynamic NTK RoPE the rotation
   * base grows once a sequence passes max_position_embeddings, so keys computed past that point
   * differ from what another pass would compute; Infinity when RoPE is not length-dependent.
   */
  readonly lengthIndependentUpTo: number;

  constructor(backend: Backend, options: KVCacheOptions) {
    this.numLayers = options.numLayers;
    this.kvDim = options.kvDim;
    this.maxLength = options.maxLength;
    this.type = options.type ?? backend.defaultKVCacheType;
    this.lengthIndependentUpTo = options.lengthIndependentUpTo ?? Infinity;
    const capacity = Math.min(options.initialCapacity ?? 64, this.maxLength);
    this.stores = Array.from({ length: this.numLayers }, () => backend.createKVStore(capacity, this.kvDim, this.type));
  }

  /** Positions filled so far. */
  get length(): number {
    return this.ids.length;
  }

  /** The token ids whose keys and values are cached, in position order. */
  get tokens(): readonly number[] {
    return this.ids;
  }

  get capacity(): number {
    return this.stores[0]?.capacity ?? this.maxLength;
  }

  get bytes(): number {
    return this.stores.reduce((sum, s) => sum + s.bytes, 0);
  }

  layer(index: number): KVStore {
    return this.stores[index]!;
  }

  /** Makes room for `extra` more positions; throws past the model's context length. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed > this.maxLength) {
      throw new RangeError(`context length exceeded: ${needed} positions needed, the model allows ${this.maxLength}`);
    }
    if (needed <= this.capacity) return;
    const capacity = this.capacityFor(needed);
    this.stores = this.stores.map((s) => s.grow(capacity, this.length));
  }

  /** The current capacity doubled until it holds `needed` positions (capped at maxLength). */
  private capacityFor(needed: number): number {
    let capacity = Math.max(this.capacity, 1);
    while (capacity < needed) capacity *= 2;
    return Math.min(capacity, this.maxLength);
  }

  /** Records that `ids` now occupy the next positions (their K/V were written by the forward pass). */
  commit(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) this.ids.push(ids[i]!);
  }

  /** Notes that the keys being written from `position` on depend on the current sequence length. */
  markLengthDependent(position: number): void {
    this.lengthDependentFrom = Math.min(this.lengthDependentFrom, position);
  }

  /**
   * How many leading cached positions a new sequence of `totalLength` positions may reuse so that
   * the result equals a fresh pass: none if the fresh pass would itself be length-dependent, else
   * those written before any length-dependent keys.
   */
  reusableLength(totalLength: number): number {
    if (totalLength > this.lengthIndependentUpTo) return 0;
    return Math.min(this.ids.length, this.lengthDependentFrom);
  }

  /** Forgets every position from `length` on (the stored values there are simply overwritten later). */
  truncate(length: number): void {
    if (length < this.ids.length) this.ids.length = Math.max(0, length);
    if (this.lengthDependentFrom >= this.ids.length) this.lengthDependentFrom = Infinity;
  }

  clear(): void {
    this.truncate(0);
  }

  /**
   * Replaces this cache's contents with the first `length` positions of `source` (a copy: the two
   * caches stay independent). Lets several sequences that share a prompt prefix compute it once.
   */
  adoptPrefix(source: KVCache, length: number): void {
    if (source.numLayers !== this.numLayers || source.kvDim !== this.kvDim || source.type !== this.type) {
      throw new RangeError('adoptPrefix: the caches differ in layers, width or element type');
    }
    if (!Number.isSafeInteger(length) || length < 0 || length > source.length) {
      throw new RangeError(`adoptPrefix: ${length} positions asked, the source holds ${source.length}`);
    }
    const capacity = this.capacityFor(length);
    this.stores = this.stores.map((_, l) => source.layer(l).grow(capacity, length));
    this.ids = source.ids.slice(0, length);
    this.lengthDependentFrom = source.lengthDependentFrom < length ? source.lengthDependentFrom : Infinity;
  }
}
