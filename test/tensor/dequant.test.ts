/**
 * The reference dequantizers for the GGUF block types that are decoded to f32 on load, against
 * blocks built by hand from ggml-common.h's layouts: each test packs chosen quants and scales
 * (packing is written here independently of the decoder) and checks every value against
 * d·q + m / d·(q − 16) / d·scale·q − dmin·min / d·scale·(q − 32), plus a few values worked out
 * on paper. Scales are powers of two, so the expected values are exact.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEQUANT_FORMATS, dequantizeBlocks, type DequantType } from '../../src/tensor/dequant.js';

/** Little-endian f16 bits. */
function putF16(b: Uint8Array, at: number, bits: number): void {
  b[at] = bits & 0xff;
  b[at + 1] = bits >> 8;
}
function putU32(b: Uint8Array, at: number, v: number): void {
  for (let i = 0; i < 4; i++) b[at + i] = (v >>> (8 * i)) & 0xff;
}
const F16 = { quarter: 0x3400, eighth: 0x3000, half: 0x3800, one: 0x3c00, two: 0x4000, minusOne: 0xbc00 } as const;

function decode(type: DequantType, block: Uint8Array): Float32Array {
  assert.equal(block.length, DEQUANT_FORMATS[type].blockBytes);
  return dequantizeBlocks(type, block);
}

test('Q4_1: value j = low nibble of byte j, value j+16 = high nibble; x = q·d + m', () => {
  const b = new Uint8Array(20);
  putF16(b, 0, F16.half);
  putF16(b, 2, F16.minusOne);
  const q = Array.from({ length: 32 }, (_, i) => (i < 16 ? i : 31 - i)); // 0…15, then 15…0
  for (let j = 0; j < 16; j++) b[4 + j] = q[j]! | (q[j + 16]! << 4);
  const out = decode('q4_1', b);
  assert.deepEqual(Array.from(out), q.map((v) => v * 0.5 - 1));
  assert.deepEqual([out[0], out[1], out[15], out[16], out[31]], [-1, -0.5, 6.5, 6.5, -1]);
});

test('Q5_0: the 5th bit of value i is bit i of qh; x = (q − 16)·d', () => {
  // q_i = i: low nibbles j | j << 4 and qh = 0xFFFF0000 (values 16…31 have the 5th bit).
  const b = new Uint8Array(22);
  putF16(b, 0, F16.quarter);
  putU32(b, 2, 0xffff0000);
  for (let j = 0; j < 16; j++) b[6 + j] = j | (j << 4);
  const out = decode('q5_0', b);
  assert.deepEqual(Array.from(out), Array.from({ length: 32 }, (_, i) => (i - 16) / 4));
  assert.deepEqual([out[0], out[16], out[31]], [-4, 0, 3.75]);
});

test('Q5_1: x = q·d + m with 5-bit q', () => {
  // q_i = 31 − i: low nibbles (15 − j) in both halves, qh = 0x0000FFFF.
  const b = new Uint8Array(24);
  putF16(b, 0, F16.half);
  putF16(b, 2, F16.two);
  putU32(b, 4, 0x0000ffff);
  for (let j = 0; j < 16; j++) b[8 + j] = (15 - j) | ((15 - j) << 4);
  const out = decode('q5_1', b);
  assert.deepEqual(Array.from(out), Array.from({ length: 32 }, (_, i) => (31 - i) * 0.5 + 2));
  assert.deepEqual([out[0], out[31]], [17.5, 2]);
});

/** 6-bit scales and mins of the 8 sub-blocks, packed as get_scale_min_k4 unpacks them. */
const SC = [1, 2, 3, 4, 17, 33, 49, 63];
const MN = [0, 1, 2, 3, 16, 32, 48, 63];
/** The same 12 bytes, worked out on paper from SC and MN. */
const PACKED_SCALES = [65, 130, 195, 196, 64, 129, 194, 195, 1, 1, 1, 255];

function packScales(sc: number[], mn: number[]): number[] {
  const out = new Array<number>(12).fill(0);
  for (let j = 0; j < 4; j++) {
    out[j] = sc[j]! | ((sc[j + 4]! >> 4) << 6);
    out[j + 4] = mn[j]! | ((mn[j + 4]! >> 4) << 6);
    out[j + 8] = (sc[j + 4]! & 15) | ((mn[j + 4]! & 15) << 4);
  }
  return out;
}

