/**
 * Native KV cache writes and attention against the TypeScript reference, for f32, f16 and q8_0
 * caches, MHA and grouped-query layouts, head sizes that are and are not multiples of 32, prefill
 * (several queries, causal mask), prefill continued after cached positions, and decode — once per
 * instruction-set level.
 *
 * Both backends round K/V the same way on write (f16: round to nearest even; q8_0: the reference
 * quantizer), so the stored bytes must be identical, and attention then sees the same values.
 * Error bound per output value (u = 2⁻²⁴), derived in boundFor() below:
 *   |native − ts| ≤ (2Δ + (4S + L + 16)·u) · max_t |V[t, d]| + u·|ts|
 * where Δ bounds the error of any scaled score (the f32 dot bound of helpers/native.ts, times the
 * scale), S the largest |scaled score|, and L the number of visible positions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KVCacheType, KVStore } from '../../src/backend/backend.js';
import type { NativeKVStore } from '../../src/backend/native/kv-store.js';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { fromF32, toF32 } from '../../src/tensor/dtype.js';
import { dequantizeRows, quantizeRows } from '../../src/tensor/quant.js';
import { dotBound, forEachIsa, nativeBackend, randomArray, skipNative, U } from '../helpers/native.js';

const ts = new TsBackend();

interface Shape { nHeads: number; nKvHeads: number; headDim: number }
const SHAPES: Shape[] = [
  { nHeads: 4, nKvHeads: 4, headDim: 32 },   // MHA, one q8_0 block per head
  { nHeads: 8, nKvHeads: 2, headDim: 128 },  // GQA (4 query heads per KV head), XVERSE-13B's head size
  { nHeads: 8, nKvHeads: 4, headDim: 8 },    // stories260K: q8_0 blocks span several heads
  { nHeads: 3, nKvHeads: 1, headDim: 6 },    // odd sizes (f32 / f16 only: kvDim 6)
];
// Writes then attention calls: prefill from 0, a second prefill after cached positions, decode
// steps, and a long prefill that crosses the 64-position chunks.
const STEPS: Array<[startPos: number, n: number]> = [[0, 5], [5, 3], [8, 1], [9, 1], [10, 90], [100, 1]];

/** Keys/values as both backends store them, widened back to f32 (for the bound). */
function stored(type: KVCacheType, x: Float32Array, kvDim: number): Float32Array {
  if (type === 'f32') return x;
  if (type === 'f16') return toF32('f16', fromF32('f16', x));
  return dequantizeRows('q8_0', quantizeRows('q8_0', x, x.length / kvDim, kvDim), x.length / kvDim, kvDim);
}

/**
 * Derivation: a scaled score ŝ_t = fl(dot)·scale differs from the exact s_t by at most
 * Δ = dotBound·scale + u·|s_t|. exp(ŝ_t − max) then carries relative error ≤ 2Δ (the max shifts
 * cancel in the normalization) plus ≤ (2S + 4)·u from the f32 subtraction and expf; the decode
 * path's merge of per-chunk partials rescales each by exp(m_c − M), another ≤ (2S + 4)·u. The
 * weighted sums of L value rows in f32 (within and across chunks) add ≤ (L + 2)·u·Σ p_t|V_t|, the
 * final 1/sum scaling 2u, and Σ p_t|V_t| ≤ max_t |V_t|. The reference rounds its double result
 * once (u·|ts|).
 */
