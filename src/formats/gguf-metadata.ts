import { FormatError } from '../errors.js';

/**
 * GGUF metadata values, typed as the file stores them: the value type is kept next to the value so
 * that a file can be rewritten exactly (u32 2048 and i32 2048 are different bytes). 64-bit integers
 * are bigints; every other number is a JS number (f32 values are the exact f32 read from the file).
 */
export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufBigIntType = 'u64' | 'i64';

export type GgufScalar =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: GgufBigIntType; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string };

/** Arrays hold one scalar type (GGUF allows nested arrays; llama.cpp does not, and neither do we). */
export type GgufArray =
  | { readonly type: 'array'; readonly itemType: GgufNumberType; readonly value: readonly number[] }
  | { readonly type: 'array'; readonly itemType: GgufBigIntType; readonly value: readonly bigint[] }
  | { readonly type: 'array'; readonly itemType: 'bool'; readonly value: readonly boolean[] }
  | { readonly type: 'array'; readonly itemType: 'string'; readonly value: readonly string[] };

export type GgufValue = GgufScalar | GgufArray;

/** Metadata in file order (a Map keeps insertion order, which the writer preserves). */
export type GgufMetadata = ReadonlyMap<string, GgufValue>;

/** Constructors, so call sites read like the file: `gv.u32(2048)`, `gv.strings(tokens)`. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: 'u8', value }),
  i8: (value: number): GgufValue => ({ type: 'i8', value }),
  u16: (value: number): GgufValue => ({ type: 'u16', value }),
  i16: (value: number): GgufValue => ({ type: 'i16', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  f64: (value: number): GgufValue => ({ type: 'f64', value }),
  u64: (value: bigint): GgufValue => ({ type: 'u64', value }),
  i64: (value: bigint): GgufValue => ({ type: 'i64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  string: (value: string): GgufValue => ({ type: 'string', value }),
  numbers: (itemType: GgufNumberType, value: readonly number[]): GgufValue => ({ type: 'array', itemType, value }),
  bigints: (itemType: GgufBigIntType, value: readonly bigint[]): GgufValue => ({ type: 'array', itemType, value }),
  bools: (value: readonly boolean[]): GgufValue => ({ type: 'array', itemType: 'bool', value }),
  strings: (value: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', value }),
};

const INTEGER_TYPES: ReadonlySet<string> = new Set(['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64']);

/** How a value's type is spelled in messages: `u32`, `array of string`. */
export function describeValueType(v: GgufValue): string {
  return v.type === 'array' ? `array of ${v.itemType}` : v.type;
}

/**
 * Typed, checked access to a file's metadata: each getter returns undefined when the key is absent
 * and throws a one-line FormatError naming the file and key when it holds another type.
 */
export class GgufMetadataReader {
  constructor(readonly entries: GgufMetadata, private readonly where: string) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): GgufValue | undefined {
    return this.entries.get(key);
  }

  string(key: string): string | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'string') throw this.wrongType(key, v, 'a string');
    return v.value;
  }

  /** Any integer type, as a number (64-bit values must be safe integers). */
  integer(key: string): number | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (!INTEGER_TYPES.has(v.type)) throw this.wrongType(key, v, 'an integer');
    return this.safeNumber(key, v.value as number | bigint);
  }

  /** f32, f64 or an integer type, as a number. */
  number(key: string): number | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'f32' && v.type !== 'f64' && !INTEGER_TYPES.has(v.type)) throw this.wrongType(key, v, 'a number');
    return this.safeNumber(key, v.value as number | bigint);
  }

  bool(key: string): boolean | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'bool') throw this.wrongType(key, v, 'a bool');
    return v.value;
  }

  strings(key: string): readonly string[] | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'array' || v.itemType !== 'string') throw this.wrongType(key, v, 'an array of strings');
    return v.value;
  }

  /** An array of any integer or float type, as numbers. */
  numbers(key: string): readonly number[] | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'array' || v.itemType === 'string' || v.itemType === 'bool') throw this.wrongType(key, v, 'an array of numbers');
    if (v.itemType === 'u64' || v.itemType === 'i64') return v.value.map((x) => this.safeNumber(key, x));
    return v.value as readonly number[];
  }

  private safeNumber(key: string, x: number | bigint): number {
    if (typeof x === 'number') return x;
    if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError(`${this.where}: metadata "${key}" = ${x} is too large`);
    }
    return Number(x);
  }

  private wrongType(key: string, v: GgufValue, expected: string): FormatError {
    return new FormatError(`${this.where}: metadata "${key}" must be ${expected}, got ${describeValueType(v)}`);
  }
}
