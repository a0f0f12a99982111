import type { KVCacheType, KVStore } from '../backend.js';
import { f32ToF16, toF32 } from '../../tensor/dtype.js';
import { dequantizeRows, quantizeRows } from '../../tensor/quant.js';
import { quantRowBytes } from '../../tensor/quant-format.js';

/**
 * The reference backend's KV stores. Each keeps keys and values in its element type and hands the
 * attention kernel f32 rows: f32 stores their own arrays, f16 and q8_0 stores the visible positions
 * widened into a scratch buffer shared by all layers (so the rounding happens once, on write, and
 * attention's math is the same f32/f64 math for every type).
 */
export interface TsKVStore extends KVStore {
  /**
   * Keys and values of positions 0 … len−1 as f32 rows of kvDim values: the store's own arrays (f32)
   * or `scratch`'s, filled here (f16, q8_0).
   */
  f32Rows(len: number, scratch: KVScratch): { keys: Float32Array; values: Float32Array };
}

/** Widening buffers for f16/q8_0 stores, reused across layers and calls (grown, never shrunk). */
export class KVScratch {
  keys = new Float32Array(0);
  values = new Float32Array(0);

  ensure(size: number): void {
    if (this.keys.length < size) {
      this.keys = new Float32Array(size);
      this.values = new Float32Array(size);
    }
  }
}

function checkWrite(store: KVStore, pos: number, n: number, k: Float32Array, v: Float32Array): void {
  if (pos + n > store.capacity) throw new RangeError(`KV store holds ${store.capacity} positions, write reaches ${pos + n}`);
  const len = n * store.kvDim;
  if (k.length < len || v.length < len) throw new RangeError(`KV write of ${n} positions needs ${len} keys and values`);
}

/** Keys and values as f32, exactly as written. */
export class F32KVStore implements TsKVStore {
  readonly type = 'f32' as const;
  readonly keys: Float32Array;
  readonly values: Float32Array;

  constructor(readonly capacity: number, readonly kvDim: number) {
    this.keys = new Float32Array(capacity * kvDim);
    this.values = new Float32Array(capacity * kvDim);
  }

  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  write(pos: number, k: Float32Array, v: Float32Array, n: number): void {
    checkWrite(this, pos, n, k, v);
    const len = n * this.kvDim;
    this.keys.set(k.subarray(0, len), pos * this.kvDim);
    this.values.set(v.subarray(0, len), pos * this.kvDim);
  }

  grow(capacity: number, keep: number): KVStore {
    const next = new F32KVStore(capacity, this.kvDim);
    next.keys.set(this.keys.subarray(0, keep * this.kvDim));
    next.values.set(this.values.subarray(0, keep * this.kvDim));
    return next;
  }

  f32Rows(): { keys: Float32Array; values: Float32Array } {
    return this;
  }
}

/** Keys and values rounded to f16 (nearest even) on write: half the memory, ~3 significant digits. */
export class F16KVStore implements TsKVStore {
  readonly type = 'f16' as const;
  readonly keys: Uint16Array;
  readonly values: Uint16Array;

  constructor(readonly capacity: number, readonly kvDim: number) {
    this.keys = new Uint16Array(capacity * kvDim);
    this.values = new Uint16Array(capacity * kvDim);
  }

  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  write(pos: number, k: Float32Array, v: Float32Array, n: number): void {
    checkWrite(this, pos, n, k, v);
    const len = n * this.kvDim;
    const o = pos * this.kvDim;
    for (let i = 0; i < len; i++) {
      this.keys[o + i] = f32ToF16(k[i]!);
      this.values[o + i] = f32ToF16(v[i]!);
    }
  }

  grow(capacity: number, keep: number): KVStore {
    const next = new F16KVStore(capacity, this.kvDim);
    next.keys.set(this.keys.subarray(0, keep * this.kvDim));
    next.values.set(this.values.subarray(0, keep * this.kvDim));
    return next;
  }

  f32Rows(len: number, scratch: KVScratch): { keys: Float32Array; values: Float32Array } {
    const size = len * this.kvDim;
    scratch.ensure(size);
    toF32('f16', this.keys.subarray(0, size), scratch.keys.subarray(0, size));
    toF32('f16', this.values.subarray(0, size), scratch.values.subarray(0, size));
    return scratch;
  }
}

/**
 * Keys and values as Q8_0 blocks: every position's row of kvDim values (a multiple of 32) is
 * quantized on write with the reference quantizer, 34 bytes per 32 values (≈ 0.27× f32), and
 * dequantized (d·q) for attention, whose math stays f32/f64. (llama.cpp instead quantizes the
 * queries to Q8_0 too and takes integer dots with a q8_0 K cache; that is a different, slightly
 * less accurate computation, not this reference's.)
 */
export class Q8KVStore implements TsKVStore {
  readonly type = 'q8_0' as const;
  readonly rowBytes: number;
  readonly keys: Uint8Array;
  readonly values: Uint8Array;

  constructor(readonly capacity: number, readonly kvDim: number) {
    if (kvDim <= 0 || kvDim % 32 !== 0) {
      throw new RangeError(`a q8_0 KV cache needs a KV width (kv heads × head dim) that is a multiple of 32, got ${kvDim}; use an f16 or f32 cache`);
    }
    this.rowBytes = quantRowBytes('q8_0', kvDim);
    this.keys = new Uint8Array(capacity * this.rowBytes);
    this.values = new Uint8Array(capacity * this.rowBytes);
  }

  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  write(pos: number, k: Float32Array, v: Float32Array, n: number): void {
    checkWrite(this, pos, n, k, v);
    const start = pos * this.rowBytes;
    const end = start + n * this.rowBytes;
    quantizeRows('q8_0', k, n, this.kvDim, this.keys.subarray(start, end));
    quantizeRows('q8_0', v, n, this.kvDim, this.values.subarray(start, end));
  }

  grow(capacity: number, keep: number): KVStore {
    const next = new Q8KVStore(capacity, this.kvDim);
    next.keys.set(this.keys.subarray(0, keep * this.rowBytes));
    next.values.set(this.values.subarray(0, keep * this.rowBytes));
    return next;
  }

  f32Rows(len: number, scratch: KVScratch): { keys: Float32Array; values: Float32Array } {
    const size = len * this.kvDim;
    scratch.ensure(size);
    dequantizeRows('q8_0', this.keys.subarray(0, len * this.rowBytes), len, this.kvDim, scratch.keys);
    dequantizeRows('q8_0', this.values.subarray(0, len * this.rowBytes), len, this.kvDim, scratch.values);
    return scratch;
  }
}

/** A store of the given type (q8_0 needs kvDim % 32 == 0). */
export function createTsKVStore(capacity: number, kvDim: number, type: KVCacheType): TsKVStore {
  if (!Number.isSafeInteger(capacity) || capacity < 0 || !Number.isSafeInteger(kvDim) || kvDim <= 0) {
    throw new RangeError(`KV store needs a capacity ≥ 0 and a width ≥ 1, got ${capacity} × ${kvDim}`);
  }
  switch (type) {
    case 'f32': return new F32KVStore(capacity, kvDim);
    case 'f16': return new F16KVStore(capacity, kvDim);
    case 'q8_0': return new Q8KVStore(capacity, kvDim);
    default: throw new RangeError(`unknown KV cache type ${String(type)} (f32, f16 or q8_0)`);
  }
}
