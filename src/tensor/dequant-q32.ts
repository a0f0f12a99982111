import { f16ToF32 } from './dtype.js';

/**
 * Reference dequantizers for ggml's legacy 32-value block types that xverse-ts has no kernels for
 * (layouts from ggml-common.h; arithmetic in f32 as ggml's dequantize_row_* does it, each product
 * and sum rounded to f32). Each function decodes the block at `src[at…]` into `out[o … o+31]`.
 * - Q4_1, 20 bytes: f16 d, f16 m, 16 bytes of nibbles (byte j: value j low, value j+16 high);
 *   value = q·d + m.
 * - Q5_0, 22 bytes: f16 d, u32 qh (bit j = 5th bit of value j), 16 bytes of nibbles as Q4_1;
 *   value = (q − 16)·d.
 * - Q5_1, 24 bytes: f16 d, f16 m, u32 qh, 16 bytes of nibbles; value = q·d + m.
 */
const f = Math.fround;

function f16At(src: Uint8Array, at: number): number {
  return f16ToF32(src[at]! | (src[at + 1]! << 8));
}

function u32At(src: Uint8Array, at: number): number {
  return (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24)) >>> 0;
}

export function dequantizeQ4_1Block(src: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = f16At(src, at);
  const m = f16At(src, at + 2);
  for (let j = 0; j < 16; j++) {
    const b = src[at + 4 + j]!;
    out[o + j] = f(f((b & 0x0f) * d) + m);
    out[o + j + 16] = f(f((b >> 4) * d) + m);
  }
}

export function dequantizeQ5_0Block(src: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = f16At(src, at);
  const qh = u32At(src, at + 2);
  for (let j = 0; j < 16; j++) {
    const b = src[at + 6 + j]!;
    const hi0 = ((qh >>> j) << 4) & 0x10;
    const hi1 = (qh >>> (j + 12)) & 0x10;
    out[o + j] = f((((b & 0x0f) | hi0) - 16) * d);
    out[o + j + 16] = f((((b >> 4) | hi1) - 16) * d);
  }
}

export function dequantizeQ5_1Block(src: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = f16At(src, at);
  const m = f16At(src, at + 2);
  const qh = u32At(src, at + 4);
  for (let j = 0; j < 16; j++) {
    const b = src[at + 8 + j]!;
    const hi0 = ((qh >>> j) << 4) & 0x10;
    const hi1 = (qh >>> (j + 12)) & 0x10;
    out[o + j] = f(f(((b & 0x0f) | hi0) * d) + m);
    out[o + j + 16] = f(f(((b >> 4) | hi1) * d) + m);
  }
}

