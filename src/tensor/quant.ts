import type { QuantType } from './dtype.js';
import { f16ToF32, f32ToF16 } from './dtype.js';
import { QUANT_BLOCK_BYTES, QUANT_BLOCK_SIZE } from './quant-format.js';

/**
 * Reference (scalar) quantization to GGUF's Q8_0 / Q4_0, reproducing ggml's
 * `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` bit for bit: the arithmetic is done in f32
 * (Math.fround) in the same order, so blocks are byte-identical to llama.cpp's (checked against
 * llama-quantize's output for every matrix of the xverse-tiny fixture, test/tensor/quant-gguf.test.ts).
 *
 * Rounding, per element (d the f32 scale, id = f32(1/d); the f16 scale stored is f16(d)):
 * - Q8_0: d = amax/127, q = roundf(x·id) — ties away from zero; |x − d·q| ≤ d/2.
 * - Q4_0: d = max/−8 where max is the first value of largest magnitude (so d < 0 when it is
 *   positive), q = min(15, (int)(x·id + 8.5)) — x·id rounded half *up*, then clamped: a value of
 *   the opposite sign to max with |x| > 7.5·|d| is stored as level 7 (error up to |d|), every
 *   other value within |d|/2.
 */

/** C's roundf: half away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

function quantizeBlockQ8_0(src: Float32Array, s: number, dst: Uint8Array, o: number): void {
  let amax = 0;
  for (let j = 0; j < QUANT_BLOCK_SIZE; j++) amax = Math.max(amax, Math.abs(src[s + j]!));
  const d = Math.fround(amax / 127);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  const h = f32ToF16(d);
  dst[o] = h & 0xff;
  dst[o + 1] = h >>> 8;
  for (let j = 0; j < QUANT_BLOCK_SIZE; j++) dst[o + 2 + j] = roundf(Math.fround(src[s + j]! * id)) & 0xff;
}

function quantizeBlockQ4_0(src: Float32Array, s: number, dst: Uint8Array, o: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < QUANT_BLOCK_SIZE; j++) {
    const v = src[s + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = Math.fround(max / -8);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  const h = f32ToF16(d);
  dst[o] = h & 0xff;
  dst[o + 1] = h >>> 8;
  const half = QUANT_BLOCK_SIZE / 2;
  for (let j = 0; j < half; j++) {
    // (int8_t)(x + 8.5f) truncates toward zero; the value is never negative here.
    const q0 = Math.min(15, Math.trunc(Math.fround(Math.fround(src[s + j]! * id) + 8.5)));
    const q1 = Math.min(15, Math.trunc(Math.fround(Math.fround(src[s + half + j]! * id) + 8.5)));
    dst[o + 2 + j] = q0 | (q1 << 4);
  }
}

/** Quantizes `rows` rows of `cols` f32 values (cols a multiple of 32) into blocks. */
export function quantizeRows(type: QuantType, src: Float32Array, rows: number, cols: number, out?: Uint8Array): Uint8Array {
  if (cols % QUANT_BLOCK_SIZE !== 0) throw new RangeError(`${type} needs a multiple of ${QUANT_BLOCK_SIZE} columns, got ${cols}`);
  const blockBytes = QUANT_BLOCK_BYTES[type];
  const blocks = (rows * cols) / QUANT_BLOCK_SIZE;
  const dst = out ?? new Uint8Array(blocks * blockBytes);
  const quantizeBlock = type === 'q8_0' ? quantizeBlockQ8_0 : quantizeBlockQ4_0;
  for (let b = 0; b < blocks; b++) quantizeBlock(src, b * QUANT_BLOCK_SIZE, dst, b * blockBytes);
  return dst;
}

/** Expands blocks back to f32 values (value = d·q for Q8_0, d·(q − 8) for Q4_0). */
export function dequantizeRows(type: QuantType, src: Uint8Array, rows: number, cols: number, out?: Float32Array): Float32Array {
  const blockBytes = QUANT_BLOCK_BYTES[type];
  const blocks = (rows * cols) / QUANT_BLOCK_SIZE;
  const dst = out ?? new Float32Array(rows * cols);
  const half = QUANT_BLOCK_SIZE / 2;
  for (let b = 0; b < blocks; b++) {
    const o = b * blockBytes;
    const d = f16ToF32(src[o]! | (src[o + 1]! << 8));
    const base = b * QUANT_BLOCK_SIZE;
    if (type === 'q8_0') {
      for (let j = 0; j < QUANT_BLOCK_SIZE; j++) dst[base + j] = d * ((src[o + 2 + j]! << 24) >> 24);
    } else {
      for (let j = 0; j < half; j++) {
        const byte = src[o + 2 + j]!;
        dst[base + j] = d * ((byte & 0x0f) - 8);
        dst[base + half + j] = d * ((byte >>> 4) - 8);
      }
    }
  }
  return dst;
}
