/**
 * Test-only GGUF (v2/v3) tensor reader: just enough of the format to pull raw tensors out of the
 * xverse-tiny fixture files and compare them with our quantizer and forward pass. Metadata values
 * are skipped by type (only `general.alignment` is read); the whole file is read into memory.
 *
 * Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata
 * (string key, u32 type, value), the tensor infos (string name, u32 n_dims, u64 dims[n_dims] with
 * dims[0] = ne0 = the fastest-varying axis = columns, u32 ggml type, u64 offset into the data
 * section), then the data section, which starts at the next multiple of `general.alignment`
 * (default 32) after the infos.
 */
import fs from 'node:fs';
import type { TensorType } from '../../src/tensor/dtype.js';
import { byteSize } from '../../src/tensor/tensor.js';

export interface GgufTensor {
  name: string;
  type: TensorType;
  /** Row-major shape, outermost first: GGUF dims reversed ([ne1, ne0] = [rows, cols] for a matrix). */
  shape: number[];
  /** The tensor's bytes: raw blocks for q8_0/q4_0, little-endian values for f32/f16. */
  bytes: Uint8Array;
}

// GGUF metadata value types and the sizes of the fixed-size ones.
const STRING = 8;
const ARRAY = 9;
const U32 = 4;
const FIXED_SIZE: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
// ggml_type ids of the tensor types this reader understands.
const GGML_TYPES: Readonly<Record<number, TensorType>> = { 0: 'f32', 1: 'f16', 2: 'q4_0', 8: 'q8_0', 30: 'bf16' };

class Cursor {
  offset = 0;
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string): void {
    if (this.offset + n > this.bytes.byteLength) throw new Error(`${this.file}: truncated reading ${what} at byte ${this.offset}`);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.file}: ${what} ${v} is too large`);
    return Number(v);
  }
  string(what: string): string {
    const n = this.u64(`${what} length`);
    this.need(n, what);
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.offset, n).toString('utf8');
    this.offset += n;
    return s;
  }
  skip(type: number, what: string): void {
    if (type === STRING) {
      this.string(what);
    } else if (type === ARRAY) {
      const inner = this.u32(`${what} element type`);
      const count = this.u64(`${what} count`);
      for (let i = 0; i < count; i++) this.skip(inner, `${what}[${i}]`);
    } else {
      const size = FIXED_SIZE[type];
      if (size === undefined) throw new Error(`${this.file}: unknown GGUF value type ${type} for ${what}`);
      this.need(size, what);
      this.offset += size;
    }
  }
}

/** Reads every tensor of a GGUF file, in file order. */
export function readGgufTensors(file: string): GgufTensor[] {
  const c = new Cursor(new Uint8Array(fs.readFileSync(file)), file);
  if (c.u32('magic') !== 0x46554747) throw new Error(`${file}: not a GGUF file (bad magic)`);
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw new Error(`${file}: GGUF version ${version} not supported`);
  const tensorCount = c.u64('tensor count');
  const kvCount = c.u64('metadata count');
  let alignment = 32;
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`);
    const type = c.u32(`${key} type`);
    if (key === 'general.alignment' && type === U32) alignment = c.u32(key);
    else c.skip(type, key);
  }
  const infos: Array<{ name: string; type: TensorType; shape: number[]; offset: number }> = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor ${i} name`);
    const nDims = c.u32(`${name} n_dims`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64(`${name} dim ${d}`));
    const id = c.u32(`${name} type`);
    const type = GGML_TYPES[id];
    if (!type) throw new Error(`${file}: tensor ${name} has ggml type ${id}, which this reader does not know`);
    infos.push({ name, type, shape: dims.reverse(), offset: c.u64(`${name} offset`) });
  }
  const dataStart = Math.ceil(c.offset / alignment) * alignment;
  return infos.map(({ name, type, shape, offset }) => {
    const start = dataStart + offset;
    const size = byteSize(type, shape);
    if (start + size > c.bytes.byteLength) throw new Error(`${file}: tensor ${name} runs past the end of the file`);
    return { name, type, shape, bytes: c.bytes.subarray(start, start + size) };
  });
}

/** The tensors of a GGUF file by name. */
export function ggufTensorMap(file: string): Map<string, GgufTensor> {
  return new Map(readGgufTensors(file).map((t) => [t.name, t]));
}

/** A GGUF f32 tensor's values (copied, so the result is aligned). */
export function ggufF32(t: GgufTensor): Float32Array {
  if (t.type !== 'f32') throw new Error(`tensor ${t.name} is ${t.type}, not f32`);
  return new Float32Array(t.bytes.slice().buffer);
}
