/**
 * Reference matrix products with block-quantized weights, computing exactly what ggml's generic
 * (non-SIMD) CPU code computes, so native kernels can be tested against it:
 *
 * 1. Each activation row is quantized to Q8_0 with the reference quantizer (`quantizeRows`,
 *    byte-identical to `quantize_row_q8_0_ref`).
 * 2. out[i, r] = Σ over blocks b of the integer dot isum_b = Σ_j qw_j · qx_j (exact; for Q4_0,
 *    qw = nibble − 8), scaled and accumulated in f32 in ggml's order:
 *      Q8_0 (`ggml_vec_dot_q8_0_q8_0_generic`): sum = f32(sum + f32(isum · f32(dw · dx)))
 *      Q4_0 (`ggml_vec_dot_q4_0_q8_0_generic`): sum = f32(sum + f32(f32(isum · dw) · dx))
 *    with dw, dx the blocks' f16 scales widened to f32, blocks in order, sum starting at 0. Every
 *    f32 operation is rounded separately (Math.fround), i.e. C without FMA contraction.
 *    dw·dx is always exact in f32 (two 11-bit significands), so a Q8_0 term is the correctly
 *    rounded isum·dw·dx; Q4_0's isum·dw rounds too once it needs more than 24 bits (|isum| ≳ 2^13),
 *    so the two orders differ for large block sums — a fused multiply-add into `sum` differs too.
 *    A SIMD kernel that reorders these steps agrees only to f32 rounding (≈ nb·2^-24 relative).
 *
 * llama.cpp's x86/ARM builds do not quantize activations with the reference quantizer but with
 * SIMD code (id = 127/amax instead of 1/(amax/127), round-half-even instead of roundf), which
 * can move an activation that sits exactly on a rounding tie by one step; see
 * test/backend/ts-quant-model.test.ts for the one place this shows on the fixture.
 *
 * isum is exact in any order (|isum| ≤ 32·127·127 < 2^24, so it also converts to f32 exactly);
 * the kernels therefore sum integers in whatever order is fast, and only the per-block f32 steps
 * follow ggml. Four weight rows are processed per pass over an activation block so that each
 * activation quant is loaded once per four rows, and weight quants are read four at a time with
 * 32-bit little-endian loads (DataView) and split by shifts — about 2× faster in V8 than one
 * Int8Array load per weight (measured: Q8_0 ~1.3 G multiply-adds/s on one core, faster per
 * token than the f32 path, which reads 4× the bytes). Tiling two activation rows as well gained
 * under 10 %, not worth the code.
 */
import { f16ToF32 } from '../../tensor/dtype.js';
import { quantizeRows } from '../../tensor/quant.js';
import { QUANT_BLOCK_BYTES } from '../../tensor/quant-format.js';
import type { BlockMatrix } from './block-matrix.js';

const fround = Math.fround;

/** Activation rows quantized to Q8_0, in a buffer reused across calls (grown, never shrunk). */
export class Q8Activations {
  private bytes = new Uint8Array(0);
  /** Signed view of the same bytes (the quants). */
  int8 = new Int8Array(0);

  /** Quantizes n rows of `cols` values from x (cols a multiple of 32) and returns the blocks. */
  quantize(x: Float32Array, n: number, cols: number): Uint8Array {
    const size = n * (cols / 32) * QUANT_BLOCK_BYTES.q8_0;
    if (this.bytes.length < size) {
      this.bytes = new Uint8Array(size);
      this.int8 = new Int8Array(this.bytes.buffer);
    }
    return quantizeRows('q8_0', x, n, cols, this.bytes);
  }
}

/** f32 value of the f16 scale stored little-endian at bytes[o], bytes[o + 1]. */
function scale(bytes: Uint8Array, o: number): number {
  return f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
}

