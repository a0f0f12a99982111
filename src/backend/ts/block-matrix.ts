import type { Matrix } from '../backend.js';
import type { QuantType } from '../../tensor/dtype.js';
import { dequantizeRows } from '../../tensor/quant.js';
import { canQuantize, quantRowBytes } from '../../tensor/quant-format.js';
import { byteSize, formatShape, type Tensor } from '../../tensor/tensor.js';

/**
 * A block-quantized weight matrix (GGUF Q8_0 / Q4_0 layout, see quant-format.ts) as the reference
 * backend holds it: the tensor's own block bytes, untouched, plus views the kernels read through —
 * an Int8Array for Q8_0's signed quants and a DataView for 4-byte little-endian loads.
 */
export class BlockMatrix implements Matrix {
  readonly rowBytes: number;
  readonly blocksPerRow: number;
  /** The same bytes as signed int8 (Q8_0's quants). */
  readonly int8: Int8Array;
  readonly view: DataView;

  constructor(readonly type: QuantType, readonly data: Uint8Array, readonly rows: number, readonly cols: number) {
    if (!canQuantize(cols)) throw new RangeError(`${type} weights need a positive multiple of 32 columns, got ${cols}`);
    this.rowBytes = quantRowBytes(type, cols);
    this.blocksPerRow = cols / 32;
    if (data.length !== rows * this.rowBytes) {
      throw new RangeError(`${type} [${rows}, ${cols}] needs ${rows * this.rowBytes} bytes, got ${data.length}`);
    }
    this.int8 = new Int8Array(data.buffer, data.byteOffset, data.length);
    this.view = new DataView(data.buffer, data.byteOffset, data.length);
  }

  static fromTensor(t: Tensor & { dtype: QuantType }): BlockMatrix {
    if (t.shape.length !== 2) throw new RangeError(`expected a 2-D weight, got shape ${formatShape(t.shape)}`);
    const data = t.data;
    if (!(data instanceof Uint8Array) || data.length !== byteSize(t.dtype, t.shape)) {
      throw new RangeError(`${t.dtype} tensor ${formatShape(t.shape)} must hold its blocks as a Uint8Array of ${byteSize(t.dtype, t.shape)} bytes`);
    }
    return new BlockMatrix(t.dtype, data, t.shape[0]!, t.shape[1]!);
  }

  get bytes(): number {
    return this.data.length;
  }

  /** Row r dequantized (d·q, or d·(q − 8)) into `scratch[0 … cols)` (same contract as HostMatrix.row). */
  row(r: number, scratch: Float32Array): Float32Array {
    const start = r * this.rowBytes;
    return dequantizeRows(this.type, this.data.subarray(start, start + this.rowBytes), 1, this.cols, scratch.subarray(0, this.cols));
  }
}
