/**
 * Native kernels against the TypeScript reference backend, in the style of ggml's test-backend-ops:
 * every kernel and weight type on seeded random data, at odd sizes (k = 1, 7, 31, 33, 100, 4097
 * — not multiples of any SIMD width — and n = 1, 3, 17, 40 tokens), once per instruction-set level
 * the CPU runs (scalar, avx2, avx512 / neon), switched in-process with setIsa.
 *
 * Error bounds (u = 2⁻²⁴, the f32 unit roundoff):
 * - float-weight matmul: |native − ts| ≤ (⌈k/4⌉ + 6)·u·Σ|wᵢxᵢ| + u·|ts| per output (helpers/native.ts
 *   derives it: f32 partial sums in the kernels, one rounding of a double sum in the reference);
 * - block-weight matmul (q8_0, q4_0): both sides quantize activations with the same reference
 *   quantizer (byte-identical) and take exact integer block dots, so they differ only in the order
 *   of the f32 scale-and-accumulate steps: |native − ts| ≤ (2·nb + 8)·u·Σ|ŵᵢx̂ᵢ| + u·|ts|, nb = k/32
 *   blocks, ŵ, x̂ the dequantized weights and activations;
 * - embed / toF32 (widening, dequantizing), rmsNorm, add, quantize (bytes): exactly equal;
 * - rope: within 2 ulp (libm's cos/sin against V8's); siluMul: within 8·u relative (f32 exp).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { fromF32, toF32, type DType, type QuantType, type Storage } from '../../src/tensor/dtype.js';
import { convertTensor } from '../../src/tensor/convert.js';
import { dequantizeRows, quantizeRows } from '../../src/tensor/quant.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { addon, dotBound, forEachIsa, nativeBackend, randomArray, skipNative, U } from '../helpers/native.js';

const ts = new TsBackend();
const KS = [1, 7, 31, 33, 100, 4097];
const NS = [1, 3, 17, 40];
const ROWS = 37; // not a multiple of the kernels' 4/8-row blocks; splits into several thread tiles

function floatTensor(dtype: DType, values: Float32Array, rows: number, cols: number): { t: Tensor; widened: Float32Array } {
  const data = fromF32(dtype, values);
  return { t: { dtype, shape: [rows, cols], data }, widened: toF32(dtype, data as Storage) };
}

/** Checks every output of native against ts: |diff| ≤ bound(absSum, ref). */
function checkMatmul(label: string, got: Float32Array, want: Float32Array, w: Float32Array, x: Float32Array,
  rows: number, k: number, n: number, bound: (absSum: number, ref: number) => number): void {
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      let absSum = 0;
      for (let i = 0; i < k; i++) absSum += Math.abs(w[r * k + i]! * x[t * k + i]!);
      const ref = want[t * rows + r]!;
      const diff = Math.abs(got[t * rows + r]! - ref);
      if (!(diff <= bound(absSum, ref))) assert.fail(`${label}: out[${t}, ${r}] = ${got[t * rows + r]}, reference ${ref}, |diff| ${diff} > bound ${bound(absSum, ref)}`);
    }
  }
}

test('matmul with f32, f16 and bf16 weights matches TsBackend within the f32 summation bound, at every ISA level', { skip: skipNative }, () => {
  const be = nativeBackend();
  forEachIsa((level) => {
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      for (const k of KS) {
        const { t, widened } = floatTensor(dtype, randomArray(ROWS * k, k * 7 + 1), ROWS, k);
        const mn = be.uploadMatrix(t), mt = ts.uploadMatrix(t);
        for (const n of NS) {
          const x = randomArray(n * k, k * 13 + n, 2);
          const got = new Float32Array(n * ROWS).fill(NaN), want = new Float32Array(n * ROWS);
          be.matmul(got, x, mn, n);
          ts.matmul(want, x, mt, n);
          checkMatmul(`${level} ${dtype} k=${k} n=${n}`, got, want, widened, x, ROWS, k, n, (s, ref) => dotBound(k, s, ref));
        }
      }
    }
  });
});

