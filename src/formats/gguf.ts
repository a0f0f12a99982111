import { FormatError } from '../errors.js';
import type { TensorType } from '../tensor/dtype.js';
import { tensorFromBytes, type Tensor } from '../tensor/tensor.js';
import { GgufCursor } from './gguf-cursor.js';
import { GgufMetadataReader, type GgufValue } from './gguf-metadata.js';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_SCALAR_BYTES, SUPPORTED_GGML_TYPES, ggmlByteSize, ggmlTypeById, valueTypeName,
  type GgmlTypeInfo, type GgufScalarTypeName,
} from './gguf-types.js';
import { alignUp } from './gguf-writer.js';
import { RandomAccessFile } from './file-io.js';

export * from './gguf-metadata.js';
export * from './gguf-types.js';
export * from './gguf-writer.js';

/**
 * GGUF reader (versions 2 and 3). The header is parsed through a bounded window: every count and
 * length read from the file is checked against what the rest of the file could hold and against
 * sane limits *before* anything is allocated, so a hostile or truncated file fails with a one-line
 * FormatError instead of a huge allocation or a hang. Tensor data is not read until asked for, with
 * positional reads of just that tensor (or of some of its rows).
 */

/** Limits far above any real model (the largest vocabularies have ~256k tokens, MoE models ~50k tensors). */
export const GGUF_LIMITS = {
  maxKeyBytes: 0xffff,
  maxStringBytes: 64 * 1024 * 1024,
  maxArrayLength: 1 << 24,
  maxMetadataCount: 1 << 20,
  maxTensorCount: 1 << 20,
  maxTensorNameBytes: 0xffff,
  maxDims: 4,
} as const;

/** Smallest encodings, used to bound counts by the bytes left: key (8-byte length) + type + a 1-byte value. */
const MIN_KV_BYTES = 8 + 4 + 1;
/** Name length + n_dims + type + offset. */
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

export interface GgufTensorInfo {
  readonly name: string;
  readonly type: GgmlTypeInfo;
  /** GGUF dims, ne0 (the contiguous axis: a matrix's columns) first. */
  readonly dims: readonly number[];
  /** Row-major shape, outermost first (dims reversed): [rows, cols] for a matrix. */
  readonly shape: readonly number[];
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

/** Rows of a tensor viewed as a [rows, ne0] matrix (all outer dims flattened; 1 for a vector). */
export function ggufRowCount(info: GgufTensorInfo): number {
  const cols = info.dims[0] ?? 1;
  return cols === 0 ? 0 : info.byteLength / ggmlByteSize(info.type, [cols])!;
}

export class GgufFile {
  private constructor(
    private readonly file: RandomAccessFile,
    readonly version: number,
    readonly metadata: GgufMetadataReader,
    readonly tensors: ReadonlyMap<string, GgufTensorInfo>,
    readonly alignment: number,
    /** Absolute offset of the data section. */
    readonly dataOffset: number,
  ) {}

  get path(): string {
    return this.file.path;
  }

  static open(path: string): GgufFile {
    const file = new RandomAccessFile(path);
    try {
      const h = parseHeader(file);
      return new GgufFile(file, h.version, new GgufMetadataReader(h.metadata, path), h.tensors, h.alignment, h.dataOffset);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  tensorInfo(name: string): GgufTensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new FormatError(`${this.path}: no tensor named "${name}"`);
    return info;
  }

  /** The raw bytes of a tensor of any known type. */
  readTensorBytes(name: string, into?: Uint8Array): Uint8Array {
    const info = this.tensorInfo(name);
    return this.file.read(info.offset, info.byteLength, into?.subarray(0, info.byteLength));
  }

  /** A tensor of a supported type (F32, F16, BF16, Q8_0, Q4_0) with its row-major shape. */
  readTensor(name: string): Tensor {
    const info = this.tensorInfo(name);
    return tensorFromBytes(this.supportedType(info), info.shape, this.readTensorBytes(name));
  }

  /**
   * Rows first … first+count−1 of a tensor viewed as a [rows, ne0] matrix (all outer dims flattened),
   * so a large tensor can be processed piece by piece.
   */
  readRows(name: string, first: number, count: number, into?: Uint8Array): Tensor {
    const info = this.tensorInfo(name);
    const type = this.supportedType(info);
    return tensorFromBytes(type, [count, info.dims[0] ?? 1], this.readRowBytes(name, first, count, into));
  }

  /** The raw bytes of rows first … first+count−1 (as readRows counts them), for a tensor of any type. */
  readRowBytes(name: string, first: number, count: number, into?: Uint8Array): Uint8Array {
    const info = this.tensorInfo(name);
    const rows = ggufRowCount(info);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > rows) {
      throw new RangeError(`${this.path}: rows ${first}…${first + count} of "${name}" are outside its ${rows} rows`);
    }
    const rowBytes = rows === 0 ? 0 : info.byteLength / rows;
    return this.file.read(info.offset + first * rowBytes, count * rowBytes, into?.subarray(0, count * rowBytes));
  }

