import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { f32ToBf16, f32ToF16, f16ToF32, bf16ToF32, fromF32 } from '../../src/tensor/dtype.js';

const be = new TsBackend();
const close = (a: ArrayLike<number>, b: number[], tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('f16 and bf16 conversions: exact values, rounding to nearest even, specials', () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-2), 0xc000);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(65520), 0x7c00, 'rounds up to infinity');
  assert.equal(f32ToF16(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00, 'tie rounds to even (down)');
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02, 'tie rounds to even (up)');
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  assert.equal(f16ToF32(0x0001), 2 ** -24);
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80, 'bf16 tie to even');
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(bf16ToF32(0xc0a0), -5);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
});

test('matmul: f32, f16 and bf16 weights give x·Wᵀ', () => {
  const w = Float32Array.from([1, 2, 3, -1, 0.5, 0.25]); // 2 × 3
  const x = Float32Array.from([1, 1, 1, 2, 0, -4]); // 2 × 3
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    const m = be.uploadMatrix({ dtype, shape: [2, 3], data: fromF32(dtype, w) });
    const out = new Float32Array(4);
    be.matmul(out, x, m, 2);
    close(out, [6, -0.25, -10, -3], 0);
  }
});

test('embed rejects ids outside the vocabulary', () => {
  const m = be.uploadMatrix({ dtype: 'f32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) });
  const out = new Float32Array(4);
  be.embed(out, m, [1, 0]);
  close(out, [3, 4, 1, 2], 0);
  assert.throws(() => be.embed(out, m, [2]), /token id 2 is outside the vocabulary/);
});

test('rmsNorm: x / sqrt(mean(x²) + eps) · w', () => {
  const out = new Float32Array(2);
  be.rmsNorm(out, Float32Array.from([3, 4]), Float32Array.from([1, 2]), 1, 2, 0);
  const r = Math.sqrt(12.5);
  close(out, [3 / r, 8 / r]);
});

test('rope (rotate_half): pairs (j, j + d/2) rotate by pos·invFreq[j]', () => {
  const x = Float32Array.from([1, 0, 0, 1]);
  be.rope(x, 1, 1, 4, 1, Float32Array.from([1, 0.01]));
  close(x, [Math.cos(1), -Math.sin(0.01), Math.sin(1), Math.cos(0.01)]);
});

test('siluMul and add', () => {
  const g = Float32Array.from([0, 1, -2]);
  be.siluMul(g, Float32Array.from([5, 2, 1]), 3);
  close(g, [0, 2 / (1 + Math.exp(-1)), -2 / (1 + Math.exp(2))]);
  const a = Float32Array.from([1, 2]);
  be.add(a, Float32Array.from([0.5, -2]), 2);
  close(a, [1.5, 0]);
});

test('attention: causal softmax over cached positions, grouped-query head mapping', () => {
  // 2 query heads share 1 KV head (headDim 2); 2 positions.
  const store = be.createKVStore(4, 2);
  store.write(0, Float32Array.from([1, 0, 0, 1]), Float32Array.from([10, 20, 30, 40]), 2);
  const q = Float32Array.from([
    1, 0, 0, 0, // position 0: only key 0 visible → out = v0 for both heads
    0, 0, 2, 0, // position 1: head 0 has equal scores → mean; head 1 favours key 0
  ]);
  const out = new Float32Array(8);
  be.attention(out, q, store, 2, 0, 2, 1, 2, 1);
  const p0 = Math.exp(2) / (Math.exp(2) + 1);
  close(out, [10, 20, 10, 20, 20, 30, 10 * p0 + 30 * (1 - p0), 20 * p0 + 40 * (1 - p0)], 1e-5);
});

test('KV store grows keeping its first positions', () => {
  const store = be.createKVStore(1, 2);
  store.write(0, Float32Array.from([1, 2]), Float32Array.from([3, 4]), 1);
  const bigger = store.grow(3, 1);
  assert.equal(bigger.capacity, 3);
  bigger.write(1, Float32Array.from([5, 6]), Float32Array.from([7, 8]), 1);
  const out = new Float32Array(2);
  be.attention(out, Float32Array.from([0, 0]), bigger, 1, 1, 1, 1, 2, 1);
  close(out, [5, 6], 1e-6);
  assert.throws(() => store.write(1, Float32Array.from([1, 2]), Float32Array.from([1, 2]), 1), /holds 1 positions/);
});
