import { f16ToF32 } from './dtype.js';

/**
 * Reference dequantizers for ggml's k-quant super-blocks of 256 values (layouts from
 * ggml-common.h, arithmetic as ggml's dequantize_row_q{4,5,6}_K in f32). Each function decodes the
 * super-block at `src[at…]` into `out[o … o+255]`.
 * - Q4_K, 144 bytes: f16 d, f16 dmin, 12 bytes of packed 6-bit (scale, min) pairs for 8 sub-blocks
 *   of 32, 128 bytes of nibbles. Each 64 values use 32 bytes: low nibbles → sub-block 2k, high
 *   nibbles → 2k+1; value = d·scale·q − dmin·min.
 * - Q5_K, 176 bytes: as Q4_K with 32 bytes qh between the scales and the nibbles; bit 2k of qh[l]
 *   is the 5th bit of sub-block 2k's value l, bit 2k+1 that of sub-block 2k+1.
 * - Q6_K, 210 bytes: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales (one
 *   per 16 values), f16 d last; value = d·scale·(q − 32). Each 128 values use 64 ql bytes and 32
 *   qh bytes: value l + 32t of the half takes ql[l + 32(t&1)]'s nibble t>>1 and qh[l]'s bits 2t…2t+1.
 */
const f = Math.fround;

function f16At(src: Uint8Array, at: number): number {
  return f16ToF32(src[at]! | (src[at + 1]! << 8));
}

/** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes at `s`. */
function scaleMin(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j]! & 63, src[s + j + 4]! & 63];
  return [
    (src[s + j + 4]! & 0x0f) | ((src[s + j - 4]! >> 6) << 4),
    (src[s + j + 4]! >> 4) | ((src[s + j]! >> 6) << 4),
  ];
}

export function dequantizeQ4_KBlock(src: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = f16At(src, at);
  const dmin = f16At(src, at + 2);
  const scales = at + 4;
  let q = at + 16;
  for (let sub = 0; sub < 8; sub += 2) {
    const [sc1, m1] = scaleMin(src, scales, sub);
    const [sc2, m2] = scaleMin(src, scales, sub + 1);
    const d1 = f(d * sc1), min1 = f(dmin * m1);
    const d2 = f(d * sc2), min2 = f(dmin * m2);
    for (let l = 0; l < 32; l++) out[o++] = f(f(d1 * (src[q + l]! & 0x0f)) - min1);
    for (let l = 0; l < 32; l++) out[o++] = f(f(d2 * (src[q + l]! >> 4)) - min2);
    q += 32;
  }
}

export function dequantizeQ5_KBlock(src: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = f16At(src, at);
  const dmin = f16At(src, at + 2);
  const scales = at + 4;
  const qh = at + 16;
  let ql = at + 48;
  for (let sub = 0; sub < 8; sub += 2) {
    const [sc1, m1] = scaleMin(src, scales, sub);
    const [sc2, m2] = scaleMin(src, scales, sub + 1);
    const d1 = f(d * sc1), min1 = f(dmin * m1);
    const d2 = f(d * sc2), min2 = f(dmin * m2);
    const u1 = 1 << sub, u2 = 2 << sub;
    for (let l = 0; l < 32; l++) out[o++] = f(f(d1 * ((src[ql + l]! & 0x0f) + (src[qh + l]! & u1 ? 16 : 0))) - min1);
    for (let l = 0; l < 32; l++) out[o++] = f(f(d2 * ((src[ql + l]! >> 4) + (src[qh + l]! & u2 ? 16 : 0))) - min2);
    ql += 32;
  }
}

export function dequantizeQ6_KBlock(src: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = f16At(src, at + 208);
  let ql = at, qh = at + 128, sc = at + 192;
  for (let half = 0; half < 2; half++) {
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = src[qh + l]!;
      const q1 = ((src[ql + l]! & 0x0f) | ((h & 3) << 4)) - 32;
      const q2 = ((src[ql + l + 32]! & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((src[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
      out[o + l] = f(f(d * int8(src[sc + is]!)) * q1);
      out[o + l + 32] = f(f(d * int8(src[sc + is + 2]!)) * q2);
      out[o + l + 64] = f(f(d * int8(src[sc + is + 4]!)) * q3);
      out[o + l + 96] = f(f(d * int8(src[sc + is + 6]!)) * q4);
    }
    o += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

function int8(b: number): number {
  return (b << 24) >> 24;
}
