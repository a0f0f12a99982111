import fs from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors.js';
import type { TensorType } from '../tensor/dtype.js';
import type { GgufMetadata, GgufValue } from './gguf-metadata.js';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPE, GGUF_VERSION, ggmlByteSize, ggmlTypeFor, type GgmlTypeInfo,
} from './gguf-types.js';

/**
 * GGUF v3 writer. Layout: magic, version, tensor count, metadata count (u32, u32, u64, u64), the
 * metadata (string key, u32 value type, value), the tensor infos (string name, u32 n_dims,
 * u64 dims with ne0 first, u32 ggml type, u64 offset relative to the data section), zero padding to
 * the alignment, then each tensor's bytes followed by zero padding to the alignment. Strings are
 * u64 length + UTF-8 bytes; arrays are u32 item type + u64 count + items. All little-endian.
 *
 * Everything before the data is computed from the tensor specs, so the data can then be streamed
 * one tensor (and one chunk) at a time: the whole model is never in memory.
 */

/** One tensor to write: its header facts up front, its bytes produced only when its turn comes. */
export interface GgufTensorWrite {
  readonly name: string;
  /** An engine type (written as F32/F16/BF16/Q8_0/Q4_0) or any ggml type whose raw bytes `data` yields. */
  readonly type: TensorType | GgmlTypeInfo;
  /** GGUF dims, ne0 (the contiguous axis: a matrix's columns) first. */
  readonly dims: readonly number[];
  /** The tensor's bytes in order, in chunks of any size; iterated once. */
  data(): Iterable<Uint8Array>;
}

export interface GgufWriteOptions {
  /** Data alignment (a power of two); other than 32 it is recorded as `general.alignment`. */
  readonly alignment?: number;
  /** Called after each tensor is written. */
  readonly onTensor?: (progress: { index: number; count: number; name: string; bytesDone: number; bytesTotal: number }) => void;
}

/** Where everything went. Offsets are absolute. */
export interface GgufLayout {
  readonly dataOffset: number;
  readonly tensors: ReadonlyArray<{ readonly name: string; readonly type: GgmlTypeInfo; readonly offset: number; readonly byteLength: number }>;
  readonly fileSize: number;
}

/** GGML_MAX_NAME: llama.cpp stores tensor names in 64-byte buffers, NUL included. */
const MAX_TENSOR_NAME_BYTES = 63;
const MAX_DIMS = 4;

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint): void { this.reserve(8); this.view.setBigUint64(this.length, v, true); this.length += 8; }
  i64(v: bigint): void { this.reserve(8); this.view.setBigInt64(this.length, v, true); this.length += 8; }
  string(s: string): void {
    const max = s.length * 3;
    this.reserve(8 + max);
    const n = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.length + 8, max).write(s, 'utf8');
    this.u64(BigInt(n));
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const INT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
};
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function badValue(key: string, what: string): RangeError {
  return new RangeError(`GGUF metadata "${key}": ${what}`);
}

/** Writes one scalar of `type`, checking that it fits (a silent wrap would corrupt the model). */
function writeScalar(w: ByteWriter, key: string, type: string, value: unknown): void {
  const range = INT_RANGES[type];
  if (range) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw badValue(key, `${String(value)} does not fit in ${type}`);
    }
    switch (type) {
      case 'u8': w.u8(value); break;
      case 'i8': w.i8(value); break;
      case 'u16': w.u16(value); break;
      case 'i16': w.i16(value); break;
      case 'u32': w.u32(value); break;
      default: w.i32(value);
    }
    return;
  }
  switch (type) {
    case 'f32': case 'f64':
      if (typeof value !== 'number') throw badValue(key, `${String(value)} is not a number`);
      if (type === 'f32') w.f32(value);
      else w.f64(value);
      return;
    case 'u64': case 'i64': {
      const [lo, hi] = type === 'u64' ? [0n, U64_MAX] : [I64_MIN, I64_MAX];
      if (typeof value !== 'bigint' || value < lo || value > hi) throw badValue(key, `${String(value)} does not fit in ${type}`);
      if (type === 'u64') w.u64(value);
      else w.i64(value);
      return;
    }
    case 'bool':
      if (typeof value !== 'boolean') throw badValue(key, `${String(value)} is not a boolean`);
      w.u8(value ? 1 : 0);
      return;
    case 'string':
      if (typeof value !== 'string') throw badValue(key, `${String(value)} is not a string`);
      w.string(value);
      return;
    default:
      throw badValue(key, `unknown value type "${type}"`);
  }
}

function writeValue(w: ByteWriter, key: string, v: GgufValue): void {
  if (v.type === 'array') {
    const itemId = GGUF_VALUE_TYPE[v.itemType as keyof typeof GGUF_VALUE_TYPE];
    if (itemId === undefined || v.itemType === ('array' as string)) throw badValue(key, `arrays of ${v.itemType} are not supported`);
    w.u32(GGUF_VALUE_TYPE.array);
    w.u32(itemId);
    w.u64(BigInt(v.value.length));
    for (const item of v.value) writeScalar(w, key, v.itemType, item);
    return;
  }
  const id = GGUF_VALUE_TYPE[v.type];
  if (id === undefined) throw badValue(key, `unknown value type "${String(v.type)}"`);
  w.u32(id);
  writeScalar(w, key, v.type, v.value);
}