function boundFor(q: Float32Array, keys: Float32Array, values: Float32Array, i: number, startPos: number, s: Shape, scale: number): (h: number, d: number, ref: number) => number {
  const kvDim = s.nKvHeads * s.headDim, qDim = s.nHeads * s.headDim, group = s.nHeads / s.nKvHeads;
  const len = startPos + i + 1;
  return (h, d, ref) => {
    const g = Math.floor(h / group);
    let delta = 0, maxScore = 0, maxV = 0;
    for (let t = 0; t < len; t++) {
      let dot = 0, abs = 0;
      for (let j = 0; j < s.headDim; j++) {
        const p = q[i * qDim + h * s.headDim + j]! * keys[t * kvDim + g * s.headDim + j]!;
        dot += p;
        abs += Math.abs(p);
      }
      delta = Math.max(delta, dotBound(s.headDim, abs, dot) * scale + U * Math.abs(dot * scale));
      maxScore = Math.max(maxScore, Math.abs(dot * scale));
      maxV = Math.max(maxV, Math.abs(values[t * kvDim + g * s.headDim + d]!));
    }
    return (2 * delta + (4 * maxScore + len + 16) * U) * maxV + U * Math.abs(ref);
  };
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

test('KV writes store the same bytes as the reference (f16 rounding, q8_0 blocks) and attention matches TsBackend', { skip: skipNative }, () => {
  const be = nativeBackend();
  forEachIsa((level) => {
    for (const s of SHAPES) {
      const kvDim = s.nKvHeads * s.headDim, qDim = s.nHeads * s.headDim;
      const scale = 1 / Math.sqrt(s.headDim);
      for (const type of ['f32', 'f16', 'q8_0'] as const) {
        if (type === 'q8_0' && kvDim % 32 !== 0) continue;
        const capacity = 128;
        const nat = be.createKVStore(capacity, kvDim, type) as NativeKVStore;
        const ref = ts.createKVStore(capacity, kvDim, type);
        const allK = randomArray(capacity * kvDim, kvDim + 1, 2), allV = randomArray(capacity * kvDim, kvDim + 2, 3);
        const keys = stored(type, allK, kvDim), values = stored(type, allV, kvDim);
        for (const [start, n] of STEPS) {
          const k = allK.subarray(start * kvDim, (start + n) * kvDim), v = allV.subarray(start * kvDim, (start + n) * kvDim);
          nat.write(start, k, v, n);
          ref.write(start, k, v, n);
          const q = randomArray(n * qDim, start * 31 + n, 2);
          const got = new Float32Array(n * qDim).fill(NaN), want = new Float32Array(n * qDim);
          be.attention(got, q, nat, n, start, s.nHeads, s.nKvHeads, s.headDim, scale);
          ts.attention(want, q, ref, n, start, s.nHeads, s.nKvHeads, s.headDim, scale);
          for (let i = 0; i < n; i++) {
            const bound = boundFor(q, keys, values, i, start, s, scale);
            for (let h = 0; h < s.nHeads; h++) {
              for (let d = 0; d < s.headDim; d++) {
                const o = i * qDim + h * s.headDim + d;
                const b = bound(h, d, want[o]!);
                if (!(Math.abs(got[o]! - want[o]!) <= b)) {
                  assert.fail(`${level} ${type} ${JSON.stringify(s)} start=${start} n=${n}: out[${i}, ${h}, ${d}] = ${got[o]}, reference ${want[o]}, bound ${b}`);
                }
              }
            }
          }
        }
        const len = 101 * (type === 'f32' ? kvDim * 4 : type === 'f16' ? kvDim * 2 : (kvDim / 32) * 34);
        const refKeys = type === 'f32' ? fromF32('f32', allK) : type === 'f16' ? fromF32('f16', allK) : quantizeRows('q8_0', allK, capacity, kvDim);
        assert.ok(bytesOf(nat.keys).subarray(0, len).equals(bytesOf(refKeys).subarray(0, len)), `${level} ${type} stored key bytes`);
      }
    }
  });
});

test('KV stores grow keeping their positions, refuse writes past capacity, and q8_0 needs kvDim % 32 = 0', { skip: skipNative }, () => {
  const be = nativeBackend();
  assert.equal(be.defaultKVCacheType, 'f16');
  const store: KVStore = be.createKVStore(2, 32);
  assert.equal(store.type, 'f16');
  assert.equal(store.bytes, 2 * 2 * 32 * 2);
  const k = randomArray(64, 1), v = randomArray(64, 2);
  store.write(0, k, v, 2);
  assert.throws(() => store.write(1, k, v, 2), /KV store holds 2 positions, write reaches 3/);
  const grown = store.grow(4, 2);
  grown.write(2, k, v, 2);
  const q = randomArray(64, 3);
  const a = new Float32Array(32), b = new Float32Array(32);
  be.attention(a, q.subarray(0, 32), store, 1, 1, 1, 1, 32, 0.2);
  be.attention(b, q.subarray(0, 32), grown, 1, 1, 1, 1, 32, 0.2);
  assert.deepEqual(a, b);
  assert.throws(() => be.createKVStore(4, 48, 'q8_0'), /a q8_0 KV cache needs kvDim to be a multiple of 32, got 48/);
  assert.throws(() => be.attention(a, q, ts.createKVStore(4, 32), 1, 0, 1, 1, 32, 1), /KV store was not created by the native backend/);
});
