import assert from 'node:assert/strict';
import { test } from 'node:test';
import { f16ToF32, f32ToF16 } from '../../src/tensor/dtype.js';
import { convertTensor } from '../../src/tensor/convert.js';
import { dequantizeRows, quantizeRows } from '../../src/tensor/quant.js';
import { seededRandom } from '../helpers/synthetic-model.js';

/** A 32-value block: the given leading values, zeros after. */
function block(values: number[]): Float32Array {
  const b = new Float32Array(32);
  b.set(values);
  return b;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

test('Q8_0 by hand: d = amax/127 = 0.5, q = roundf(x/d) with ties away from zero', () => {
  // amax 63.5 → d = 0.5 (f16 0x3800), id = 2. 0.25·2 = 0.5 → 1 and −1.25·2 = −2.5 → −3 are ties that
  // roundf sends away from zero (round-half-even would give 0 and −2).
  const x = block([63.5, -63.5, 0.25, -0.25, 0.75, -1.25, 0.2, 10, -10.3]);
  const q = quantizeRows('q8_0', x, 1, 32);
  const expected = new Uint8Array(34);
  expected.set([0x00, 0x38, 0x7f, 0x81, 0x01, 0xff, 0x02, 0xfd, 0x00, 0x14, 0xeb]);
  assert.equal(hex(q), hex(expected));
  assert.deepEqual(Array.from(dequantizeRows('q8_0', q, 1, 32).subarray(0, 10)), [63.5, -63.5, 0.5, -0.5, 1, -1.5, 0, 10, -10.5, 0]);
});

test('Q8_0 by hand: the f16 scale is rounded, the quants use the f32 one', () => {
  // amax 1 → d = f32(1/127) = 0.007874016, stored as f16 0x2008 = 2^-7·(1 + 8/1024) = 0.00787353515625;
  // id = f32(1/d) = 127 exactly, so 1 → 127, −0.5 → −63.5 → −64 (tie), 0.1 → 12.7 → 13, −0.3 → −38.1 → −38.
  const q = quantizeRows('q8_0', block([1, -0.5, 0.1, -0.3]), 1, 32);
  const expected = new Uint8Array(34);
  expected.set([0x08, 0x20, 0x7f, 0xc0, 0x0d, 0xda]);
  assert.equal(hex(q), hex(expected));
  // Dequantized with the stored f16 scale: 127 · 0.00787353515625, not exactly 1.
  assert.equal(dequantizeRows('q8_0', q, 1, 32)[0], 127 * 0.00787353515625);
});

test('Q4_0 by hand: largest-magnitude value negative, ties rounding up, clamping at 15', () => {
  // max = −4 → d = max/−8 = 0.5 (f16 0x3800), id = 2; q = min(15, trunc(x·id + 8.5)), i.e. x·id
  // rounded half *up* (toward +∞): 0.25 → 0.5 → 1 but −0.25 → −0.5 → 0 and −0.75 → −1.5 → −1.
  // 4 → 8 does not fit in 4 bits: clamped to 7 (error |d|); 3.75 → 7.5 → 8 → clamped to 7.
  const x = block([-4, 4, 0.25, -0.25, -0.75, 1.2, 3.75, -3.9]);
  x[16] = 2;
  x[17] = -2;
  x[18] = -4; // same magnitude as x[0]: the first one found sets the scale
  const q = quantizeRows('q4_0', x, 1, 32);
  // byte j = q[j] | q[j + 16] << 4; q = [0, 15, 9, 8, 7, 10, 15, 0, 8 × 8 | 12, 4, 0, 8 × 13]
  assert.equal(hex(q), hex(Uint8Array.from([0x00, 0x38, 0xc0, 0x4f, 0x09, 0x88, 0x87, 0x8a, 0x8f, 0x80, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88])));
  const back = dequantizeRows('q4_0', q, 1, 32);
  assert.deepEqual(Array.from(back.subarray(0, 8)), [-4, 3.5, 0.5, 0, -0.5, 1, 3.5, -4]);
  assert.deepEqual(Array.from(back.subarray(16, 19)), [2, -2, -4]);
});

test('Q4_0 by hand: largest-magnitude value positive gives a negative scale; first of equal magnitudes wins', () => {
  // max = 2 (x[0]; x[1] = −2 has the same magnitude but comes later) → d = −0.25 (f16 0xb400), id = −4.
  // 2 → −8 → q 0; −2 → 8 → clamped to q 15 (value −1.75); 1 → −4 → q 4; −0.3 → 1.2 → q 9.
  const q = quantizeRows('q4_0', block([2, -2, 1, -0.3]), 1, 32);
  assert.equal(hex(q), hex(Uint8Array.from([0x00, 0xb4, 0x80, 0x8f, 0x84, 0x89, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88])));
  assert.deepEqual(Array.from(dequantizeRows('q4_0', q, 1, 32).subarray(0, 4)), [2, -1.75, 1, -0.25]);
});

test('all-zero blocks: Q8_0 scale +0, Q4_0 scale −0 (0/−8 in C), quants at zero', () => {
  const zeros = new Float32Array(32);
  assert.equal(hex(quantizeRows('q8_0', zeros, 1, 32)), hex(new Uint8Array(34)));
  assert.equal(hex(quantizeRows('q4_0', zeros, 1, 32)), hex(Uint8Array.from([0x00, 0x80, ...new Array<number>(16).fill(0x88)])));
  // (−0)·0 = −0: the dequantized zeros are negative zeros, which compare equal to 0.
  assert.deepEqual(Array.from(dequantizeRows('q4_0', quantizeRows('q4_0', zeros, 1, 32), 1, 32), (v) => v + 0), Array.from(zeros));
});

/** Random rows whose blocks span many magnitudes (1e-3 … 1e3), with occasional outliers. */
function randomRows(rows: number, cols: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const x = new Float32Array(rows * cols);
  for (let b = 0; b < x.length / 32; b++) {
    const scale = 10 ** (rand() * 6 - 3);
    for (let j = 0; j < 32; j++) x[b * 32 + j] = (rand() * 2 - 1) * scale * (rand() < 0.05 ? 8 : 1);
  }
  return x;
}

test('Q8_0 round trip: |x − x̂| ≤ d/2 + 127·|d − f16(d)| per element (d = amax/127)', () => {
  // Quantization rounds x·(1/d) to the nearest integer, so |x − d·q| ≤ d/2 (up to f32 rounding of
  // x·id, ≤ 2^-16·d here); the stored scale is f16(d), which moves d·q by up to |q|·|d − f16(d)|.
  const [rows, cols] = [64, 256];
  const x = randomRows(rows, cols, 1);
  const back = dequantizeRows('q8_0', quantizeRows('q8_0', x, rows, cols), rows, cols);
  let worst = 0;
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = Math.fround(amax / 127);
    const bound = d / 2 + 127 * Math.abs(d - f16ToF32(f32ToF16(d))) + d * 2 ** -16;
    for (let j = 0; j < 32; j++) {
      const err = Math.abs(x[b * 32 + j]! - back[b * 32 + j]!);
      assert.ok(err <= bound, `block ${b} element ${j}: error ${err} > bound ${bound}`);
      worst = Math.max(worst, err / bound);
    }
  }
  // The bound is tight: some element comes within 10 % of it.
  assert.ok(worst > 0.9, `worst error ${worst} of the bound`);
});

