/**
 * Test-only reader for the tokenizer arrays of a GGUF (v2/v3) file: just enough of the format to pull
 * `tokenizer.ggml.tokens` / `scores` / `token_type` out of llama.cpp's vocab-only files. Every other
 * metadata value is skipped by its type; tensor infos and data are never read.
 */
import fs from 'node:fs';

export interface GgufVocab {
  version: number;
  /** Every metadata key in file order (for assertions and debugging). */
  keys: string[];
  model: string | undefined;
  tokens: string[];
  scores: number[] | undefined;
  tokenTypes: number[] | undefined;
}

// GGUF metadata value types.
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

class Cursor {
  offset = 0;
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array, readonly file: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.#bytes.byteLength) throw new Error(`${this.file}: truncated reading ${what} at byte ${this.offset}`);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.#view.getInt32(this.offset, true);
    this.offset += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.#view.getFloat32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.#view.getBigUint64(this.offset, true);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.file}: ${what} ${v} is too large`);
    return Number(v);
  }
  string(what: string): string {
    const n = this.u64(`${what} length`);
    this.need(n, what);
    const s = Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset + this.offset, n).toString('utf8');
    this.offset += n;
    return s;
  }
  skip(type: number, what: string): void {
    if (type === T.STRING) {
      const n = this.u64(`${what} length`);
      this.need(n, what);
      this.offset += n;
    } else if (type === T.ARRAY) {
      const inner = this.u32(`${what} element type`);
      const count = this.u64(`${what} count`);
      if (FIXED_SIZE[inner] !== undefined) {
        this.need(count * FIXED_SIZE[inner], what);
        this.offset += count * FIXED_SIZE[inner];
      } else {
        for (let i = 0; i < count; i++) this.skip(inner, `${what}[${i}]`);
      }
    } else if (FIXED_SIZE[type] !== undefined) {
      this.need(FIXED_SIZE[type], what);
      this.offset += FIXED_SIZE[type];
    } else {
      throw new Error(`${this.file}: unknown GGUF value type ${type} for ${what}`);
    }
  }
}

export function readGgufVocab(file: string): GgufVocab {
  const c = new Cursor(fs.readFileSync(file), file);
  if (c.u32('magic') !== 0x46554747) throw new Error(`${file}: not a GGUF file (bad magic)`);
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw new Error(`${file}: GGUF version ${version} not supported (2 or 3)`);
  c.u64('tensor count');
  const kvCount = c.u64('metadata count');
  const out: GgufVocab = { version, keys: [], model: undefined, tokens: [], scores: undefined, tokenTypes: undefined };

  const readArray = <V>(key: string, type: number, element: number, read: () => V): V[] | undefined => {
    if (type !== T.ARRAY) throw new Error(`${file}: ${key} is not an array`);
    const inner = c.u32(`${key} element type`);
    if (inner !== element) throw new Error(`${file}: ${key} has element type ${inner}, expected ${element}`);
    const count = c.u64(`${key} count`);
    const values: V[] = [];
    for (let i = 0; i < count; i++) values.push(read());
    return values;
  };

  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`);
    const type = c.u32(`${key} type`);
    out.keys.push(key);
    if (key === 'tokenizer.ggml.tokens') out.tokens = readArray(key, type, T.STRING, () => c.string(key)) ?? [];
    else if (key === 'tokenizer.ggml.scores') out.scores = readArray(key, type, T.F32, () => c.f32(key));
    else if (key === 'tokenizer.ggml.token_type') out.tokenTypes = readArray(key, type, T.I32, () => c.i32(key));
    else if (key === 'tokenizer.ggml.model' && type === T.STRING) out.model = c.string(key);
    else c.skip(type, key);
  }
  return out;
}

/** Reads llama.cpp's `.inp` test strings (each followed by a `__ggml_vocab_test__` separator line). */
export function readVocabTestInputs(file: string): string[] {
  const parts = fs.readFileSync(file, 'utf8').split('\n__ggml_vocab_test__\n');
  if (parts.at(-1) !== '') throw new Error(`${file}: does not end with the separator line`);
  return parts.slice(0, -1);
}

/** Reads llama.cpp's `.out` file: one line of space-separated ids per test string. */
export function readVocabTestOutputs(file: string): number[][] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => line.split(' ').filter((s) => s !== '').map(Number));
}