/** out[n, rows] = x[n, cols] · Wᵀ for a Q8_0 or Q4_0 weight (see the file comment for the exact math). */
export function matmulBlock(out: Float32Array, x: Float32Array, w: BlockMatrix, n: number, act: Q8Activations): void {
  if (x.length < n * w.cols) throw new RangeError(`matmul input holds ${x.length} values, ${n} rows of ${w.cols} need ${n * w.cols}`);
  const xq = act.quantize(x, n, w.cols);
  if (w.type === 'q8_0') matmulQ8_0(out, xq, act.int8, w, n);
  else matmulQ4_0(out, xq, act.int8, w, n);
}

function matmulQ8_0(out: Float32Array, xb: Uint8Array, xi: Int8Array, w: BlockMatrix, n: number): void {
  const { rows, rowBytes: rb, blocksPerRow: nb } = w;
  const wb = w.data;
  const wv = w.view;
  const wi = w.int8;
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const w0 = r * rb, w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
    for (let i = 0; i < n; i++) {
      const x0 = i * rb;
      let u0 = 0, u1 = 0, u2 = 0, u3 = 0;
      for (let b = 0; b < nb; b++) {
        const bo = b * 34;
        const xo = x0 + bo;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let j = 2; j < 34; j += 4) {
          const q0 = xi[xo + j]!, q1 = xi[xo + j + 1]!, q2 = xi[xo + j + 2]!, q3 = xi[xo + j + 3]!;
          let a = wv.getInt32(w0 + bo + j, true);
          s0 += ((a << 24) >> 24) * q0 + ((a << 16) >> 24) * q1 + ((a << 8) >> 24) * q2 + (a >> 24) * q3;
          a = wv.getInt32(w1 + bo + j, true);
          s1 += ((a << 24) >> 24) * q0 + ((a << 16) >> 24) * q1 + ((a << 8) >> 24) * q2 + (a >> 24) * q3;
          a = wv.getInt32(w2 + bo + j, true);
          s2 += ((a << 24) >> 24) * q0 + ((a << 16) >> 24) * q1 + ((a << 8) >> 24) * q2 + (a >> 24) * q3;
          a = wv.getInt32(w3 + bo + j, true);
          s3 += ((a << 24) >> 24) * q0 + ((a << 16) >> 24) * q1 + ((a << 8) >> 24) * q2 + (a >> 24) * q3;
        }
        const dx = scale(xb, xo);
        u0 = fround(u0 + fround(s0 * fround(scale(wb, w0 + bo) * dx)));
        u1 = fround(u1 + fround(s1 * fround(scale(wb, w1 + bo) * dx)));
        u2 = fround(u2 + fround(s2 * fround(scale(wb, w2 + bo) * dx)));
        u3 = fround(u3 + fround(s3 * fround(scale(wb, w3 + bo) * dx)));
      }
      const o = i * rows + r;
      out[o] = u0;
      out[o + 1] = u1;
      out[o + 2] = u2;
      out[o + 3] = u3;
    }
  }
  // The last rows % 4 rows, one at a time.
  for (; r < rows; r++) {
    const w0 = r * rb;
    for (let i = 0; i < n; i++) {
      const x0 = i * rb;
      let u = 0;
      for (let b = 0; b < nb; b++) {
        const bo = b * 34;
        let s = 0;
        for (let j = 2; j < 34; j++) s += wi[w0 + bo + j]! * xi[x0 + bo + j]!;
        u = fround(u + fround(s * fround(scale(wb, w0 + bo) * scale(xb, x0 + bo))));
      }
      out[i * rows + r] = u;
    }
  }
}

/**
 * Q4_0: weight byte j of a block holds quant j (low nibble) and quant j + 16 (high nibble), value
 * nibble − 8. The integer dot is computed as Σ nibble·qx − 8·Σ qx (the same integer), so the −8
 * costs one multiply per block instead of one subtraction per weight.
 */