function resolveType(t: TensorType | GgmlTypeInfo): GgmlTypeInfo {
  return typeof t === 'string' ? ggmlTypeFor(t) : t;
}

interface PlannedTensor {
  readonly source: GgufTensorWrite;
  readonly type: GgmlTypeInfo;
  readonly relOffset: number;
  readonly byteLength: number;
}

/** Encodes the header (metadata + tensor infos, unpadded) and assigns each tensor its aligned offset. */
function planHeader(metadata: GgufMetadata, tensors: readonly GgufTensorWrite[], alignment: number): { header: Uint8Array; planned: PlannedTensor[] } {
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(metadata.size));
  for (const [key, value] of metadata) {
    if (key.length === 0 || Buffer.byteLength(key) > 0xffff) throw badValue(key, 'keys must be 1 to 65535 bytes');
    w.string(key);
    writeValue(w, key, value);
  }
  const names = new Set<string>();
  const planned: PlannedTensor[] = [];
  let rel = 0;
  for (const t of tensors) {
    const type = resolveType(t.type);
    const bad = (what: string) => new RangeError(`GGUF tensor "${t.name}": ${what}`);
    if (t.name.length === 0 || Buffer.byteLength(t.name) > MAX_TENSOR_NAME_BYTES) throw bad(`names must be 1 to ${MAX_TENSOR_NAME_BYTES} bytes (llama.cpp's limit)`);
    if (names.has(t.name)) throw bad('duplicate name');
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > MAX_DIMS) throw bad(`needs 1 to ${MAX_DIMS} dims, got ${t.dims.length}`);
    if (t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`dims must be non-negative integers, got [${t.dims.join(', ')}]`);
    const byteLength = ggmlByteSize(type, t.dims);
    if (byteLength === undefined) throw bad(`${type.name} needs ne0 (${t.dims[0]}) to be a multiple of ${type.blockSize}`);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(BigInt(d));
    w.u32(type.id);
    w.u64(BigInt(rel));
    planned.push({ source: t, type, relOffset: rel, byteLength });
    rel += alignUp(byteLength, alignment);
  }
  return { header: w.bytes(), planned };
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

/** Metadata with `general.alignment` added when a non-default alignment is asked for. */
function withAlignment(metadata: GgufMetadata, alignment: number): GgufMetadata {
  const existing = metadata.get('general.alignment');
  if (existing !== undefined) {
    if (existing.type !== 'u32' || existing.value !== alignment) {
      throw new RangeError(`GGUF metadata "general.alignment" must be u32 ${alignment} to match the alignment the file is written with`);
    }
    return metadata;
  }
  if (alignment === GGUF_DEFAULT_ALIGNMENT) return metadata;
  return new Map([...metadata, ['general.alignment', { type: 'u32', value: alignment }]]);
}

/**
 * Writes a GGUF file: header first, then the tensors in the given order, each produced by its
 * `data()` only when it is written. Writes to a temporary file beside `file` and renames it on
 * success, so a failed export never leaves a truncated file under the final name.
 */
export function writeGguf(file: string, metadata: GgufMetadata, tensors: readonly GgufTensorWrite[], options: GgufWriteOptions = {}): GgufLayout {
  const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isSafeInteger(alignment) || alignment < 1 || alignment > 0x80000000 || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`GGUF alignment must be a power of two, got ${alignment}`);
  }
  const { header, planned } = planHeader(withAlignment(metadata, alignment), tensors, alignment);
  const dataOffset = alignUp(header.length, alignment);
  const bytesTotal = planned.reduce((s, p) => s + p.byteLength, 0);
  const zeros = new Uint8Array(alignment);
  const folder = path.dirname(file);
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${file}: cannot write, folder ${folder} does not exist`);
  const tmp = path.join(folder, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  let ok = false;
  try {
    writeAll(fd, header);
    writeAll(fd, zeros.subarray(0, dataOffset - header.length));
    let bytesDone = 0;
    planned.forEach((p, index) => {
      let written = 0;
      for (const chunk of p.source.data()) {
        written += chunk.length;
        if (written > p.byteLength) break;
        writeAll(fd, chunk);
      }
      if (written !== p.byteLength) {
        const got = written > p.byteLength ? `more than ${p.byteLength}` : String(written);
        throw new FormatError(`writing ${file}: tensor "${p.source.name}" produced ${got} bytes, expected ${p.byteLength} (${p.type.name} [${p.source.dims.join(', ')}])`);
      }
      writeAll(fd, zeros.subarray(0, alignUp(p.byteLength, alignment) - p.byteLength));
      bytesDone += p.byteLength;
      options.onTensor?.({ index, count: planned.length, name: p.source.name, bytesDone, bytesTotal });
    });
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(tmp, { force: true });
  }
  fs.renameSync(tmp, file);
  const last = planned[planned.length - 1];
  return {
    dataOffset,
    tensors: planned.map((p) => ({ name: p.source.name, type: p.type, offset: dataOffset + p.relOffset, byteLength: p.byteLength })),
    fileSize: last ? dataOffset + last.relOffset + alignUp(last.byteLength, alignment) : dataOffset,
  };
}
