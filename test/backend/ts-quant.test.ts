import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KVCacheType } from '../../src/backend/backend.js';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { f16ToF32, f32ToF16, type QuantType } from '../../src/tensor/dtype.js';
import { dequantizeRows, quantizeRows } from '../../src/tensor/quant.js';
import { seededRandom } from '../helpers/synthetic-model.js';

const be = new TsBackend();
const U = 2 ** -24; // f32 unit roundoff
const fround = Math.fround;

function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

function upload(type: QuantType, w: Float32Array, rows: number, cols: number) {
  const blocks = quantizeRows(type, w, rows, cols);
  return { blocks, m: be.uploadMatrix({ dtype: type, shape: [rows, cols], data: blocks }) };
}

/** One block's integer quants and f32 scale, read from the raw bytes the plain way. */
function blockOf(type: QuantType, bytes: Uint8Array, index: number): { d: number; q: number[] } {
  const size = type === 'q8_0' ? 34 : 18;
  const o = index * size;
  const d = f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
  const q: number[] = [];
  for (let j = 0; j < 32; j++) {
    if (type === 'q8_0') q.push((bytes[o + 2 + j]! << 24) >> 24);
    else q.push(((j < 16 ? bytes[o + 2 + j]! : bytes[o + 2 + j - 16]! >>> 4) & 15) - 8);
  }
  return { d, q };
}

/**
 * The documented semantics, written as plainly as possible: activations → Q8_0 (reference
 * quantizer); per block isum = Σ qw·qx; f32 accumulation in ggml's order. `exact` computes the
 * same sum in doubles (no f32 rounding) and `magnitude` Σ_b |dw·dx·isum| for the rounding bound.
 */
function spec(type: QuantType, w: Uint8Array, x: Float32Array, rows: number, cols: number, n: number) {
  const xq = quantizeRows('q8_0', x.subarray(0, n * cols), n, cols);
  const nb = cols / 32;
  const f32 = new Float32Array(n * rows);
  const exact = new Float64Array(n * rows);
  const magnitude = new Float64Array(n * rows);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < rows; r++) {
      let sum = 0, sum64 = 0, mag = 0;
      for (let b = 0; b < nb; b++) {
        const wb = blockOf(type, w, r * nb + b);
        const xb = blockOf('q8_0', xq, i * nb + b);
        let isum = 0;
        for (let j = 0; j < 32; j++) isum += wb.q[j]! * xb.q[j]!;
        const term = type === 'q8_0' ? fround(isum * fround(wb.d * xb.d)) : fround(fround(isum * wb.d) * xb.d);
        sum = fround(sum + term);
        sum64 += wb.d * xb.d * isum;
        mag += Math.abs(wb.d * xb.d * isum);
      }
      f32[i * rows + r] = sum;
      exact[i * rows + r] = sum64;
      magnitude[i * rows + r] = mag;
    }
  }
  return { f32, exact, magnitude, xq };
}

// Shapes that exercise the 4-row kernels and their remainders, one-block rows, and odd n.
const shapes: Array<[rows: number, cols: number, n: number]> = [[1, 32, 1], [7, 64, 3], [33, 96, 5], [64, 352, 2], [130, 128, 1]];

