import type { QuantType } from './dtype.js';

/**
 * Layout of the block-quantized types, identical to GGUF's (ggml-common.h):
 * - Q8_0: 34 bytes per 32 values — f16 scale d, then 32 int8 q; value = d · q.
 * - Q4_0: 18 bytes per 32 values — f16 scale d, then 16 bytes; byte j holds q[j] in its low
 *   nibble and q[j + 16] in its high nibble; value = d · (q − 8).
 * A quantized matrix stores each row as cols/32 consecutive blocks, so cols must be a multiple of 32.
 */
export const QUANT_BLOCK_SIZE = 32;

export const QUANT_BLOCK_BYTES: Readonly<Record<QuantType, number>> = { q8_0: 34, q4_0: 18 };

/** Bytes of a quantized row of `cols` values (cols a multiple of 32). */
export function quantRowBytes(type: QuantType, cols: number): number {
  return (cols / QUANT_BLOCK_SIZE) * QUANT_BLOCK_BYTES[type];
}

/** Whether a matrix with this many columns can be block-quantized. */
export function canQuantize(cols: number): boolean {
  return cols > 0 && cols % QUANT_BLOCK_SIZE === 0;
}
