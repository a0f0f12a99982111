import fs from 'node:fs';
import { FormatError } from '../errors.js';
import { isQuantType, type DType, type TensorType } from '../tensor/dtype.js';
import { byteSize, formatShape, numel, tensorBytes, type Tensor } from '../tensor/tensor.js';
import { TensorFile, type TensorEntry } from './tensor-file.js';
import { RandomAccessFile, jsonSnippet } from './file-io.js';

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
const LOADABLE: Readonly<Record<string, TensorType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16', Q8_0: 'q8_0', Q4_0: 'q4_0' };

/**
 * Block-quantized tensors (xverse-ts's saved quantized models) are stored as raw bytes: dtype U8,
 * shape [rows, bytes per row]. This `__metadata__` key records, as JSON, each such tensor's block
 * type and logical shape: {"name": ["q8_0", rows, cols], …}. Readers that don't know it see U8 data.
 */
export const QUANT_METADATA_KEY = 'xverse_ts.quantized_tensors';
const QUANT_SAFETENSORS: Readonly<Record<string, string>> = { q8_0: 'Q8_0', q4_0: 'Q4_0' };
const TO_SAFETENSORS: Readonly<Record<DType, string>> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };


export class SafetensorsFile extends TensorFile {
  readonly metadata: Readonly<Record<string, string>>;

  private constructor(file: RandomAccessFile, metadata: Record<string, string>) {
    super(file);
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
    applyQuantMetadata(st, metadata[QUANT_METADATA_KEY], where);
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i]![0] < ranges[i - 1]![1]) {
        throw new FormatError(`${where}: tensors "${ranges[i - 1]![2]}" and "${ranges[i]![2]}" overlap`);
      }
    }
    return st;
  }

  protected loadableType(entry: TensorEntry): TensorType {
    return loadableType(entry);
  }
}

function loadableType(entry: TensorEntry): TensorType {
  const type = LOADABLE[entry.dtype];
  if (!type) {
    throw new FormatError(`${entry.file}: tensor "${entry.name}" has dtype ${entry.dtype}, which cannot be loaded as a weight (supported: F32, F16, BF16, and xverse-ts Q8_0/Q4_0)`);
  }
  return type;
}

/** Re-labels the U8 entries listed in the quantization metadata with their block type and shape. */
function applyQuantMetadata(st: SafetensorsFile, raw: string | undefined, where: string): void {
  if (raw === undefined) return;
  let map: unknown;
  try {
    map = JSON.parse(raw);
  } catch {
    throw new FormatError(`${where}: __metadata__["${QUANT_METADATA_KEY}"] is not valid JSON`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new FormatError(`${where}: __metadata__["${QUANT_METADATA_KEY}"] must be an object`);
  for (const [name, spec] of Object.entries(map as Record<string, unknown>)) {
    const bad = (what: string) => new FormatError(`${where}: quantized tensor "${name}": ${what}`);
    const entry = st.tensors.get(name);
    if (!entry) throw bad('listed in the metadata but not in the file');
    if (!Array.isArray(spec) || spec.length < 2 || (spec[0] !== 'q8_0' && spec[0] !== 'q4_0')) throw bad(`expected ["q8_0" | "q4_0", ...shape], got ${jsonSnippet(spec)}`);
    const [type, ...shape] = spec as [TensorType, ...unknown[]];
    if (shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) throw bad(`bad shape ${jsonSnippet(shape)}`);
    const cols = shape[shape.length - 1] as number;
    if (cols % 32 !== 0) throw bad(`${type} needs a multiple of 32 columns, got ${cols}`);
    if (entry.dtype !== 'U8' || byteSize(type, shape as number[]) !== entry.byteLength) {
      throw bad(`stored as ${entry.dtype} ${formatShape(entry.shape)} (${entry.byteLength} bytes), which does not hold ${type} ${formatShape(shape as number[])}`);
    }
    st.tensors.set(name, { ...entry, dtype: QUANT_SAFETENSORS[type]!, shape: shape as number[] });
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
    throw bad(`shape must be a list of non-negative integers, got ${jsonSnippet(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || (o as number) < 0)) {
    throw bad(`data_offsets must be [begin, end], got ${jsonSnippet(offsets)}`);
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
  const quantized = Object.fromEntries(sources.filter((s) => isQuantType(s.dtype)).map((s) => [s.name, [s.dtype, ...s.shape]]));
  const allMetadata = Object.keys(quantized).length > 0 ? { ...metadata, [QUANT_METADATA_KEY]: JSON.stringify(quantized) } : metadata;
  const header: Record<string, unknown> = { __metadata__: allMetadata };
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