test('Q4_0 round trip: |x − x̂| ≤ |d|/2 except clamped values (x/d > 7.5), which are off by up to |d| (d = max/−8)', () => {
  const [rows, cols] = [64, 256];
  const x = randomRows(rows, cols, 2);
  const q = quantizeRows('q4_0', x, rows, cols);
  const back = dequantizeRows('q4_0', q, rows, cols);
  let clamped = 0;
  let worstClamped = 0;
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j]!;
      if (amax < Math.abs(v)) [amax, max] = [Math.abs(v), v];
    }
    const d = Math.fround(max / -8);
    const dh = f16ToF32(f32ToF16(d));
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j]!;
      const k = Math.round(v / d); // the level a plain rounding would pick, in −8 … 8
      const isClamped = k === 8 || v / d > 7.5;
      // Stored level is within −8 … 7 and its value d_h·level, so the f16 scale adds ≤ 8·|d − d_h|.
      const bound = (isClamped ? Math.abs(d) : Math.abs(d) / 2) + 8 * Math.abs(d - dh) + Math.abs(d) * 2 ** -16;
      const err = Math.abs(v - back[b * 32 + j]!);
      assert.ok(err <= bound, `block ${b} element ${j}: error ${err} > bound ${bound}${isClamped ? ' (clamped)' : ''}`);
      if (isClamped) {
        clamped++;
        worstClamped = Math.max(worstClamped, err / Math.abs(d));
      }
    }
  }
  // Random blocks do hit the clamp, and there the error exceeds d/2 — the exception is real.
  assert.ok(clamped > 10, `only ${clamped} clamped values`);
  assert.ok(worstClamped > 0.55, `worst clamped error ${worstClamped}·|d|`);
});

test('quantizeRows refuses rows that are not a multiple of 32; convertTensor quantizes along the last axis', () => {
  assert.throws(() => quantizeRows('q8_0', new Float32Array(48), 1, 48), /multiple of 32 columns, got 48/);
  const x = randomRows(3, 64, 3);
  const t = convertTensor({ dtype: 'f32', shape: [3, 64], data: x }, 'q4_0');
  assert.equal(t.dtype, 'q4_0');
  assert.equal(hex(t.data as Uint8Array), hex(quantizeRows('q4_0', x, 3, 64)));
  const back = convertTensor(t, 'f32');
  assert.deepEqual(Array.from(back.data), Array.from(dequantizeRows('q4_0', t.data as Uint8Array, 3, 64)));
});
