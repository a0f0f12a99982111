import fs from 'node:fs';

/**
 * Writes zip archives laid out like torch.save's (stored entries, a ZIP64 end record and locator
 * before the classic end record), with knobs to produce what torch never writes: compressed
 * methods, zip64 extra fields, lying sizes. Independent of src/formats/zip.ts on purpose.
 */

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Compression method to claim (data is written as given); default 0 = stored. */
  method?: number;
  /** Put sizes and offset in a zip64 extra field (central fields saturated to 0xFFFFFFFF). */
  zip64Extra?: boolean;
  /** Overrides the size recorded in the central directory. */
  claimedSize?: number;
  /** Overrides the CRC-32 recorded in the central directory. */
  claimedCrc?: number;
}

export interface ZipOptions {
  /** Write the ZIP64 end record + locator, as torch does (default true). */
  zip64End?: boolean;
  comment?: Uint8Array;
}

/** Bit-by-bit CRC-32 (IEEE), deliberately not the table version the reader uses. */
export function crc32Bitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

class Out {
  readonly chunks: Buffer[] = [];
  length = 0;
  bytes(b: Uint8Array | Buffer): void {
    const buf = Buffer.from(b);
    this.chunks.push(buf);
    this.length += buf.length;
  }
  u16(v: number): void { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.bytes(b); }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.bytes(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.bytes(b); }
}

export function zipBytes(inputs: readonly ZipInput[], options: ZipOptions = {}): Uint8Array {
  const out = new Out();
  const offsets: number[] = [];
  for (const e of inputs) {
    const name = Buffer.from(e.name, 'utf8');
    offsets.push(out.length);
    // Local header with the data-descriptor flag and zero sizes, like torch (miniz) writes.
    out.u32(0x04034b50); out.u16(0); out.u16(0x0808); out.u16(e.method ?? 0); out.u16(0); out.u16(0);
    out.u32(0); out.u32(0); out.u32(0); out.u16(name.length); out.u16(0);
    out.bytes(name);
    out.bytes(e.data);
  }
  const cdStart = out.length;
  inputs.forEach((e, i) => {
    const name = Buffer.from(e.name, 'utf8');
    const size = e.claimedSize ?? e.data.length;
    const extra = new Out();
    if (e.zip64Extra) {
      extra.u16(0x0001); extra.u16(24); extra.u64(size); extra.u64(size); extra.u64(offsets[i]!);
    }
    out.u32(0x02014b50); out.u16(0); out.u16(0); out.u16(0x0808); out.u16(e.method ?? 0); out.u16(0); out.u16(0);
    out.u32(e.claimedCrc ?? crc32Bitwise(e.data));
    out.u32(e.zip64Extra ? 0xffffffff : size); out.u32(e.zip64Extra ? 0xffffffff : size);
    out.u16(name.length); out.u16(extra.length); out.u16(0); out.u16(0); out.u16(0); out.u32(0);
    out.u32(e.zip64Extra ? 0xffffffff : offsets[i]!);
    out.bytes(name);
    for (const c of extra.chunks) out.bytes(c);
  });
  const cdSize = out.length - cdStart;
  if (options.zip64End ?? true) {
    const record = out.length;
    out.u32(0x06064b50); out.u64(44); out.u16(0x031e); out.u16(45); out.u32(0); out.u32(0);
    out.u64(inputs.length); out.u64(inputs.length); out.u64(cdSize); out.u64(cdStart);
    out.u32(0x07064b50); out.u32(0); out.u64(record); out.u32(1);
  }
  const comment = options.comment ?? new Uint8Array(0);
  out.u32(0x06054b50); out.u16(0); out.u16(0); out.u16(inputs.length); out.u16(inputs.length);
  out.u32(cdSize); out.u32(cdStart); out.u16(comment.length);
  out.bytes(comment);
  return Buffer.concat(out.chunks);
}

export interface TorchArchive {
  /** Top folder of the entries (torch uses the file stem, or "archive"). */
  prefix?: string;
  pickle: Uint8Array;
  /** Storage key → raw little-endian bytes (entry <prefix>/data/<key>). */
  storages?: ReadonlyMap<string, Uint8Array> | Record<string, Uint8Array>;
  /** Per-storage overrides (e.g. a compression method). */
  storageOptions?: Partial<ZipInput>;
  zip?: ZipOptions;
}

/** Writes `file` as torch.save would: <prefix>/data.pkl, <prefix>/data/<key>…, <prefix>/version. */
export function writeTorchArchive(file: string, archive: TorchArchive): string {
  const prefix = archive.prefix ?? 'archive';
  const storages = archive.storages instanceof Map ? [...archive.storages] : Object.entries(archive.storages ?? {});
  const inputs: ZipInput[] = [
    { name: `${prefix}/data.pkl`, data: archive.pickle },
    ...storages.map(([key, data]) => ({ ...archive.storageOptions, name: `${prefix}/data/${key}`, data })),
    { name: `${prefix}/version`, data: Buffer.from('3\n') },
  ];
  fs.writeFileSync(file, zipBytes(inputs, archive.zip));
  return file;
}
