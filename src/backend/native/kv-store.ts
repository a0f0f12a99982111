import type { KVCacheType, KVStore } from '../backend.js';
import { kvTypeCode, type NativeAddon } from './addon.js';

/** Bytes of one cached position (kvDim values) in each of the key and value buffers. */
export function kvRowBytes(type: KVCacheType, kvDim: number): number {
  switch (type) {
    case 'f32': return kvDim * 4;
    case 'f16': return kvDim * 2;
    case 'q8_0': return (kvDim / 32) * 34;
  }
}

/**
 * One layer's keys and values as raw rows in JavaScript-owned memory, which the addon converts
 * into (kvWrite) and reads in place (attention). f16 rows round to nearest even like dtype.ts;
 * q8_0 rows are GGUF Q8_0 blocks of 32 values (kvDim must be a multiple of 32).
 */
export class NativeKVStore implements KVStore {
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
  readonly code: number;
  private readonly rowBytes: number;

  constructor(private readonly addon: NativeAddon, readonly capacity: number, readonly kvDim: number, readonly type: KVCacheType) {
    if (type === 'q8_0' && kvDim % 32 !== 0) {
      throw new RangeError(`a q8_0 KV cache needs kvDim to be a multiple of 32, got ${kvDim}; use an f16 or f32 cache`);
    }
    this.code = kvTypeCode(type);
    this.rowBytes = kvRowBytes(type, kvDim);
    this.keys = new Uint8Array(capacity * this.rowBytes);
    this.values = new Uint8Array(capacity * this.rowBytes);
  }

  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  write(pos: number, k: Float32Array, v: Float32Array, n: number): void {
    if (pos + n > this.capacity) throw new RangeError(`KV store holds ${this.capacity} positions, write reaches ${pos + n}`);
    this.addon.kvWrite(this.keys, this.values, this.code, this.kvDim, pos, k, v, n);
  }

  grow(capacity: number, keep: number): KVStore {
    const next = new NativeKVStore(this.addon, capacity, this.kvDim, this.type);
    const len = keep * this.rowBytes;
    next.keys.set(this.keys.subarray(0, len));
    next.values.set(this.values.subarray(0, len));
    return next;
  }
}