  private supportedType(info: GgufTensorInfo): TensorType {
    if (!info.type.tensorType) {
      throw new FormatError(`${this.path}: tensor "${info.name}" has type ${info.type.name}, which is not supported yet (supported: ${SUPPORTED_GGML_TYPES.join(', ')})`);
    }
    return info.type.tensorType;
  }

  close(): void {
    this.file.close();
  }
}

interface ParsedHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensorInfo>;
  alignment: number;
  dataOffset: number;
}

function parseHeader(file: RandomAccessFile): ParsedHeader {
  const where = file.path;
  const fail = (what: string) => new FormatError(`${where}: ${what}`);
  if (file.size < 4) throw fail(`not a GGUF file (${file.size} bytes)`);
  const c = new GgufCursor(file);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    throw fail(`not a GGUF file (magic ${JSON.stringify(Buffer.from(file.read(0, 4)).toString('latin1'))}, expected "GGUF")`);
  }
  const version = c.u32('version');
  if (version === 1) throw fail('GGUF version 1 is not supported (re-convert the model with a current llama.cpp)');
  if (version !== 2 && version !== 3) {
    // A big-endian file (v3 allows them) has its version bytes swapped.
    if (version >>> 16 !== 0 && (version & 0xffff) === 0) throw fail('big-endian GGUF files are not supported');
    throw fail(`unsupported GGUF version ${version}`);
  }
  const tensorCount = boundedCount(c, 'tensor count', GGUF_LIMITS.maxTensorCount, MIN_TENSOR_INFO_BYTES, 8);
  const kvCount = boundedCount(c, 'metadata count', GGUF_LIMITS.maxMetadataCount, MIN_KV_BYTES, 0);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`, GGUF_LIMITS.maxKeyBytes);
    if (metadata.has(key)) throw fail(`duplicate metadata key "${key}"`);
    metadata.set(key, readValue(c, key, where));
  }

  const alignment = readAlignment(metadata.get('general.alignment'), where);

  const tensors = new Map<string, GgufTensorInfo>();
  const relative: Array<{ name: string; type: GgmlTypeInfo; dims: number[]; rel: number; byteLength: number }> = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor ${i} name`, GGUF_LIMITS.maxTensorNameBytes);
    const bad = (what: string) => fail(`tensor "${name}": ${what}`);
    if (tensors.has(name)) throw bad('duplicate tensor name');
    const nDims = c.u32(`tensor "${name}" n_dims`);
    if (nDims > GGUF_LIMITS.maxDims) throw bad(`${nDims} dims (at most ${GGUF_LIMITS.maxDims})`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.count(`tensor "${name}" dim ${d}`, Number.MAX_SAFE_INTEGER, 'not a safe integer'));
    const typeId = c.u32(`tensor "${name}" type`);
    const type = ggmlTypeById(typeId);
    if (!type) throw bad(`unknown ggml type id ${typeId}`);
    const rel = c.count(`tensor "${name}" offset`, Number.MAX_SAFE_INTEGER, 'not a safe integer');
    if (rel % alignment !== 0) throw bad(`data offset ${rel} is not a multiple of the alignment ${alignment}`);
    const byteLength = ggmlByteSize(type, dims);
    if (byteLength === undefined) {
      throw bad(`${type.name} [${dims.join(', ')}] is not a whole number of ${type.blockSize}-value blocks per row, or is too large`);
    }
    const entry = { name, type, dims, rel, byteLength };
    relative.push(entry);
    tensors.set(name, { name, type, dims, shape: [...dims].reverse(), offset: 0, byteLength });
  }

  const dataOffset = alignUp(c.pos, alignment);
  for (const t of relative) {
    const offset = dataOffset + t.rel;
    if (offset + t.byteLength > file.size) {
      throw fail(`tensor "${t.name}": data at offset ${offset} (${t.byteLength} bytes) runs past the end of the file (${file.size} bytes; truncated?)`);
    }
    tensors.set(t.name, { ...tensors.get(t.name)!, offset });
  }
  const sorted = relative.filter((t) => t.byteLength > 0).sort((a, b) => a.rel - b.rel);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (sorted[i]!.rel < prev.rel + prev.byteLength) throw fail(`tensors "${prev.name}" and "${sorted[i]!.name}" overlap`);
  }
  return { version, metadata, tensors, alignment, dataOffset };
}