for (const type of ['q8_0', 'q4_0'] as const) {
  test(`${type} matmul equals the documented integer formula bit for bit, and its f64 value to f32 rounding`, () => {
    let seed = 10;
    for (const [rows, cols, n] of shapes) {
      const { blocks, m } = upload(type, randomArray(rows * cols, seed++, 0.1), rows, cols);
      assert.equal(m.rows, rows);
      assert.equal(m.cols, cols);
      assert.equal(m.bytes, blocks.length);
      const x = randomArray(n * cols + 5, seed++, 2); // longer than needed: only n rows are read
      const out = new Float32Array(n * rows);
      be.matmul(out, x, m, n);
      const s = spec(type, blocks, x, rows, cols, n);
      for (let o = 0; o < out.length; o++) {
        assert.equal(out[o], s.f32[o], `${rows}×${cols}, n=${n}, output ${o}`);
        // f32 rounding: 2 roundings per block term and nb−1 additions, each ≤ U relative.
        const bound = (cols / 32 + 2) * U * s.magnitude[o]!;
        assert.ok(Math.abs(out[o]! - s.exact[o]!) <= bound, `output ${o}: ${out[o]} vs f64 ${s.exact[o]}`);
      }
    }
  });

  test(`${type} matmul vs f32 math on the dequantized weights: the gap is activation quantization, within its bound`, (t) => {
    // Relative to multiplying the dequantized weights ŵ with f32 activations x, quantizing x moves
    // each value by at most e_b = dx/2 + 127·|dx − f16(dx)| (+ f32 slack; see quant.test.ts), so
    // |gap| ≤ Σ_b e_b · Σ_j |ŵ_bj| + f32 rounding of both sides. Typical gaps are a random walk,
    // ~√cols · rms(ŵ) · dx/√12: about 1e-3 relative to the outputs here.
    const [rows, cols, n] = [48, 256, 3];
    const { blocks, m } = upload(type, randomArray(rows * cols, 20, 0.1), rows, cols);
    const x = randomArray(n * cols, 21, 3);
    const out = new Float32Array(n * rows);
    be.matmul(out, x, m, n);
    const wHat = dequantizeRows(type, blocks, rows, cols);
    const f32m = be.uploadMatrix({ dtype: 'f32', shape: [rows, cols], data: wHat });
    const ref = new Float32Array(n * rows);
    be.matmul(ref, x, f32m, n);
    let worst = 0;
    let gapSquares = 0;
    let modelSquares = 0;
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < rows; r++) {
        let bound = 0;
        let mag = 0;
        let variance = 0;
        for (let b = 0; b < cols / 32; b++) {
          let amax = 0;
          let wAbs = 0;
          let wSquares = 0;
          for (let j = 0; j < 32; j++) {
            const xv = x[i * cols + b * 32 + j]!;
            const wv = wHat[r * cols + b * 32 + j]!;
            amax = Math.max(amax, Math.abs(xv));
            wAbs += Math.abs(wv);
            wSquares += wv * wv;
            mag += Math.abs(xv * wv);
          }
          const dx = fround(amax / 127);
          bound += (dx / 2 + 127 * Math.abs(dx - f16ToF32(f32ToF16(dx))) + dx * 2 ** -16) * wAbs;
          variance += (wSquares * dx * dx) / 12; // rounding errors uniform in ±dx/2
        }
        bound += (cols + 2) * U * 2 * mag;
        const gap = Math.abs(out[i * rows + r]! - ref[i * rows + r]!);
        assert.ok(gap <= bound, `row ${i}, output ${r}: gap ${gap} > bound ${bound}`);
        worst = Math.max(worst, gap / bound);
        gapSquares += gap * gap;
        modelSquares += variance;
      }
    }
    // The worst case is far from reached (errors cancel), and the typical gap is the random-walk
    // size: the measured RMS gap is within ±30 % of the model's (so activations really are quantized).
    const ratio = Math.sqrt(gapSquares / modelSquares);
    t.diagnostic(`worst gap ${worst.toFixed(3)} of the bound; RMS gap ${Math.sqrt(gapSquares / (n * rows)).toExponential(2)} = ${ratio.toFixed(3)} × the random-walk model`);
    assert.ok(worst < 0.5, `worst gap ${worst} of the bound`);
    assert.ok(ratio > 0.7 && ratio < 1.3, `RMS gap / random-walk model = ${ratio}`);
  });

  test(`${type} embed dequantizes the table row (d·q) exactly`, () => {
    const [rows, cols] = [5, 64];
    const { blocks, m } = upload(type, randomArray(rows * cols, 30), rows, cols);
    const out = new Float32Array(3 * cols);
    be.embed(out, m, [4, 0, 4]);
    const table = dequantizeRows(type, blocks, rows, cols);
    assert.deepEqual(Array.from(out.subarray(0, cols)), Array.from(table.subarray(4 * cols)));
    assert.deepEqual(Array.from(out.subarray(cols, 2 * cols)), Array.from(table.subarray(0, cols)));
    assert.deepEqual(Array.from(out.subarray(2 * cols)), Array.from(table.subarray(4 * cols)));
    assert.throws(() => be.embed(out, m, [5]), /token id 5 is outside the vocabulary/);
  });
}