test('matmul with q8_0 and q4_0 weights matches TsBackend (same quantized activations, f32 block sums)', { skip: skipNative }, () => {
  const be = nativeBackend();
  forEachIsa((level) => {
    for (const type of ['q8_0', 'q4_0'] as const) {
      for (const k of [32, 96, 160, 4128]) {
        const blocks = quantizeRows(type, randomArray(ROWS * k, k + 3), ROWS, k);
        const t: Tensor = { dtype: type, shape: [ROWS, k], data: blocks };
        const w = dequantizeRows(type, blocks, ROWS, k);
        const mn = be.uploadMatrix(t), mt = ts.uploadMatrix(t);
        for (const n of NS) {
          const x = randomArray(n * k, k * 5 + n, 3);
          const xq = dequantizeRows('q8_0', quantizeRows('q8_0', x, n, k), n, k);
          const got = new Float32Array(n * ROWS).fill(NaN), want = new Float32Array(n * ROWS);
          be.matmul(got, x, mn, n);
          ts.matmul(want, x, mt, n);
          checkMatmul(`${level} ${type} k=${k} n=${n}`, got, want, w, xq, ROWS, k, n,
            (s, ref) => (2 * (k / 32) + 8) * U * s + U * Math.abs(ref));
        }
      }
    }
  });
});

test('embed and toF32 widen f32, f16, bf16 rows and dequantize q8_0, q4_0 rows exactly as TsBackend', { skip: skipNative }, () => {
  const be = nativeBackend();
  forEachIsa((level) => {
    for (const cols of [1, 7, 33, 100, 4097, 96]) {
      const values = randomArray(5 * cols, cols, 4);
      const tables: Tensor[] = (['f32', 'f16', 'bf16'] as const).map((d) => floatTensor(d, values, 5, cols).t);
      if (cols % 32 === 0) for (const q of ['q8_0', 'q4_0'] as const) tables.push({ dtype: q, shape: [5, cols], data: quantizeRows(q, values, 5, cols) });
      for (const t of tables) {
        const ids = [4, 0, 2, 2];
        const got = new Float32Array(ids.length * cols).fill(NaN), want = new Float32Array(ids.length * cols);
        be.embed(got, be.uploadMatrix(t), ids);
        ts.embed(want, ts.uploadMatrix(t), ids);
        assert.deepEqual(got, want, `${level} ${t.dtype} cols=${cols}`);
      }
    }
  });
  assert.throws(() => be.embed(new Float32Array(4), be.uploadMatrix({ dtype: 'f32', shape: [2, 2], data: new Float32Array(4) }), [2]),
    /token id 2 is outside the vocabulary \(0…1\)/);
});

test('quantize (f32, f16, bf16 → q8_0, q4_0) is byte-identical to the reference quantizer, multi-threaded', { skip: skipNative }, () => {
  const be = nativeBackend();
  forEachIsa((level) => {
    for (const [rows, cols] of [[1, 32], [3, 96], [67, 4128], [2, 4096 * 4]] as const) {
      const values = randomArray(rows * cols, rows * cols, 5);
      values[3] = 0; // an all-but-zero block edge and exact ties exercise roundf
      for (let i = 32; i < Math.min(64, values.length); i++) values[i] = (i - 48) * 0.5;
      for (const dtype of ['f32', 'f16', 'bf16'] as const) {
        const src = floatTensor(dtype, values, rows, cols).t;
        for (const type of ['q8_0', 'q4_0'] as QuantType[]) {
          const got = be.quantize(src, type), want = convertTensor(src, type);
          assert.equal(got.dtype, type);
          assert.deepEqual(got.shape, src.shape);
          assert.ok(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength)),
            `${level} ${dtype} → ${type} [${rows}, ${cols}] differs from quant.ts`);
        }
      }
    }
  });
  assert.throws(() => be.quantize({ dtype: 'f32', shape: [2, 33], data: new Float32Array(66) }, 'q8_0'), /q8_0 needs a multiple of 32 columns, got 33/);
});

