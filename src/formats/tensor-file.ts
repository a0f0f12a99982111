import { FormatError } from '../errors.js';
import type { TensorType } from '../tensor/dtype.js';
import { tensorFromBytes, type Tensor } from '../tensor/tensor.js';
import type { RandomAccessFile } from './file-io.js';

/** Where one tensor lives. `dtype` is the file's own spelling (e.g. "BF16"). */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly file: string;
  /** Absolute byte offset in `file`. */
  readonly offset: number;
  readonly byteLength: number;
}

/**
 * A checkpoint file whose tensors are contiguous byte ranges (safetensors, PyTorch zip archives):
 * once a format has listed its entries, reading is the same positional read of just the bytes
 * asked for — a whole tensor, or some of its rows.
 */
export abstract class TensorFile {
  readonly tensors = new Map<string, TensorEntry>();

  protected constructor(protected readonly file: RandomAccessFile) {}

  /** The tensor type an entry loads as, or a FormatError naming the entry's unsupported dtype. */
  protected abstract loadableType(entry: TensorEntry): TensorType;

  /** Reads one tensor (positional read of just its bytes). */
  read(name: string): Tensor {
    const entry = this.entry(name);
    return tensorFromBytes(this.loadableType(entry), entry.shape, this.file.read(entry.offset, entry.byteLength));
  }

  /**
   * Reads `count` rows (along the first axis) starting at `first`, optionally into a caller's
   * buffer, so a large tensor can be converted piece by piece without holding all of it.
   */
  readRows(name: string, first: number, count: number, into?: Uint8Array): Tensor {
    const entry = this.entry(name);
    const type = this.loadableType(entry);
    const rows = entry.shape[0] ?? 1;
    if (first < 0 || count < 0 || first + count > rows) throw new RangeError(`${entry.file}: rows ${first}…${first + count} of "${name}" are outside its ${rows} rows`);
    const rowBytes = rows === 0 ? 0 : entry.byteLength / rows;
    const bytes = this.file.read(entry.offset + first * rowBytes, count * rowBytes, into?.subarray(0, count * rowBytes));
    return tensorFromBytes(type, [count, ...entry.shape.slice(1)], bytes);
  }

  protected entry(name: string): TensorEntry {
    const entry = this.tensors.get(name);
    if (!entry) throw new FormatError(`${this.file.path}: no tensor named "${name}"`);
    return entry;
  }

  close(): void {
    this.file.close();
  }
}