test('large block sums: the f32 rounding order of each block term is ggml\'s (the data can tell the orders apart)', (t) => {
  // dw·dx is exact in f32 (two 11-bit f16 significands), so Q8_0's isum·(dw·dx) is the correctly
  // rounded product, while Q4_0's (isum·dw)·dx rounds twice when isum·dw needs more than 24 bits.
  // Weights and activations with aligned signs and magnitudes near the block maximum make |isum|
  // large (~2^15 for Q4_0, ~2^19 for Q8_0), so the two orders give different f32 results often.
  const [rows, cols, n] = [64, 256, 3];
  const rand = seededRandom(70);
  const signs = Array.from({ length: cols }, () => (rand() < 0.5 ? -1 : 1));
  const w = Float32Array.from({ length: rows * cols }, (_, i) => signs[i % cols]! * (0.9 + 0.1 * rand()));
  const x = Float32Array.from({ length: n * cols }, (_, i) => signs[i % cols]! * (0.9 + 0.1 * rand()));
  for (const type of ['q8_0', 'q4_0'] as const) {
    const { blocks, m } = upload(type, w, rows, cols);
    const out = new Float32Array(n * rows);
    be.matmul(out, x, m, n);
    const s = spec(type, blocks, x, rows, cols, n);
    assert.deepEqual(Array.from(out), Array.from(s.f32), type);
    // The other order, for contrast.
    let differing = 0;
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < rows; r++) {
        let sum = 0;
        for (let b = 0; b < cols / 32; b++) {
          const wb = blockOf(type, blocks, r * (cols / 32) + b);
          const xb = blockOf('q8_0', s.xq, i * (cols / 32) + b);
          let isum = 0;
          for (let j = 0; j < 32; j++) isum += wb.q[j]! * xb.q[j]!;
          sum = fround(sum + (type === 'q8_0' ? fround(fround(isum * wb.d) * xb.d) : fround(isum * fround(wb.d * xb.d))));
        }
        if (sum !== out[i * rows + r]) differing++;
      }
    }
    t.diagnostic(`${type}: ${differing} of ${n * rows} outputs depend on the order`);
    assert.ok(differing >= 4, `${type}: only ${differing} of ${n * rows} outputs depend on the order`);
  }
});

test('uploadMatrix checks block weights: 2-D, a multiple of 32 columns, the right byte count', () => {
  assert.throws(() => be.uploadMatrix({ dtype: 'q8_0', shape: [2, 48], data: new Uint8Array(2 * 51) }), /multiple of 32 columns/);
  assert.throws(() => be.uploadMatrix({ dtype: 'q4_0', shape: [2, 64], data: new Uint8Array(71) }), /72 bytes/);
  assert.throws(() => be.uploadMatrix({ dtype: 'q8_0', shape: [64], data: new Uint8Array(68) }), /2-D/);
  const { m } = upload('q8_0', randomArray(64, 1), 2, 32);
  assert.throws(() => be.matmul(new Float32Array(4), new Float32Array(32), m, 2), /64 need|holds 32 values/);
});

test('q8_0 matmul reads weights at any byte offset (blocks inside a larger file buffer)', () => {
  const [rows, cols] = [5, 64];
  const w = randomArray(rows * cols, 40);
  const blocks = quantizeRows('q8_0', w, rows, cols);
  const file = new Uint8Array(blocks.length + 3);
  file.set(blocks, 3); // odd offset: no typed-array alignment to rely on
  const aligned = be.uploadMatrix({ dtype: 'q8_0', shape: [rows, cols], data: blocks });
  const shifted = be.uploadMatrix({ dtype: 'q8_0', shape: [rows, cols], data: file.subarray(3) });
  const x = randomArray(2 * cols, 41);
  const a = new Float32Array(2 * rows);
  const b = new Float32Array(2 * rows);
  be.matmul(a, x, aligned, 2);
  be.matmul(b, x, shifted, 2);
  assert.deepEqual(Array.from(b), Array.from(a));
});

// ---- KV cache types ----------------------------------------------------------------------------

/** What a type stores for a row of kvDim values, widened back to f32. */
function stored(type: KVCacheType, row: Float32Array): Float32Array {
  if (type === 'f32') return row;
  if (type === 'f16') return Float32Array.from(row, (v) => f16ToF32(f32ToF16(v)));
  return dequantizeRows('q8_0', quantizeRows('q8_0', row, row.length / 32, 32), row.length / 32, 32);
}

// GQA: 4 query heads on 2 KV heads of 16 dims, so kvDim = 32 and each q8_0 block spans both heads.
const [H, KVH, HD] = [4, 2, 16];
const KVD = KVH * HD;
const SCALE = 1 / Math.sqrt(HD);
const [FIRST, SECOND] = [5, 3]; // positions written in two calls; the 3 newest are queried

function attend(type: KVCacheType, keys: Float32Array, values: Float32Array, q: Float32Array): Float32Array {
  const store = be.createKVStore(8, KVD, type);
  store.write(0, keys.subarray(0, FIRST * KVD), values.subarray(0, FIRST * KVD), FIRST);
  store.write(FIRST, keys.subarray(FIRST * KVD), values.subarray(FIRST * KVD), SECOND);
  const out = new Float32Array(SECOND * H * HD);
  be.attention(out, q, store, SECOND, FIRST, H, KVH, HD, SCALE);
  return out;
}

