import { FormatError } from '../errors.js';
import { crc32 } from './crc32.js';
import type { RandomAccessFile } from './file-io.js';

/**
 * A read-only view of a zip archive's directory, as `torch.save` writes them (zip64 records,
 * uncompressed entries, sizes in the central directory only). Only the end records, the central
 * directory and each local header are read; entry data is left for positional reads by the caller.
 * Every offset and size comes from an untrusted file, so each is checked against the file before use.
 */

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate, … */
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Absolute offset of the entry's first data byte (after its local header). */
  readonly dataOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD_SIZE = 22;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_LOCATOR_SIZE = 20;
const EOCD64_SIG = 0x06064b50;
const EOCD64_SIZE = 56;
const CENTRAL_SIG = 0x02014b50;
const CENTRAL_SIZE = 46;
const LOCAL_SIG = 0x04034b50;
const LOCAL_SIZE = 30;
const ZIP64_EXTRA_ID = 0x0001;
/** The EOCD record ends the file, followed at most by a comment of up to 65,535 bytes. */
const MAX_COMMENT = 0xffff;
/** A torch checkpoint has a few entries per tensor (~100 bytes each); 256 MiB is far beyond any real one. */
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;

/** Method numbers → names, for messages about entries we cannot read. */
const METHOD_NAMES: Readonly<Record<number, string>> = { 0: 'stored', 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz' };

export class ZipArchive {
  private constructor(readonly file: RandomAccessFile, readonly entries: ReadonlyMap<string, ZipEntry>) {}

  /** Parses the directory of `file` (which stays owned by the caller). */
  static open(file: RandomAccessFile): ZipArchive {
    return new ZipArchive(file, readDirectory(file));
  }

  /**
   * Where a stored (uncompressed) entry's bytes lie, for positional reads. Compressed entries are
   * refused: tensor data must be readable in place, row range by row range.
   */
  storedRange(name: string): { offset: number; length: number } {
    const entry = this.entries.get(name);
    if (!entry) throw new FormatError(`${this.file.path}: zip entry "${name}" is missing`);
    if (entry.method !== 0) {
      const method = METHOD_NAMES[entry.method] ?? `method ${entry.method}`;
      throw new FormatError(`${this.file.path}: zip entry "${name}" is compressed (${method}); only stored (uncompressed) entries are supported, as torch.save writes them`);
    }
    return { offset: entry.dataOffset, length: entry.size };
  }

  /** Reads a small stored entry whole (e.g. data.pkl), refusing more than `maxBytes`, and checks its CRC-32. */
  readSmall(name: string, maxBytes: number): Uint8Array {
    const { offset, length } = this.storedRange(name);
    if (length > maxBytes) throw new FormatError(`${this.file.path}: zip entry "${name}" is ${length} bytes, more than the ${maxBytes}-byte limit`);
    const bytes = this.file.read(offset, length);
    const expected = this.entries.get(name)!.crc32;
    const actual = crc32(bytes);
    if (actual !== expected) {
      throw new FormatError(`${this.file.path}: zip entry "${name}" fails its CRC-32 check (stored ${hex(expected)}, computed ${hex(actual)}); the file is corrupt`);
    }
    return bytes;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Little-endian field reader over one buffer that was read from the file at `base`. */
class Fields {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, private readonly where: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u16(at: number): number { return this.view.getUint16(at, true); }
  u32(at: number): number { return this.view.getUint32(at, true); }
  u64(at: number, field: string): number {
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${this.where}: zip ${field} ${v} is impossibly large`);
    return Number(v);
  }
}

interface Directory { entries: number; size: number; offset: number; end: number }

function readDirectory(file: RandomAccessFile): Map<string, ZipEntry> {
  const where = file.path;
  const dir = findDirectory(file);
  if (dir.size > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw new FormatError(`${where}: zip central directory of ${dir.size} bytes exceeds the ${MAX_CENTRAL_DIRECTORY_BYTES}-byte limit`);
  }
  if (dir.offset + dir.size > dir.end) {
    throw new FormatError(`${where}: zip central directory (offset ${dir.offset}, ${dir.size} bytes) runs past its end record at ${dir.end} (truncated or corrupt file)`);
  }
  if (dir.entries * CENTRAL_SIZE > dir.size) {
    throw new FormatError(`${where}: zip claims ${dir.entries} entries but its central directory has only ${dir.size} bytes`);
  }
  const cd = new Fields(file.read(dir.offset, dir.size), where);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < dir.entries; i++) {
    const bad = (what: string) => new FormatError(`${where}: zip central directory entry ${i}: ${what}`);
    if (at + CENTRAL_SIZE > dir.size) throw bad('runs past the end of the central directory');
    if (cd.u32(at) !== CENTRAL_SIG) throw bad(`bad signature ${hex(cd.u32(at))} at offset ${dir.offset + at}`);
    const flags = cd.u16(at + 8);
    const method = cd.u16(at + 10);
    const crc = cd.u32(at + 16);
    let compressedSize = cd.u32(at + 20);
    let size = cd.u32(at + 24);
    const nameLength = cd.u16(at + 28);
    const extraLength = cd.u16(at + 30);
    const commentLength = cd.u16(at + 32);
    const disk = cd.u16(at + 34);
    let localOffset = cd.u32(at + 42);
    const next = at + CENTRAL_SIZE + nameLength + extraLength + commentLength;
    if (next > dir.size) throw bad('its name, extra field or comment runs past the end of the central directory');
    const nameBytes = cd.bytes.subarray(at + CENTRAL_SIZE, at + CENTRAL_SIZE + nameLength);
    let name: string;
    try {
      name = decoder.decode(nameBytes);
    } catch {
      throw bad('name is not valid UTF-8');
    }
    if (flags & 1) throw bad(`"${name}" is encrypted`);
    // ZIP64: fields saturated at 0xFFFF… are stored, in this order, in the 0x0001 extra field.
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff || disk === 0xffff) {
      const zip64 = findExtra(cd, at + CENTRAL_SIZE + nameLength, extraLength, ZIP64_EXTRA_ID);
      if (!zip64) throw bad(`"${name}" has saturated sizes but no zip64 extra field`);
      let p = zip64.start;
      const take = (field: string): number => {
        if (p + 8 > zip64.end) throw bad(`"${name}": zip64 extra field too short for the ${field}`);
        const v = cd.u64(p, field);
        p += 8;
        return v;
      };
      if (size === 0xffffffff) size = take('size');
      if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
      if (localOffset === 0xffffffff) localOffset = take('local header offset');
    }
    if (disk !== 0 && disk !== 0xffff) throw bad(`"${name}" lies on disk ${disk}; multi-disk archives are not supported`);
    if (entries.has(name)) throw bad(`duplicate entry "${name}"`);
    const dataOffset = localDataOffset(file, nameBytes, localOffset, dir.offset);
    if (dataOffset + compressedSize > dir.offset) {
      throw bad(`"${name}": ${compressedSize} data bytes at offset ${dataOffset} run past the start of the central directory at ${dir.offset} (truncated or corrupt file)`);
    }
    if (method === 0 && size !== compressedSize) throw bad(`"${name}" is stored but its size ${size} differs from its stored size ${compressedSize}`);
    entries.set(name, { name, method, crc32: crc, compressedSize, size, dataOffset });
    at = next;
  }
  return entries;
}

/** Finds the (ZIP64) end of central directory record within the last 64 KiB + 22 bytes. */
function findDirectory(file: RandomAccessFile): Directory {
  const where = file.path;
  if (file.size < EOCD_SIZE) throw new FormatError(`${where}: not a zip archive (${file.size} bytes, too short for an end record)`);
  const tailLength = Math.min(file.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = file.size - tailLength;
  const tail = new Fields(file.read(tailStart, tailLength), where);
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tail.u32(i) === EOCD_SIG && i + EOCD_SIZE + tail.u16(i + 20) <= tailLength) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new FormatError(`${where}: no zip end-of-central-directory record in the last ${tailLength} bytes (truncated or not a zip archive)`);
  const eocdOffset = tailStart + eocd;
  if (tail.u16(eocd + 4) !== 0 || tail.u16(eocd + 6) !== 0) throw new FormatError(`${where}: multi-disk zip archives are not supported`);
  const dir: Directory = { entries: tail.u16(eocd + 10), size: tail.u32(eocd + 12), offset: tail.u32(eocd + 16), end: eocdOffset };
  // torch always writes the ZIP64 records; a locator sits right before the classic end record.
  const locatorOffset = eocdOffset - EOCD64_LOCATOR_SIZE;
  const hasLocator = locatorOffset >= 0 && new Fields(file.read(locatorOffset, 4), where).u32(0) === EOCD64_LOCATOR_SIG;
  if (!hasLocator) {
    const saturated = dir.entries === 0xffff || dir.size === 0xffffffff || dir.offset === 0xffffffff;
    if (saturated) throw new FormatError(`${where}: zip end record needs ZIP64 values but there is no ZIP64 locator`);
    return dir;
  }
  const locator = new Fields(file.read(locatorOffset, EOCD64_LOCATOR_SIZE), where);
  const record = locator.u64(8, 'ZIP64 end record offset');
  if (record + EOCD64_SIZE > locatorOffset) {
    throw new FormatError(`${where}: ZIP64 end record offset ${record} lies past the locator at ${locatorOffset} (truncated or corrupt file)`);
  }
  const r = new Fields(file.read(record, EOCD64_SIZE), where);
  if (r.u32(0) !== EOCD64_SIG) throw new FormatError(`${where}: bad ZIP64 end record signature ${hex(r.u32(0))} at offset ${record}`);
  if (r.u32(16) !== 0 || r.u32(20) !== 0) throw new FormatError(`${where}: multi-disk zip archives are not supported`);
  return {
    entries: r.u64(32, 'entry count'),
    size: r.u64(40, 'central directory size'),
    offset: r.u64(48, 'central directory offset'),
    end: record,
  };
}

/** The [start, end) of extra field `id`'s payload within an extra-field block, if present. */
function findExtra(f: Fields, start: number, length: number, id: number): { start: number; end: number } | undefined {
  let p = start;
  const end = start + length;
  while (p + 4 <= end) {
    const fieldId = f.u16(p);
    const size = f.u16(p + 2);
    if (p + 4 + size > end) return undefined;
    if (fieldId === id) return { start: p + 4, end: p + 4 + size };
    p += 4 + size;
  }
  return undefined;
}

/** Reads a local header (its sizes may be zero: torch sets the data-descriptor flag) to find where data begins. */
function localDataOffset(file: RandomAccessFile, name: Uint8Array, offset: number, limit: number): number {
  const where = file.path;
  const label = new TextDecoder().decode(name);
  const headerLength = LOCAL_SIZE + name.length;
  if (offset + headerLength > limit) {
    throw new FormatError(`${where}: zip entry "${label}": local header offset ${offset} lies past the start of the central directory at ${limit}`);
  }
  // One read for the fixed header and the name, which must repeat the central directory's.
  const h = new Fields(file.read(offset, headerLength), where);
  if (h.u32(0) !== LOCAL_SIG) throw new FormatError(`${where}: zip entry "${label}": bad local header signature ${hex(h.u32(0))} at offset ${offset}`);
  const nameLength = h.u16(26);
  const extraLength = h.u16(28);
  if (nameLength !== name.length || !h.bytes.subarray(LOCAL_SIZE).every((b, i) => b === name[i])) {
    throw new FormatError(`${where}: zip entry "${label}": its local header at ${offset} names a different entry`);
  }
  const dataOffset = offset + LOCAL_SIZE + nameLength + extraLength;
  if (dataOffset > limit) throw new FormatError(`${where}: zip entry "${label}": local header at ${offset} runs past the start of the central directory`);
  return dataOffset;
}
