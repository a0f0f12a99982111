import { dequantizeQ4_KBlock, dequantizeQ5_KBlock, dequantizeQ6_KBlock } from './dequant-kquant.js';
import { dequantizeQ4_1Block, dequantizeQ5_0Block, dequantizeQ5_1Block } from './dequant-q32.js';

/**
 * GGUF block types that xverse-ts has no matrix kernels for: their weights are dequantized to f32
 * when loaded (row chunk by row chunk), with these reference decoders.
 */
export type DequantType = 'q4_1' | 'q5_0' | 'q5_1' | 'q4_k' | 'q5_k' | 'q6_k';

export interface DequantFormat {
  /** Values per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** Decodes the block at `src[at…]` into `out[o … o+blockSize−1]`. */
  readonly decode: (src: Uint8Array, at: number, out: Float32Array, o: number) => void;
}

export const DEQUANT_FORMATS: Readonly<Record<DequantType, DequantFormat>> = {
  q4_1: { blockSize: 32, blockBytes: 20, decode: dequantizeQ4_1Block },
  q5_0: { blockSize: 32, blockBytes: 22, decode: dequantizeQ5_0Block },
  q5_1: { blockSize: 32, blockBytes: 24, decode: dequantizeQ5_1Block },
  q4_k: { blockSize: 256, blockBytes: 144, decode: dequantizeQ4_KBlock },
  q5_k: { blockSize: 256, blockBytes: 176, decode: dequantizeQ5_KBlock },
  q6_k: { blockSize: 256, blockBytes: 210, decode: dequantizeQ6_KBlock },
};

export function isDequantType(name: string): name is DequantType {
  return Object.prototype.hasOwnProperty.call(DEQUANT_FORMATS, name);
}

/**
 * Decodes whole blocks: `src` holds n blocks of `type` (any number of rows), `out` receives
 * n·blockSize values. Returns `out`.
 */
export function dequantizeBlocks(type: DequantType, src: Uint8Array, out: Float32Array = new Float32Array((src.length / DEQUANT_FORMATS[type].blockBytes) * DEQUANT_FORMATS[type].blockSize)): Float32Array {
  const { blockSize, blockBytes, decode } = DEQUANT_FORMATS[type];
  const blocks = src.length / blockBytes;
  if (!Number.isInteger(blocks) || out.length < blocks * blockSize) {
    throw new RangeError(`${type}: ${src.length} bytes are not whole ${blockBytes}-byte blocks, or the output (${out.length} values) is too small`);
  }
  for (let b = 0; b < blocks; b++) decode(src, b * blockBytes, out, b * blockSize);
  return out;
}
