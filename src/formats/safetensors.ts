import fs from 'node:fs';
import { FormatError } from '../errors.js';
import { isQuantType, type DType, type TensorType } from '../tensor/dtype.js';
import { byteSize, formatShape, numel, tensorBytes, tensorFromBytes, type Tensor } from '../tensor/tensor.js';
import { RandomAccessFile } from './file-io.js';

/**
 * safetensors: u64 little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then the tensor bytes
 * (offsets are relative to the end of the header). The header is bounded and every entry is checked
 * against the file size before any tensor is read.
 */

/** Headers larger than this are refused (real ones are a few hundred KiB even for 65B models). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** safetensors dtype names → element size; only F32/F16/BF16 can be loaded as weights. */
const DTYPE_SIZES: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};
const LOADABLE: Readonly<Record<string, DType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };
const TO_SAFETENSORS: Readonly<Record<DType, string>> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

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

export class SafetensorsFile {
  readonly tensors = new Map<string, TensorEntry>();
  readonly metadata: Readonly<Record<string, string>>;
  private readonly file: RandomAccessFile;

  private constructor(file: RandomAccessFile, metadata: Record<string, string>) {
    this.file = file;
    this.metadata = metadata;
  }

  static open(path: string): SafetensorsFile {
    const file = new RandomAccessFile(path);
    try {
      return SafetensorsFile.parse(file);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  private static parse(file: RandomAccessFile): SafetensorsFile {
    const where = file.path;
    if (file.size < 8) throw new FormatError(`${where}: not a safetensors file (${file.size} bytes, shorter than the 8-byte header length)`);
    const headerLength = Number(new DataView(file.read(0, 8).buffer).getBigUint64(0, true));
    if (headerLength > MAX_HEADER_BYTES) {
      throw new FormatError(`${where}: safetensors header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    }
    if (8 + headerLength > file.size) {
      throw new FormatError(`${where}: safetensors header claims ${headerLength} bytes but the file has only ${file.size - 8} after the length field (truncated?)`);
    }
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.read(8, headerLength)));
    } catch (err) {
      throw new FormatError(`${where}: safetensors header is not valid UTF-8 JSON (${(err as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw new FormatError(`${where}: safetensors header must be a JSON object`);
    }
    const dataStart = 8 + headerLength;
    const dataSize = file.size - dataStart;
    const entries = Object.entries(header as Record<string, unknown>);
    const metadata = parseMetadata((header as Record<string, unknown>)['__metadata__'], where);
    const st = new SafetensorsFile(file, metadata);
    const ranges: Array<[number, number, string]> = [];
    for (const [name, raw] of entries) {
      if (name === '__metadata__') continue;
      const entry = parseEntry(name, raw, where, dataStart, dataSize);
      st.tensors.set(name, entry);
      if (entry.byteLength > 0) ranges.push([entry.offset, entry.offset + entry.byteLength, name]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i]![0] < ranges[i - 1]![1]) {
        throw new FormatError(`${where}: tensors "${ranges[i - 1]![2]}" and "${ranges[i]![2]}" overlap`);
      }
    }
    return st;
  }

  /** Reads one tensor (positional read of just its bytes). */
  read(name: string): Tensor {
    const entry = this.tensors.get(name);
    if (!entry) throw new FormatError(`${this.file.path}: no tensor named "${name}"`);
    const dtype = LOADABLE[entry.dtype];
    if (!dtype) {
      throw new FormatError(`${entry.file}: tensor "${name}" has dtype ${entry.dtype}, which cannot be loaded as a weight (supported: F32, F16, BF16)`);
    }
    return tensorFromBytes(dtype, entry.shape, this.file.read(entry.offset, entry.byteLength));
  }

  close(): void {
    this.file.close();
  }
}

function parseMetadata(raw: unknown, where: string): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError(`${where}: __metadata__ must be an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new FormatError(`${where}: __metadata__.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, raw: unknown, where: string, dataStart: number, dataSize: number): TensorEntry {
  const bad = (what: string) => new FormatError(`${where}: tensor "${name}": ${what}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('header entry must be an object');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('missing dtype');
  const elementSize = DTYPE_SIZES[dtype];
  if (elementSize === undefined) throw bad(`unknown dtype "${dtype}"`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    throw bad(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || (o as number) < 0)) {
    throw bad(`data_offsets must be [begin, end], got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(`data_offsets end ${end} is before begin ${begin}`);
  if (end > dataSize) throw bad(`data ends at byte ${end} but the file holds only ${dataSize} data bytes (truncated?)`);
  const expected = numel(shape as number[]) * elementSize;
  if (end - begin !== expected) {
    throw bad(`${dtype} ${formatShape(shape as number[])} needs ${expected} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], file: where, offset: dataStart + begin, byteLength: end - begin };
}

/** One tensor to write: its header facts up front, its data produced only when its turn comes. */
export interface TensorSource {
  readonly name: string;
  /** Float types are written as F32/F16/BF16; block-quantized ones as raw U8 rows of blocks. */
  readonly dtype: TensorType;
  readonly shape: readonly number[];
  read(): Tensor;
}

/**
 * Writes a safetensors file tensor by tensor (only one tensor's data in memory at a time), in the
 * given order, with `__metadata__` first and the header padded with spaces to a multiple of 8.
 */
export function writeSafetensors(path: string, sources: readonly TensorSource[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const s of sources) {
    const length = byteSize(s.dtype, s.shape);
    const [dtype, shape] = isQuantType(s.dtype)
      ? ['U8', [...s.shape.slice(0, -1), length / (numel(s.shape) / (s.shape[s.shape.length - 1] ?? 1))]]
      : [TO_SAFETENSORS[s.dtype], s.shape];
    header[s.name] = { dtype, shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, prefix);
    fs.writeSync(fd, headerBytes);
    for (const s of sources) {
      const t = s.read();
      if (t.dtype !== s.dtype || numel(t.shape) !== numel(s.shape) || t.data.byteLength !== byteSize(s.dtype, s.shape)) {
        throw new FormatError(`writing ${path}: tensor "${s.name}" produced ${t.dtype} ${formatShape(t.shape)}, expected ${s.dtype} ${formatShape(s.shape)}`);
      }
      fs.writeSync(fd, tensorBytes(t));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Convenience for in-memory tensors. */
export function tensorSources(tensors: Iterable<readonly [string, Tensor]>): TensorSource[] {
  return [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, read: () => t }));
}
