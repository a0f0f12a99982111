import { FormatError } from '../errors.js';
import type { RandomAccessFile } from './file-io.js';

/** Bytes fetched per refill of the header window. */
const WINDOW_BYTES = 1 << 20;

/**
 * Sequential little-endian reads of a GGUF header through a small window over the file, so a
 * header is parsed without reading the (possibly many-GB) file into memory. Every read is checked
 * against the file size first: a truncated file is a FormatError naming what was being read.
 */
export class GgufCursor {
  pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;

  constructor(private readonly file: RandomAccessFile) {}

  get remaining(): number {
    return this.file.size - this.pos;
  }

  /** A FormatError naming the file. */
  error(what: string): FormatError {
    return new FormatError(`${this.file.path}: ${what}`);
  }

  /** Makes bytes pos … pos+n−1 available in the window and returns their index in it. */
  private take(n: number, what: string): number {
    if (n > this.remaining) {
      throw new FormatError(`${this.file.path}: truncated: ${what} at offset ${this.pos} needs ${n} bytes but the file ends at ${this.file.size}`);
    }
    const end = this.bufStart + this.buf.length;
    if (this.pos < this.bufStart || this.pos + n > end) {
      const length = Math.min(Math.max(n, WINDOW_BYTES), this.remaining);
      this.buf = Buffer.from(this.file.read(this.pos, length).buffer, 0, length);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  // The window may be replaced by take(), so take() runs before this.buf is read.
  u8(what: string): number { const at = this.take(1, what); return this.buf.readUInt8(at); }
  i8(what: string): number { const at = this.take(1, what); return this.buf.readInt8(at); }
  u16(what: string): number { const at = this.take(2, what); return this.buf.readUInt16LE(at); }
  i16(what: string): number { const at = this.take(2, what); return this.buf.readInt16LE(at); }
  u32(what: string): number { const at = this.take(4, what); return this.buf.readUInt32LE(at); }
  i32(what: string): number { const at = this.take(4, what); return this.buf.readInt32LE(at); }
  f32(what: string): number { const at = this.take(4, what); return this.buf.readFloatLE(at); }
  f64(what: string): number { const at = this.take(8, what); return this.buf.readDoubleLE(at); }
  u64(what: string): bigint { const at = this.take(8, what); return this.buf.readBigUInt64LE(at); }
  i64(what: string): bigint { const at = this.take(8, what); return this.buf.readBigInt64LE(at); }

  /** A u64 that must be at most `max` (and so a safe integer): counts, lengths, dims, offsets. */
  count(what: string, max: number, why: string): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(max)) throw new FormatError(`${this.file.path}: ${what} ${v} at offset ${at} exceeds ${max} (${why})`);
    return Number(v);
  }

  /** u64 length + UTF-8 bytes; the length is bounded by `maxBytes` and by the rest of the file. */
  string(what: string, maxBytes: number): string {
    const limit = Math.min(maxBytes, Math.max(0, this.remaining - 8));
    const n = this.count(`${what} length`, limit, limit < maxBytes ? 'past the end of the file; truncated?' : 'limit');
    const at = this.take(n, what);
    return this.buf.toString('utf8', at, at + n);
  }
}