function matmulQ4_0(out: Float32Array, xb: Uint8Array, xi: Int8Array, w: BlockMatrix, n: number): void {
  const { rows, rowBytes: rb, blocksPerRow: nb } = w;
  const wb = w.data;
  const wv = w.view;
  const xRowBytes = nb * 34;
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const w0 = r * rb, w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
    for (let i = 0; i < n; i++) {
      const x0 = i * xRowBytes;
      let u0 = 0, u1 = 0, u2 = 0, u3 = 0;
      for (let b = 0; b < nb; b++) {
        const wo = b * 18 + 2;
        const xo = x0 + b * 34 + 2;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, sx = 0;
        for (let j = 0; j < 16; j += 4) {
          const lo0 = xi[xo + j]!, lo1 = xi[xo + j + 1]!, lo2 = xi[xo + j + 2]!, lo3 = xi[xo + j + 3]!;
          const hi0 = xi[xo + j + 16]!, hi1 = xi[xo + j + 17]!, hi2 = xi[xo + j + 18]!, hi3 = xi[xo + j + 19]!;
          sx += lo0 + lo1 + lo2 + lo3 + hi0 + hi1 + hi2 + hi3;
          let a = wv.getInt32(w0 + wo + j, true);
          s0 += (a & 15) * lo0 + ((a >>> 8) & 15) * lo1 + ((a >>> 16) & 15) * lo2 + ((a >>> 24) & 15) * lo3
            + ((a >>> 4) & 15) * hi0 + ((a >>> 12) & 15) * hi1 + ((a >>> 20) & 15) * hi2 + ((a >>> 28) & 15) * hi3;
          a = wv.getInt32(w1 + wo + j, true);
          s1 += (a & 15) * lo0 + ((a >>> 8) & 15) * lo1 + ((a >>> 16) & 15) * lo2 + ((a >>> 24) & 15) * lo3
            + ((a >>> 4) & 15) * hi0 + ((a >>> 12) & 15) * hi1 + ((a >>> 20) & 15) * hi2 + ((a >>> 28) & 15) * hi3;
          a = wv.getInt32(w2 + wo + j, true);
          s2 += (a & 15) * lo0 + ((a >>> 8) & 15) * lo1 + ((a >>> 16) & 15) * lo2 + ((a >>> 24) & 15) * lo3
            + ((a >>> 4) & 15) * hi0 + ((a >>> 12) & 15) * hi1 + ((a >>> 20) & 15) * hi2 + ((a >>> 28) & 15) * hi3;
          a = wv.getInt32(w3 + wo + j, true);
          s3 += (a & 15) * lo0 + ((a >>> 8) & 15) * lo1 + ((a >>> 16) & 15) * lo2 + ((a >>> 24) & 15) * lo3
            + ((a >>> 4) & 15) * hi0 + ((a >>> 12) & 15) * hi1 + ((a >>> 20) & 15) * hi2 + ((a >>> 28) & 15) * hi3;
        }
        const dx = scale(xb, xo - 2);
        const bias = 8 * sx;
        u0 = fround(u0 + fround(fround((s0 - bias) * scale(wb, w0 + wo - 2)) * dx));
        u1 = fround(u1 + fround(fround((s1 - bias) * scale(wb, w1 + wo - 2)) * dx));
        u2 = fround(u2 + fround(fround((s2 - bias) * scale(wb, w2 + wo - 2)) * dx));
        u3 = fround(u3 + fround(fround((s3 - bias) * scale(wb, w3 + wo - 2)) * dx));
      }
      const o = i * rows + r;
      out[o] = u0;
      out[o + 1] = u1;
      out[o + 2] = u2;
      out[o + 3] = u3;
    }
  }
  for (; r < rows; r++) {
    const w0 = r * rb;
    for (let i = 0; i < n; i++) {
      const x0 = i * xRowBytes;
      let u = 0;
      for (let b = 0; b < nb; b++) {
        const wo = w0 + b * 18;
        const xo = x0 + b * 34 + 2;
        let s = 0;
        for (let j = 0; j < 16; j++) {
          const byte = wb[wo + 2 + j]!;
          s += ((byte & 15) - 8) * xi[xo + j]! + ((byte >>> 4) - 8) * xi[xo + j + 16]!;
        }
        u = fround(u + fround(fround(s * scale(wb, wo)) * scale(xb, xo - 2)));
      }
      out[i * rows + r] = u;
    }
  }
}