test('rmsNorm and add equal TsBackend exactly; rope within 2 ulp; siluMul within 8·u relative', { skip: skipNative }, () => {
  const be = nativeBackend();
  forEachIsa((level) => {
    for (const [n, dim] of [[1, 1], [3, 7], [17, 100], [2, 4097]] as const) {
      const x = randomArray(n * dim, dim + n, 3), w = randomArray(dim, dim, 2);
      const a = new Float32Array(n * dim), b = new Float32Array(n * dim);
      be.rmsNorm(a, x, w, n, dim, 1e-6);
      ts.rmsNorm(b, x, w, n, dim, 1e-6);
      assert.deepEqual(a, b, `${level} rmsNorm n=${n} dim=${dim}`);
      const y = randomArray(n * dim, dim * 3 + n, 3);
      const s1 = x.slice(), s2 = x.slice();
      be.add(s1, y, n * dim);
      ts.add(s2, y, n * dim);
      assert.deepEqual(s1, s2, `${level} add`);
      const g1 = x.slice(), g2 = x.slice();
      be.siluMul(g1, y, n * dim);
      ts.siluMul(g2, y, n * dim);
      for (let i = 0; i < n * dim; i++) assert.ok(Math.abs(g1[i]! - g2[i]!) <= 8 * U * Math.abs(g2[i]!) + 1e-38, `${level} siluMul ${i}: ${g1[i]} vs ${g2[i]}`);
    }
    // Long enough (2^17 values) to be split across the thread pool.
    const big = randomArray(1 << 17, 99, 8), other = randomArray(1 << 17, 98, 2);
    const p = big.slice(), q = big.slice();
    be.siluMul(p, other, big.length);
    ts.siluMul(q, other, big.length);
    for (let i = 0; i < big.length; i++) if (!(Math.abs(p[i]! - q[i]!) <= 8 * U * Math.abs(q[i]!) + 1e-38)) assert.fail(`${level} siluMul (pool) ${i}: ${p[i]} vs ${q[i]}`);
    for (const [n, heads, headDim, start] of [[1, 1, 2, 0], [5, 3, 8, 7], [3, 4, 128, 4000], [2, 2, 64, 70000]] as const) {
      const invFreq = Float32Array.from({ length: headDim / 2 }, (_, j) => 10000 ** ((-2 * j) / headDim));
      const r1 = randomArray(n * heads * headDim, headDim + start, 2), r2 = r1.slice();
      be.rope(r1, n, heads, headDim, start, invFreq);
      ts.rope(r2, n, heads, headDim, start, invFreq);
      for (let i = 0; i < r1.length; i++) {
        assert.ok(Math.abs(r1[i]! - r2[i]!) <= 2 * 2 * U * Math.abs(r2[i]!) + 1e-37, `${level} rope ${i}: ${r1[i]} vs ${r2[i]}`);
      }
    }
  });
});

test('the addon rejects wrong types, short arrays and bad sizes with one-line errors', { skip: skipNative }, () => {
  const a = addon!;
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => a.matmul(f(4), f(6), f(6), 0, 2, 3, 3), { name: 'RangeError', message: 'matmul: out holds 4 values, needs 6' });
  assert.throws(() => a.matmul(f(6), f(9), f(5), 0, 2, 3, 3), { name: 'RangeError', message: 'matmul: w holds 20 bytes, needs 24' });
  assert.throws(() => a.matmul(f(6), new Uint8Array(36) as unknown as Float32Array, f(6), 0, 2, 3, 3), { name: 'TypeError', message: 'matmul: x must be a Float32Array' });
  assert.throws(() => a.matmul(f(6), f(9), f(6), 7, 2, 3, 3), /matmul: wtype must be an integer in \[0, 4\], got 7/);
  assert.throws(() => a.matmul(f(6), f(9), f(6), 0, 2.5, 3, 3), /matmul: rows must be an integer/);
  assert.throws(() => a.matmul(f(2), f(33), new Uint8Array(34), 3, 1, 33, 1), /q8_0 weights need a multiple of 32 columns, got 33/);
  const x = f(8);
  assert.throws(() => a.matmul(x.subarray(0, 4), x.subarray(2, 6), f(16), 0, 4, 4, 1), /out and x must not overlap/);
  assert.throws(() => a.kvWrite(new Uint8Array(68), new Uint8Array(68), 3, 33, 0, f(33), f(33), 1), /a q8_0 KV cache needs kvDim to be a multiple of 32, got 33/);
  assert.throws(() => a.attention(f(8), f(8), new Uint8Array(32), new Uint8Array(32), 0, 8, 1, 0, 3, 2, 4, 1), /nHeads \(3\) must be a multiple of nKvHeads \(2\)/);
  assert.throws(() => a.setIsa('sse9'), /instruction set "sse9" is not available on this CPU \(available: scalar/);
  assert.throws(() => (a.matmul as unknown as (x: Float32Array) => void)(f(1)), /matmul: expects 7 arguments, got 1/);
});

test('threads: setThreads resizes the pool and products are the same with 1, 2 and 3 threads', { skip: skipNative }, () => {
  const a = addon!;
  const before = a.info().threads;
  try {
    const k = 1000, rows = 301, n = 9;
    const w = randomArray(rows * k, 5), x = randomArray(n * k, 6);
    const results: Float32Array[] = [];
    for (const threads of [1, 2, 3]) {
      assert.equal(a.setThreads(threads), threads);
      assert.equal(a.info().threads, threads);
      const out = new Float32Array(n * rows);
      a.matmul(out, x, w, 0, rows, k, n);
      results.push(out);
    }
    // Tiles never split a dot product, so the thread count cannot change any result.
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  } finally {
    a.setThreads(before);
  }
});
