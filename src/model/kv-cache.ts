import type { Backend, KVStore } from '../backend/backend.js';

/**
 * Keys and values of every layer for the tokens seen so far, plus those tokens' ids (so a later
 * prompt that shares a prefix can reuse them). Storage grows by doubling up to `maxLength`, so a
 * short conversation never allocates the whole context window.
 */
export class KVCache {
  private stores: KVStore[];
  private ids: number[] = [];

  constructor(
    backend: Backend,
    readonly numLayers: number,
    readonly kvDim: number,
    readonly maxLength: number,
    initialCapacity = 64,
  ) {
    const capacity = Math.min(initialCapacity, maxLength);
    this.stores = Array.from({ length: numLayers }, () => backend.createKVStore(capacity, kvDim));
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
    let capacity = Math.max(this.capacity, 1);
    while (capacity < needed) capacity *= 2;
    capacity = Math.min(capacity, this.maxLength);
    this.stores = this.stores.map((s) => s.grow(capacity, this.length));
  }

  /** Records that `ids` now occupy the next positions (their K/V were written by the forward pass). */
  commit(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) this.ids.push(ids[i]!);
  }

  /** Forgets every position from `length` on (the stored values there are simply overwritten later). */
  truncate(length: number): void {
    if (length < this.ids.length) this.ids.length = Math.max(0, length);
  }

  clear(): void {
    this.ids.length = 0;
  }
}