test('k-quant scale packing used below matches the paper calculation', () => {
  assert.deepEqual(packScales(SC, MN), PACKED_SCALES);
});

test('Q4_K: 8 sub-blocks of 32 with 6-bit scale and min; x = d·scale·q − dmin·min', () => {
  const q = (s: number, l: number) => (l + s) & 15;
  const b = new Uint8Array(144);
  putF16(b, 0, F16.one);
  putF16(b, 2, F16.half);
  b.set(PACKED_SCALES, 4);
  // 32 bytes per pair of sub-blocks: low nibble sub-block 2k, high nibble 2k+1.
  for (let k = 0; k < 4; k++) for (let l = 0; l < 32; l++) b[16 + 32 * k + l] = q(2 * k, l) | (q(2 * k + 1, l) << 4);
  const out = decode('q4_k', b);
  const expected = Array.from({ length: 256 }, (_, n) => SC[n >> 5]! * q(n >> 5, n & 31) - 0.5 * MN[n >> 5]!);
  assert.deepEqual(Array.from(out), expected);
  assert.deepEqual([out[0], out[4 * 32], out[7 * 32 + 31]], [0, 17 * 4 - 8, 63 * 6 - 31.5]);
});

test('Q5_K: as Q4_K plus a 5th bit per value from qh (bit s of qh[l] for sub-block s)', () => {
  const q = (s: number, l: number) => (l * 3 + s) & 31;
  const b = new Uint8Array(176);
  putF16(b, 0, F16.one);
  putF16(b, 2, F16.half);
  b.set(PACKED_SCALES, 4);
  for (let l = 0; l < 32; l++) {
    let h = 0;
    for (let s = 0; s < 8; s++) h |= (q(s, l) >> 4) << s;
    b[16 + l] = h;
  }
  for (let k = 0; k < 4; k++) for (let l = 0; l < 32; l++) b[48 + 32 * k + l] = (q(2 * k, l) & 15) | ((q(2 * k + 1, l) & 15) << 4);
  const out = decode('q5_k', b);
  const expected = Array.from({ length: 256 }, (_, n) => SC[n >> 5]! * q(n >> 5, n & 31) - 0.5 * MN[n >> 5]!);
  assert.deepEqual(Array.from(out), expected);
  // Sub-block 1, value 10: q = 31, so the 5th bit must be used: 2·31 − 0.5·1.
  assert.equal(out[32 + 10], 61.5);
});

test('Q6_K: 16 int8 scales (one per 16 values), 6-bit q from ql nibbles and qh bit pairs, d last; x = d·scale·(q − 32)', () => {
  const q = (n: number) => (n * 7) & 63;
  const scale = (i: number) => i - 8; // negative scales too
  const b = new Uint8Array(210);
  for (let n = 0; n < 256; n++) {
    const half = n >> 7, t = (n >> 5) & 3, l = n & 31;
    const ql = 64 * half + l + 32 * (t & 1);
    b[ql] = b[ql]! | ((q(n) & 15) << (4 * (t >> 1)));
    b[128 + 32 * half + l] = b[128 + 32 * half + l]! | ((q(n) >> 4) << (2 * t));
  }
  for (let i = 0; i < 16; i++) b[192 + i] = scale(i) & 0xff;
  putF16(b, 208, F16.eighth);
  const out = decode('q6_k', b);
  assert.deepEqual(Array.from(out), Array.from({ length: 256 }, (_, n) => 0.125 * scale(n >> 4) * (q(n) - 32)));
  // n = 0: q 0, scale −8 → 0.125·−8·−32 = 32; n = 255: q = 1785 & 63 = 57, scale 7 → 0.125·7·25.
  assert.deepEqual([out[0], out[255]], [32, 21.875]);
});

test('dequantizeBlocks decodes consecutive blocks and refuses partial ones', () => {
  const b = new Uint8Array(40);
  putF16(b, 0, F16.one);
  putF16(b, 20, F16.two);
  b.fill(0x11, 4, 20);
  b.fill(0x11, 24, 40);
  const out = dequantizeBlocks('q4_1', b);
  assert.equal(out.length, 64);
  assert.deepEqual([out[0], out[31], out[32], out[63]], [1, 1, 2, 2]);
  assert.throws(() => dequantizeBlocks('q4_1', new Uint8Array(30)), RangeError);
});