/**
 * A count that must fit both a sane limit and the bytes left after it (`reservedBytes` of which
 * belong to fields that follow before the counted items), each item taking at least `itemBytes`.
 */
function boundedCount(c: GgufCursor, what: string, limit: number, itemBytes: number, reservedBytes: number): number {
  const fits = Math.max(0, Math.floor((c.remaining - 8 - reservedBytes) / itemBytes));
  return fits < limit
    ? c.count(what, fits, 'more than the rest of the file can hold; truncated?')
    : c.count(what, limit, 'limit');
}

function readAlignment(v: GgufValue | undefined, where: string): number {
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== 'u32') throw new FormatError(`${where}: metadata "general.alignment" must be u32, got ${v.type}`);
  if (v.value === 0 || (v.value & (v.value - 1)) !== 0) throw new FormatError(`${where}: general.alignment ${v.value} is not a power of two`);
  return v.value;
}

function readValue(c: GgufCursor, key: string, where: string): GgufValue {
  const typeId = c.u32(`type of "${key}"`);
  const type = valueTypeName(typeId);
  if (type === undefined) throw new FormatError(`${where}: metadata "${key}" has unknown value type ${typeId}`);
  if (type !== 'array') return { type, value: readItem(c, type, key) } as GgufValue;
  const itemId = c.u32(`item type of "${key}"`);
  const itemType = valueTypeName(itemId);
  if (itemType === undefined) throw new FormatError(`${where}: metadata "${key}" is an array of unknown value type ${itemId}`);
  if (itemType === 'array') throw new FormatError(`${where}: metadata "${key}" is an array of arrays, which is not supported`);
  const n = boundedCount(c, `length of "${key}"`, GGUF_LIMITS.maxArrayLength, itemType === 'string' ? 8 : GGUF_SCALAR_BYTES[itemType], 0);
  const values: Array<number | bigint | boolean | string> = new Array(n);
  for (let i = 0; i < n; i++) values[i] = readItem(c, itemType, key);
  // The item type decides which variant of GgufArray this is.
  return { type: 'array', itemType, value: values } as GgufValue;
}

/** One scalar of `type`; the caller pairs it with its type. */
function readItem(c: GgufCursor, type: GgufScalarTypeName, key: string): number | bigint | boolean | string {
  switch (type) {
    case 'u8': return c.u8(key);
    case 'i8': return c.i8(key);
    case 'u16': return c.u16(key);
    case 'i16': return c.i16(key);
    case 'u32': return c.u32(key);
    case 'i32': return c.i32(key);
    case 'f32': return c.f32(key);
    case 'f64': return c.f64(key);
    case 'u64': return c.u64(key);
    case 'i64': return c.i64(key);
    case 'bool': {
      const at = c.pos;
      const b = c.u8(key);
      if (b > 1) throw c.error(`metadata "${key}": bool byte ${b} at offset ${at} is neither 0 nor 1`);
      return b === 1;
    }
    case 'string': return c.string(`value of "${key}"`, GGUF_LIMITS.maxStringBytes);
  }
}