for (const type of ['f16', 'q8_0'] as const) {
  test(`${type} KV cache: attention equals f32 attention on the rounded keys/values, within the documented bound of f32`, (t) => {
    const len = FIRST + SECOND;
    const keys = randomArray(len * KVD, 50, 2);
    const values = randomArray(len * KVD, 51, 2);
    const q = randomArray(SECOND * H * HD, 52, 2);
    const out = attend(type, keys, values, q);
    // Semantics: the store rounds on write and attention widens, nothing else.
    const roundedKeys = stored(type, keys);
    const roundedValues = stored(type, values);
    assert.deepEqual(Array.from(out), Array.from(attend('f32', roundedKeys, roundedValues, q)));
    // Accuracy vs f32: if every score moves by ≤ ε, every softmax weight moves by a factor within
    // e^{±2ε}, so |Δout| ≤ (e^{2ε} − 1)·max|v̂| + max|v − v̂|, with ε = scale·max_t Σ_d |q_d|·|k − k̂|.
    // (f16: |k − k̂| ≤ 2^-11·|k|; q8_0: ≤ d/2 + 127·|d − f16(d)| per block, see quant.test.ts.)
    const exact = attend('f32', keys, values, q);
    let maxV = 0;
    let maxDv = 0;
    for (let i = 0; i < values.length; i++) {
      maxV = Math.max(maxV, Math.abs(roundedValues[i]!));
      maxDv = Math.max(maxDv, Math.abs(values[i]! - roundedValues[i]!));
    }
    let worstDiff = 0;
    let worstShare = 0;
    for (let i = 0; i < SECOND; i++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / KVH));
        let eps = 0;
        for (let t = 0; t <= FIRST + i; t++) {
          let e = 0;
          for (let d = 0; d < HD; d++) {
            const k = t * KVD + g * HD + d;
            e += Math.abs(q[(i * H + h) * HD + d]!) * Math.abs(keys[k]! - roundedKeys[k]!);
          }
          eps = Math.max(eps, e * SCALE);
        }
        const bound = Math.expm1(2 * eps) * maxV + maxDv + 1e-6;
        for (let d = 0; d < HD; d++) {
          const o = (i * H + h) * HD + d;
          const diff = Math.abs(out[o]! - exact[o]!);
          assert.ok(diff <= bound, `query ${i} head ${h} dim ${d}: ${diff} > ${bound}`);
          worstDiff = Math.max(worstDiff, diff);
          worstShare = Math.max(worstShare, diff / bound);
        }
      }
    }
    t.diagnostic(`max |out − f32 out| = ${worstDiff.toExponential(2)} (${(100 * worstShare).toFixed(0)} % of its bound); max |v − v̂| = ${maxDv.toExponential(2)}`);
    // Rounding did change the result (a store that kept f32 would fail here).
    assert.ok(worstDiff > (type === 'f16' ? 1e-5 : 1e-3), `largest difference from f32: ${worstDiff}`);
  });

  test(`${type} KV store: size, grow keeps the first positions, bounds checks`, () => {
    const store = be.createKVStore(4, KVD, type);
    assert.equal(store.type, type);
    assert.equal(store.bytes, type === 'f16' ? 4 * KVD * 2 * 2 : 4 * (KVD / 32) * 34 * 2);
    const keys = randomArray(3 * KVD, 60);
    const values = randomArray(3 * KVD, 61);
    store.write(0, keys, values, 3);
    const q = randomArray(H * HD, 62);
    const before = new Float32Array(H * HD);
    be.attention(before, q, store, 1, 2, H, KVH, HD, SCALE);
    const bigger = store.grow(16, 3);
    assert.equal(bigger.capacity, 16);
    const after = new Float32Array(H * HD);
    be.attention(after, q, bigger, 1, 2, H, KVH, HD, SCALE);
    assert.deepEqual(Array.from(after), Array.from(before));
    assert.throws(() => store.write(3, keys, values, 2), /holds 4 positions, write reaches 5/);
  });
}

test('q8_0 KV cache needs rows that are a multiple of 32 values', () => {
  assert.throws(() => be.createKVStore(4, 48, 'q8_0'), (e: unknown) => e instanceof RangeError && /multiple of 32, got 48/.test(e.message));
  assert.equal(be.createKVStore(4, 48, 'f16').kvDim, 48);
  assert.throws(() => be.createKVStore(4, 32, 'bf16' as KVCacheType), /unknown KV cache type bf16/);
});
